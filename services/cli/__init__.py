"""``complaints``: the operator's command line (``complaints --help``, ``complaints X --help``).

complaints token --staff-id 1001 --role cs_agent --office Y园
complaints lag [reporting] [--watch 2]
complaints rebuild reporting
complaints deadletters list | replay [--consumer C] [--offset N] [--dry-run]
complaints report monthly --from 2026-01-01 --to 2026-01-31 --format xlsx --output jan.xlsx
complaints repartition --to complaints.events.v2 --partitions 12
complaints what-if sla --policy other.yaml [--calendar other.yaml] --from 2026-01-01 --to 2026-02-28
complaints erase --phone 13812345678 --reason owner_request [--reference REQ-2026-17] --token …
complaints docs [--check]
complaints notifications list [--complaint ID] [--state dead] | retry DELIVERY_ID

It reads the same ``COMPLAINTS_*`` variables as the services (broker, database, topic names);
``report`` talks to the reporting service at ``COMPLAINTS_REPORTING_URL``, ``erase`` to the
workflow service at ``COMPLAINTS_WORKFLOW_URL``.
"""

# The command modules register their commands on ``app`` as they are imported: in this order,
# which is the order ``complaints --help`` lists them in.
from services.cli import lag, rebuild, deadletters, repartition, reports, whatif  # noqa: I001
from services.cli import credentials
from services.cli.common import app
from services.cli.deadletters import _dead_letter_row, _first_line
from services.cli.lag import LagRow, format_lag

__all__ = [
    "LagRow",
    "_dead_letter_row",
    "_first_line",
    "app",
    "credentials",
    "deadletters",
    "format_lag",
    "lag",
    "rebuild",
    "repartition",
    "reports",
    "whatif",
]
