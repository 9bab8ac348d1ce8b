"""The runtime's own tables, and every statement on them: one owner.

A consuming service keeps, beside its projections, the bookkeeping of its consumers — the
stored offsets (with each partition's time watermark), the processed event ids, the dead
letters — and its outbox. The consumer, the outbox relay, the builder, the monitor, the
service and the CLI read and write these tables only through the functions here, each taking
the connection (so the caller's transaction) and the schema the tables are in: the service's
own, or a projection generation's (``services.runtime.generations``).

Modules: ``names`` (the check on a name written into SQL), ``consumers`` (offsets, processed
events, dead letters), ``outbox``, ``locks`` (advisory locks, probes), ``generations`` (the
registry of projection generations), ``vault`` (the personal-data vault's keys).
"""

from services.runtime.store.consumers import (
    GENERIC_PLANS,
    claim,
    consumer_tables_sql,
    dead_letters_recorded,
    forget_consumers,
    group_applied,
    group_offsets,
    mark_applied,
    mark_applied_many,
    record_dead_letter,
    reset_local_search_path,
    set_local_search_path,
    store_offsets,
    stored_offsets,
    stored_positions,
    unclaim,
)
from services.runtime.store.locks import (
    fence,
    lock,
    lock_for_transaction,
    migrating,
    ping,
    run_script,
    table_exists,
    try_lock,
    unlock,
)
from services.runtime.store.names import checked
from services.runtime.store.outbox import (
    begin_deciding,
    in_outbox,
    insert_outbox,
    mark_published,
    outbox_backlog,
    outbox_table_sql,
    unpublished,
)

__all__ = [
    "GENERIC_PLANS",
    "begin_deciding",
    "checked",
    "claim",
    "consumer_tables_sql",
    "dead_letters_recorded",
    "fence",
    "forget_consumers",
    "group_applied",
    "group_offsets",
    "in_outbox",
    "insert_outbox",
    "lock",
    "lock_for_transaction",
    "mark_applied",
    "mark_applied_many",
    "mark_published",
    "migrating",
    "outbox_backlog",
    "outbox_table_sql",
    "ping",
    "record_dead_letter",
    "reset_local_search_path",
    "run_script",
    "set_local_search_path",
    "store_offsets",
    "stored_offsets",
    "stored_positions",
    "table_exists",
    "try_lock",
    "unclaim",
    "unlock",
    "unpublished",
]
