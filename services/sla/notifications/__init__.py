"""Notifications (通知): who hears of which alert, the robots' message shapes, their signatures.

Pure code, no I/O but reading the configuration file and the environment: the consumer that
turns alerts into deliveries and the worker that sends them are ``services.sla.notifier``.

An *alert* is one of four facts in the log, each delivered to the group robots of the people
responsible for it:

- ``warning``: ``SlaWarning`` (a timer used its warning share, 即将超时),
- ``breach``: ``SlaBreached`` (a deadline or its hard limit was missed, 超时),
- ``escalation``: the workflow's ``ComplaintEscalated`` (升级; the event names the level),
- ``major``: the workflow's ``MajorComplaintFlagged`` (重大投诉, by a rule or by hand).

Who gets what is data (``notifications.yaml``): *targets* are group robots, each of one office
(or of every office) and one role; *rules* say which roles hear of which alert kind. A target
is sent an alert when its role is in a matching rule and its office is the complaint's.

Messages are markdown in the JSON shape of the WeCom group robot (企业微信群机器人) or the
DingTalk custom robot (钉钉自定义机器人), and never carry personal data: the complaint id,
its office, what happened (timers by their zh-CN labels) and the deadline, and a link to the
complaint on the staff workbench — not the owner's name, phone or unit. Free text (the office
name) has its markdown metacharacters escaped.

Throttling: an answer that says the sender is over the robot's rate (HTTP 429, WeCom errcode
45009, DingTalk errcode 130101) is ``RobotAnswer.throttled``: the worker waits the robot's
block window out without counting an attempt.

Signatures: DingTalk's documented scheme (``timestamp`` in ms and
``sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))`` as query parameters). A
WeCom robot has no signature of its own (its URL's key is the credential), so every request
also carries ``X-Complaints-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``
and ``X-Complaints-Delivery: <delivery id>`` for a relay or receiver that checks them.

Modules: ``config`` (alert kinds, the file), ``messages`` (an alert's message, delivery ids),
``robots`` (payloads, signatures, answers, backoff).
"""

from services.sla.notifications.config import (
    ALERT_EVENTS,
    DEFAULT_FILE,
    OFFICE_EVENTS,
    AlertKind,
    Delivery,
    NotificationConfigError,
    Notifications,
    load_notifications,
    parse_notifications,
)
from services.sla.notifications.messages import alert_of, delivery_id, escape_markdown
from services.sla.notifications.robots import (
    RobotAnswer,
    backoff_s,
    complaints_signature,
    dingtalk_sign,
    payload,
    robot_answer,
    robot_error,
    signed_request,
)

__all__ = [
    "ALERT_EVENTS",
    "DEFAULT_FILE",
    "OFFICE_EVENTS",
    "AlertKind",
    "Delivery",
    "NotificationConfigError",
    "Notifications",
    "RobotAnswer",
    "alert_of",
    "backoff_s",
    "complaints_signature",
    "delivery_id",
    "dingtalk_sign",
    "escape_markdown",
    "load_notifications",
    "parse_notifications",
    "payload",
    "robot_answer",
    "robot_error",
    "signed_request",
]
