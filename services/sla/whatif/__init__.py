"""What if the SLA policy or the business calendar had been another? (issue 13, point 4)

``complaints what-if sla --policy other.yaml --from 2026-01-01 --to 2026-02-28`` and
``POST /v1/sla/what-if`` replay a period's history under other rules and compare, per office
and timer kind, the warnings and breaches as they were with those there would have been, and
name the complaints that change sides (breached before and not now, or the reverse).

How
    The log is replayed into a **scratch projection**, ``sla_whatif_<id>``, with the builder's
    own machinery: a ``ProjectionConsumer`` copy (``builder_copy``) writing only that schema,
    fed by ``replay_to_end`` up to where the log ends at the start, outside any consumer group.
    The consumer has no broker, so it can publish nothing (a record it cannot apply is only
    recorded); the projection (``WhatIfProjection``: SLA's own ``ClockProjection``, kept to the
    period's complaints) writes nothing but the scratch tables; the folds are pure. The
    scratch schema is dropped afterwards, whatever happens. Live tables are never written and
    not even read: everything comes from the log.

Which complaints, judged when
    The complaints *received in the period* (``ComplaintReceived.occurred_at``, days in China
    time, both ends inclusive, as in the monthly report). Each is folded (``timers.fold``) over
    its events up to ``until`` = the end of the period or the moment the log was read,
    whichever is earlier, and judged at ``until`` (``timers.owed``): a deadline falling after
    the period is not counted on either side.

"As they were" is the same fold under the live policy and calendar
    (the SLA service's, from ``COMPLAINTS_SLA_POLICY_FILE``/``..._CALENDAR_FILE``), over the same
    replayed history and judged at the same instant. So every difference shown comes from the
    rules alone, never from when the live scheduler happened to run, a policy in force earlier,
    or a deadline after the period. What the live service *really published* (the
    ``SlaWarning``/``SlaBreached`` of these complaints in the log, due by ``until``) is read by
    the same replay and set beside it as a check: ``published`` says how many breaches the log
    holds and lists every (complaint, timer) where it disagrees with the fold under the live
    rules — normally none; a disagreement means the live rules changed since, or the live
    scheduler has not judged that deadline yet.

Counts are complaints, not events: a complaint whose reply timer breached twice (reopened)
counts once for ``reply``; its hard breach counts in ``hard`` as well as in ``breached``.
A complaint moved to another office (``ComplaintOfficeTransferred``) counts each alert for the
office it belonged to at the alert's instant: its breaches before the transfer stay with the
old office, those after go to the new one (the company totals count it once).


Modules: ``inputs`` (the period, the other rules), ``judging`` (one complaint judged, the
comparison; pure), ``report``, ``projection`` (the scratch projection), ``store`` (the scratch
schema's SQL), ``replay`` (the replay and ``what_if``).
"""

from services.sla.whatif.inputs import (
    MAX_YAML_CHARS,
    Period,
    WhatIfInputError,
    parse_other_calendar,
    parse_other_policy,
)
from services.sla.whatif.judging import Outcome, compare, judged, judged_in_offices, published_check
from services.sla.whatif.replay import what_if

__all__ = [
    "MAX_YAML_CHARS",
    "Outcome",
    "Period",
    "WhatIfInputError",
    "compare",
    "judged",
    "judged_in_offices",
    "parse_other_calendar",
    "parse_other_policy",
    "published_check",
    "what_if",
]
