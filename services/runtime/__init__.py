"""The plumbing every service needs, written once.

- ``settings``: one configuration surface (``COMPLAINTS_*`` environment variables).
- ``db``: the asyncpg pool and per-service schema migrations.
- ``kafka``: the idempotent producer, topic creation.
- ``consumer``: a projection consumer that stores Kafka offsets with its rows in one
  transaction, ignores duplicate events and dead-letters what it cannot process.
- ``http``: ``/healthz``, ``/readyz`` and ``/metrics`` for every service, one log line per request.
- ``logs``: JSON log lines carrying ``correlation_id`` and ``complaint_id``.
- ``monitor``: the computed gauges (consumer lag, rebuild progress, backlogs).
"""
