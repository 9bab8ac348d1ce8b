"""Prometheus metrics shared by every service (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "complaints_events_published_total", "Events appended to the log", ["type"]
)
EVENTS_CONSUMED = Counter(
    "complaints_events_consumed_total", "Events applied by a consumer", ["consumer", "type"]
)
EVENTS_DUPLICATE = Counter(
    "complaints_events_duplicate_total", "Events ignored as already applied", ["consumer"]
)
EVENTS_PASSED = Counter(
    "complaints_events_passed_total",
    "Events a consumer passed unread: their type header names a type its projection ignores",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "complaints_dead_letters_total", "Messages sent to the dead-letter topic", ["consumer"]
)
CONSUMER_POSITION = Gauge(
    "complaints_consumer_next_offset",
    "Next offset a consumer will apply",
    ["consumer", "topic", "partition"],
)
BATCH_FAILURES = Counter(
    "complaints_consumer_batch_failures_total",
    "Attempts at a batch that failed for a reason not classed as transient (the consumer "
    "holds at the batch and retries; a rising count means it is stuck)",
    ["consumer"],
)
BATCH_SECONDS = Histogram(
    "complaints_consumer_batch_seconds",
    "Time to apply one batch in one transaction",
    ["consumer"],
)
HTTP_REQUESTS = Counter(
    "complaints_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "complaints_http_request_seconds", "HTTP request latency", ["service", "route"]
)
OUTBOX_BACKLOG = Gauge("complaints_outbox_backlog", "Decided events not yet published", ["schema"])
OUTBOX_WATERMARK = Gauge(
    "complaints_outbox_watermark_timestamp_seconds",
    "The relay's last watermark: every event decided before it is in the log (Unix time)",
    ["schema"],
)

# Refreshed every COMPLAINTS_METRICS_INTERVAL_S by services.runtime.monitor (consuming services).
# Offsets live in PostgreSQL, shared by every copy, so each copy reports the whole group's lag:
# aggregate with max by (consumer, partition), not sum.
CONSUMER_LAG = Gauge(
    "complaints_consumer_lag",
    "Events in the log not yet applied by the consumer group (end offset - stored offset)",
    ["consumer", "topic", "partition"],
)
CONSUMER_ASSIGNED = Gauge(
    "complaints_consumer_assigned_partitions",
    "Partitions Kafka assigned to this copy of the service",
    ["consumer"],
)
CONSUMER_PROGRESS = Gauge(
    "complaints_consumer_progress_ratio",
    "Share of the log the consumer group has applied (1 = caught up); rebuild progress",
    ["consumer"],
)
REBUILDING = Gauge(
    "complaints_projection_rebuilding",
    "1 while a new projection generation is built beside the live one",
    ["service"],
)
GENERATION = Gauge(
    "complaints_projection_generation", "The live projection generation", ["service"]
)
REBUILD_DONE = Gauge(
    "complaints_rebuild_events_done", "Events the generation being built has applied", ["service"]
)
REBUILD_TOTAL = Gauge(
    "complaints_rebuild_events_total",
    "Events in the log for the generation being built",
    ["service"],
)
REBUILD_RATE = Gauge(
    "complaints_rebuild_events_per_second", "How fast the generation is being built", ["service"]
)
REBUILD_LAG = Gauge(
    "complaints_rebuild_lag", "Events the generation being built still has to apply", ["service"]
)
DEAD_LETTERS_RECORDED = Gauge(
    "complaints_dead_letters_recorded",
    "Records the consumer dead-lettered, as recorded in its schema (survives restarts)",
    ["consumer"],
)
EVENT_LOOP_LAG_SECONDS = Histogram(
    "complaints_event_loop_lag_seconds",
    "How late the event loop woke a task that slept (sampled every 50 ms): how long anything "
    "ready, a request or a due alert, waited behind work that did not yield",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
GC_PAUSE_SECONDS = Histogram(
    "complaints_gc_pause_seconds",
    "The process's garbage collections by generation, and how long each held the process "
    "(2: a full collection, which walks every object not set aside)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
