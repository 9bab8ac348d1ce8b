"""The platform's time zone: China Standard Time.

Days in reports, the times that pages and messages show, and an instant given without an
offset are all in it, whatever the server's zone. (A business calendar or an office policy
may name its own zone in its file; today every one names this.)
"""

from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
"""Asia/Shanghai: UTC+8 all year."""
