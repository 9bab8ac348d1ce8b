"""All of reporting's SQL: writing the projection's rows and reading them as of an instant.

Parameters always. The "as of" folding lives in two SQL functions of ``functions.sql``
(``reporting.complaint_states(T)`` and ``reporting.timer_alerts(T)``); the queries here select
from them for a period, an office or one complaint, or, for "now", from ``complaint_current``
(the same fold, kept by the projection as it writes).

Modules: ``writing`` (the projection's rows, a builder's bulk load), ``complaints`` (one
complaint, lists, counts), ``reports`` (the monthly report's and the dashboard's reads).
"""

from services.reporting.store.complaints import complaint, listed_complaints, stats
from services.reporting.store.reports import (
    PeriodRead,
    Reading,
    export_snapshot,
    hot_spots,
    import_snapshot,
    intake_by_channel,
    intake_complaints,
    kept_current,
    offices_seen,
    open_complaints,
    quoted_events,
    reading,
    report_counted,
    report_groups,
    report_named,
    report_rows,
    report_settings,
    timer_alerts,
)
from services.reporting.store.writing import (
    BULK_DROPPED,
    copy_rows,
    finish_bulk,
    fold_pending,
    write_rows,
)

__all__ = [
    "BULK_DROPPED",
    "PeriodRead",
    "Reading",
    "complaint",
    "copy_rows",
    "export_snapshot",
    "finish_bulk",
    "fold_pending",
    "hot_spots",
    "import_snapshot",
    "intake_by_channel",
    "intake_complaints",
    "kept_current",
    "listed_complaints",
    "offices_seen",
    "open_complaints",
    "quoted_events",
    "reading",
    "report_counted",
    "report_groups",
    "report_named",
    "report_rows",
    "report_settings",
    "stats",
    "timer_alerts",
    "write_rows",
]
