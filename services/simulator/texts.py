"""What owners complain about, in their words, grouped as seed 000's monthly report judged them.

Each topic knows how it would be judged (valid, assist or invalid) and, for a valid one, its
service category; the shares of ``KIND_SHARES`` and ``VALID_CATEGORY_COUNTS`` are seed 000's
(45 valid, 166 assist, 34 invalid; the valid ones by category as in its Attachment 2). The
simulator never sends the judgement: staff make it. It only makes the mix realistic.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import ServiceCategory, Validity

E = ServiceCategory


@dataclass(frozen=True)
class Topic:
    """One thing owners complain about."""

    kind: Validity
    category: ServiceCategory  # the judged one for valid, the owner's likely pick otherwise
    subject: str
    descriptions: tuple[str, ...]
    demands: tuple[str, ...]


KIND_SHARES = {Validity.VALID: 45, Validity.ASSIST: 166, Validity.INVALID: 34}
"""Seed 000, January–February: the complaints by how they were judged."""

VALID_CATEGORY_COUNTS = {
    E.ENVIRONMENT: 17,
    E.VEHICLES_TRAFFIC: 7,
    E.FACILITIES: 4,
    E.SECURITY: 4,
    E.CUSTOMER_SERVICE: 4,
    E.CONSTRUCTION: 3,
    E.FEES: 3,
    E.HOME_SERVICE: 3,
}
"""Seed 000's Attachment 2: the 45 valid complaints by service category."""

VALID = Validity.VALID
ASSIST = Validity.ASSIST
INVALID = Validity.INVALID

