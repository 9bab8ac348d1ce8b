"""SLA's settings: the shared ``COMPLAINTS_*`` ones plus its port, policy, calendar and
notifications."""

from pathlib import Path
from urllib.parse import urlsplit

from services.runtime.settings import Environment, Problem, Settings, variable
from services.sla.notifications import NotificationConfigError, load_notifications

HERE = Path(__file__).parent
LOCAL_WORKBENCH_PORT = 8002  # the workflow service, whose pages are the staff workbench


class SlaSettings(Settings):
    """``COMPLAINTS_SLA_*``: port, policy and calendar files, scheduler timing;
    ``COMPLAINTS_NOTIFICATIONS_FILE``, who hears of which alert; ``COMPLAINTS_WORKBENCH_URL``,
    where the messages link to."""

    uses_staff_tokens = True  # every read carries a staff token

    sla_port: int = 8003
    sla_policy_file: Path = HERE / "policy.yaml"
    sla_calendar_file: Path = HERE / "calendar.yaml"
    # A deadline is judged once every stop decided before it is in the log: once the
    # watermark (contracts.watermarks) of each of these producers has passed it.
    sla_watermarks_from: list[str] = ["workflow"]
    # A producer that goes silent (its relay behind, or stopped) holds due timers where it
    # last said, for up to this long; beyond, it is taken for down and the grace below takes
    # over, so that alerts still go out (late by this much).
    sla_watermark_wait_s: float = 60.0
    # Without a watermark to wait for (none of those producers ever heard from, or silent
    # for longer than the wait), a deadline is judged this long after it passed, so that a
    # stop decided just before it (still on its way through another service's outbox) is
    # most likely seen first.
    sla_grace_s: float = 0.3
    # How often the scheduler looks for due timers when nothing wakes it sooner.
    sla_tick_s: float = 0.1
    # Who hears of which alert, through which group robot (services/sla/notifications.yaml);
    # checked at start with the secrets it names, in every mode.
    notifications_file: Path = HERE / "notifications.yaml"
    # How often the notifier's delivery worker looks for due deliveries.
    sla_notify_poll_s: float = 0.5
    # The staff workbench's base URL as the people in the robots' groups reach it
    # (COMPLAINTS_WORKBENCH_URL): each message ends with a link to the complaint there. Unset:
    # the local workflow service in local mode, else no link.
    workbench_url: str = ""

    @property
    def workbench_base_url(self) -> str | None:
        """The workbench's base URL for the messages' links, without a trailing slash."""
        if self.workbench_url:
            return self.workbench_url.rstrip("/")
        if self.env is Environment.LOCAL:
            return f"http://127.0.0.1:{LOCAL_WORKBENCH_PORT}"
        return None

    def problems(self) -> list[Problem]:
        """The shared checks, and the notifications file: each of its faults by field."""
        found = super().problems()
        if self.workbench_url:
            parts = urlsplit(self.workbench_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                found.append(
                    Problem(variable("workbench_url"), "must be an http(s) URL with a host")
                )
        try:
            load_notifications(self.notifications_file)
        except NotificationConfigError as exc:
            found += [
                Problem(variable("notifications_file"), f"{exc.path}: {p}") for p in exc.problems
            ]
        return found
