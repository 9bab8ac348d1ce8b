"""Service levels: the SLA events as the report's yes / no / not yet known."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple


class ServiceLevelFacts(NamedTuple):
    """What the log says of one complaint's first response and reply, as of some instant.

    Named tuples (these and ``ServiceLevels``): the monthly report makes two per complaint,
    and a frozen dataclass's ``__init__`` was a sixth of a company-wide report's Python time."""

    acknowledged: bool
    first_response_breached: bool
    replied: bool  # OwnerReplied or TimeCommitted
    reply_breached: bool  # SlaBreached(timer="reply", hard=False)
    reply_hard_breached: bool  # SlaBreached(timer="reply", hard=True)


class ServiceLevels(NamedTuple):
    """Yes, no, or not known yet (``None``) for each time limit of the procedure."""

    first_response_within_30min: bool | None
    replied_within_1_day: bool | None
    replied_within_3_days: bool | None


@cache
def service_levels(facts: ServiceLevelFacts) -> ServiceLevels:
    """The report's time-limit answers for one complaint.

    * first response within 30 minutes: no if the timer breached; yes if acknowledged without a
      breach; not known while neither.
    * replied within 1 working day: no if the reply timer breached (either limit: missing the
      hard one misses the target too); yes if replied without a breach; else not known.
    * replied within 3 working days: no if the hard limit breached; yes if replied without
      that; else not known.
    """

    def verdict(met: bool, missed: bool) -> bool | None:
        if missed:
            return False
        return True if met else None

    return ServiceLevels(
        first_response_within_30min=verdict(facts.acknowledged, facts.first_response_breached),
        replied_within_1_day=verdict(
            facts.replied, facts.reply_breached or facts.reply_hard_breached
        ),
        replied_within_3_days=verdict(facts.replied, facts.reply_hard_breached),
    )
