"""Enumerations shared by all services: English names in code, zh-CN labels beside them."""

from enum import StrEnum


class _Labelled(StrEnum):
    """A string enum whose members carry the zh-CN word the users speak."""

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _LABELS[self]

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Every member's value with its zh-CN label, in declaration order."""
        return {member.value: member.label for member in cls}


class Channel(_Labelled):
    """How a complaint reached the company."""

    HOTLINE = "hotline"
    APP = "app"
    SUPERVISION = "supervision"
    FRONT_DESK = "front_desk"

    @property
    def is_over_the_head(self) -> bool:
        """The supervision line bypasses the office: such a complaint is escalated over the head."""
        return self is Channel.SUPERVISION


class Validity(_Labelled):
    """Whether a complaint is founded (判断投诉是否成立)."""

    VALID = "valid"
    ASSIST = "assist"
    INVALID = "invalid"


class ServiceCategory(_Labelled):
    """The 11 service categories of a complaint's content (投诉内容分类)."""

    FACILITIES = "facilities"
    SECURITY = "security"
    FIRE_SAFETY = "fire_safety"
    VEHICLES_TRAFFIC = "vehicles_traffic"
    ENVIRONMENT = "environment"
    CONSTRUCTION = "construction"
    FEES = "fees"
    CLUBHOUSE = "clubhouse"
    CUSTOMER_SERVICE = "customer_service"
    HOME_SERVICE = "home_service"
    INTERNAL_MANAGEMENT = "internal_management"


class Priority(_Labelled):
    """How urgent a complaint is (轻重缓急): decides the order of the queue and may shorten its
    time limits (the SLA policy's ``priorities``)."""

    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"


_LABELS: dict[StrEnum, str] = {
    Channel.HOTLINE: "客服热线",
    Channel.APP: "业主APP",
    Channel.SUPERVISION: "服务监督热线",
    Channel.FRONT_DESK: "前台",
    Validity.VALID: "有效投诉",
    Validity.ASSIST: "协助处理投诉",
    Validity.INVALID: "无效投诉",
    ServiceCategory.FACILITIES: "设施设备维护",
    ServiceCategory.SECURITY: "安全服务",
    ServiceCategory.FIRE_SAFETY: "消防管理",
    ServiceCategory.VEHICLES_TRAFFIC: "车辆交通服务",
    ServiceCategory.ENVIRONMENT: "环境服务",
    ServiceCategory.CONSTRUCTION: "施工管理",
    ServiceCategory.FEES: "收费管理",
    ServiceCategory.CLUBHOUSE: "会所服务",
    ServiceCategory.CUSTOMER_SERVICE: "客户服务",
    ServiceCategory.HOME_SERVICE: "上门服务",
    ServiceCategory.INTERNAL_MANAGEMENT: "内部管理",
    Priority.URGENT: "紧急",
    Priority.NORMAL: "一般",
    Priority.LOW: "缓办",
}