TOPICS: tuple[Topic, ...] = (
    # -- valid: the company's service fell short -------------------------------------------
    Topic(
        VALID,
        E.ENVIRONMENT,
        "外墙清洗",
        (
            "外墙清洗说好上个月做，到现在还没有进行，窗户外面全是灰",
            "外墙清洗没有按时进行，楼里好几户都有意见",
        ),
        ("给出外墙清洗的具体时间", "尽快安排外墙清洗"),
    ),
    Topic(
        VALID,
        E.ENVIRONMENT,
        "消杀不及时",
        (
            "小区消杀工作不及时，楼道和地下室蟑螂、蚊子特别多",
            "绿化带里老鼠很多，一个多月没见消杀",
        ),
        ("尽快做一次全面消杀", "公布消杀计划"),
    ),
    Topic(
        VALID,
        E.ENVIRONMENT,
        "垃圾清运",
        (
            "垃圾清理不及时、不彻底，垃圾桶数量少，满了溢到地上，很臭",
            "单元门口垃圾桶破烂没有及时更换，别的单元的垃圾也扔到这里",
        ),
        ("增加垃圾桶，每天按时清运", "更换破损垃圾桶"),
    ),
    Topic(
        VALID,
        E.ENVIRONMENT,
        "公共区域卫生",
        (
            "公共区域卫生较差，楼道很久没有拖过，扶手上都是灰",
            "电梯厢里有呕吐物一上午没人清理",
        ),
        ("加强保洁巡查", "按标准做好楼道保洁"),
    ),
    Topic(
        VALID,
        E.ENVIRONMENT,
        "背景音乐噪音",
        (
            "小区的背景音乐太吵，晚上九点以后还在放",
            "中心花园音响声音太大，家里关着窗都能听到",
        ),
        ("调小音量，晚上八点后关闭", "调整背景音乐的播放时间"),
    ),
    Topic(
        VALID,
        E.VEHICLES_TRAFFIC,
        "车辆乱停放",
        (
            "车辆管理不严格，公共区域和消防通道上乱停放的车越来越多",
            "外来车辆随便停在单元门口，救护车都进不来",
        ),
        ("加强车辆管理，清理乱停车辆",),
    ),
    Topic(
        VALID,
        E.VEHICLES_TRAFFIC,
        "私家车位被占用",
        (
            "私家车位被占用，挂在雪糕桶上的车位标识坏了也没人修",
            "下班回来自己的车位又被别人停了，找保安也不管",
        ),
        ("修复车位标识，处理占用车辆", "给私家车位装固定标牌"),
    ),
    Topic(
        VALID,
        E.VEHICLES_TRAFFIC,
        "车库车速",
        ("车库出入口车辆行驶速度太快，有安全隐患，差点撞到小孩",),
        ("设置减速带和提示牌",),
    ),
    Topic(
        VALID,
        E.FACILITIES,
        "车库漏水",
        (
            "车位上方的水管一直在滴水，已经反映好几个月了还没有解决",
            "地下车库顶板渗水，车上全是水渍",
        ),
        ("尽快维修水管", "查明漏水原因并维修"),
    ),
    Topic(
        VALID,
        E.FACILITIES,
        "电梯故障",
        ("电梯一周坏了两次，老人被困在里面二十分钟", "电梯运行时异响很大，门关不严"),
        ("彻底检修电梯", "请维保单位给出说法"),
    ),
    Topic(
        VALID,
        E.FACILITIES,
        "地漏盖破损",
        ("园区地漏盖破损未及时维修，下雨时泥沙杂物堵塞管道，路面积水",),
        ("更换地漏盖，疏通管道",),
    ),
    Topic(
        VALID,
        E.SECURITY,
        "外来人员管理",
        (
            "外来人员随意进出小区，门岗也不登记",
            "有推销人员挨家挨户敲门，保安说拦不住",
        ),
        ("加强门岗登记", "加强外来人员管控"),
    ),
    Topic(
        VALID,
        E.SECURITY,
        "巡逻不到位",
        ("晚上车棚的电动车电瓶被偷了，监控看不清，保安巡逻根本不到位",),
        ("调取监控，加强夜间巡逻",),
    ),
    Topic(
        VALID,
        E.CUSTOMER_SERVICE,
        "反映问题无人回复",
        (
            "报修三次都说会有人联系，到现在没有任何回复",
            "在前台登记的问题一个星期没有人跟进",
        ),
        ("给出明确的处理时间", "安排专人跟进回复"),
    ),
    Topic(
        VALID,
        E.CUSTOMER_SERVICE,
        "服务态度",
        ("客服人员态度冷淡，问什么都说不归我们管",),
        ("工作人员道歉并改进服务态度",),
    ),
    Topic(
        VALID,
        E.CONSTRUCTION,
        "开发商开门",
        ("为了会所消防验收，开发商在小区里开了四个门做疏散通道，外人随便进出",),
        ("封闭新开的门",),
    ),
    Topic(
        VALID,
        E.CONSTRUCTION,
        "施工围挡",
        ("小区改造的施工围挡占了人行道，晚上十点还在施工",),
        ("规范施工时间，留出通道",),
    ),
    Topic(
        VALID,
        E.FEES,
        "有偿服务收费",
        (
            "有偿维修的收费不合理，换个水龙头收了两百块",
            "节假日没有在小区停车，办了月卡还要交停车费",
        ),
        ("公示有偿服务收费标准", "退还不合理收费"),
    ),
    Topic(
        VALID,
        E.HOME_SERVICE,
        "上门维修",
        (
            "约好上午上门维修，师傅下午才来，也没提前说",
            "上门修了两次，卫生间还是漏水",
        ),
        ("按约定时间上门", "彻底修好"),
    ),
    # -- assist: everyday neighbour issues the office helps with -----------------------------
    Topic(
        ASSIST,
        E.CONSTRUCTION,
        "装修噪音",
        (
            "楼上装修，每天早上七点多就开始电钻，中午也不停，家里老人休息不好",
            "春节期间隔壁还在装修，敲打声音很大，灰尘也多",
        ),
        ("请管理处督促业主按规定时间施工", "监督装修时间"),
    ),
    Topic(
        ASSIST,
        E.ENVIRONMENT,
        "犬吠",
        ("隔壁邻居家的狗整夜叫，已经连续一周睡不好", "楼下的狗一有人经过就叫"),
        ("请物业出面协调", "提醒养狗的业主"),
    ),
    Topic(
        ASSIST,
        E.ENVIRONMENT,
        "宠物粪便",
        (
            "草坪和楼道里经常有狗粪，遛狗的业主不清理",
            "有业主遛狗不拴绳，孩子被吓哭了",
        ),
        ("加强文明养犬宣传", "找到狗主人提醒"),
    ),
    Topic(
        ASSIST,
        E.SECURITY,
        "高空抛物",
        (
            "楼上经常有牛奶盒、麻将从上空坠下，阳台玻璃被打碎",
            "有人从楼上往下扔烟头，楼下晾的被子烧了个洞",
        ),
        ("安装高空抛物摄像头并查明责任人", "查明是哪一户"),
    ),
    Topic(
        ASSIST,
        E.FACILITIES,
        "楼上渗水",
        (
            "楼上卫生间漏水，我家天花板发霉掉皮",
            "楼上洗衣机的水渗下来，墙面都湿了",
        ),
        ("请物业联系楼上业主维修", "协调楼上业主赔偿"),
    ),
    Topic(
        ASSIST,
        E.ENVIRONMENT,
        "楼上洒水",
        ("楼上阳台浇花，水滴到我家晾的衣服上", "楼上拖地的水从阳台往下流"),
        ("请物业提醒楼上业主",),
    ),
    Topic(
        ASSIST,
        E.CONSTRUCTION,
        "装修垃圾",
        ("邻居装修的垃圾堆在楼道里好几天了，影响通行",),
        ("督促尽快清运",),
    ),
    Topic(
        ASSIST,
        E.ENVIRONMENT,
        "儿童行为",
        (
            "放假了，小孩在楼道里追跑打闹，乱按电梯按钮",
            "有小孩在车库里骑车玩，很危险",
        ),
        ("提醒家长管好孩子",),
    ),
    Topic(
        ASSIST,
        E.ENVIRONMENT,
        "夜间噪音",
        ("楼上半夜拖动家具、敲打，声音很大", "对门业主深夜聚会唱歌"),
        ("请物业协调",),
    ),
    Topic(
        ASSIST,
        E.SECURITY,
        "楼道堆物",
        ("对门业主在楼道里堆放杂物和鞋柜，消防通道都堵了",),
        ("请物业通知清理",),
    ),
    # -- invalid: not founded; answer politely to clear the misunderstanding ------------------
    Topic(
        INVALID,
        E.FACILITIES,
        "停水",
        ("今天上午小区突然停水，也没有任何通知", "一早起来就没水，物业也不解释"),
        ("以后停水要提前通知",),
    ),
    Topic(
        INVALID,
        E.FACILITIES,
        "电梯停运",
        ("电梯停了一上午，说是在检查，爬楼太累了",),
        ("尽快恢复电梯",),
    ),
    Topic(
        INVALID,
        E.FEES,
        "物业费",
        ("我们的物业费为什么比隔壁小区贵", "今年物业费怎么涨了"),
        ("降低物业费", "解释收费依据"),
    ),
    Topic(
        INVALID,
        E.CUSTOMER_SERVICE,
        "快递柜收费",
        ("快递柜超时要收费，物业乱收费",),
        ("取消快递柜收费",),
    ),
    Topic(
        INVALID,
        E.ENVIRONMENT,
        "市政施工",
        ("小区门口的马路施工太吵，晚上也在挖",),
        ("让施工队停工",),
    ),
    Topic(
        INVALID,
        E.FACILITIES,
        "房屋质量",
        ("新房墙面开裂，物业应该负责修", "窗户漏风，物业给换一下"),
        ("物业负责维修",),
    ),
)


def topics_of(kind: Validity, category: ServiceCategory | None = None) -> list[Topic]:
    """The topics of one kind (and, for valid ones, one category)."""
    return [t for t in TOPICS if t.kind is kind and (category is None or t.category is category)]


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
TITLES = ("先生", "女士", "先生", "女士", "阿姨", "老师")

REPEAT_OPENINGS = ("上周已经反映过，至今没有解决：", "第二次投诉了：", "之前打过电话，还是老样子：")
SUPERVISION_OPENING = "业主称多次向管理处反映未果，致电公司服务监督热线："
HOTLINE_OPENING = "业主来电反映："
