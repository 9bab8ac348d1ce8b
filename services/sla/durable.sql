-- The SLA service's durable state (not a projection, never dropped or rebuilt): the
-- notifications it delivered or still owes (services/sla/notifier.py). A rebuild of the clocks
-- must never send an old alert again, so none of this lives in a generation.

-- Each complaint's office as the notifier last read it (ComplaintReceived, then transfers).
CREATE TABLE IF NOT EXISTS sla.notification_offices (
    complaint_id uuid PRIMARY KEY,
    office       text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per alert × target. The id derives from both (notifications.delivery_id), so a
-- replayed alert finds its delivery there and creates none.
CREATE TABLE IF NOT EXISTS sla.notification_deliveries (
    delivery_id     uuid PRIMARY KEY,
    alert_event_id  uuid NOT NULL,
    alert_type      text NOT NULL,         -- SlaWarning, SlaBreached, ComplaintEscalated, …
    alert_kind      text NOT NULL,         -- warning, breach, escalation, major
    complaint_id    uuid NOT NULL,
    office          text,
    target          text NOT NULL,         -- the target's name in the notifications file
    target_kind     text NOT NULL,         -- wecom, dingtalk
    title           text NOT NULL,
    content         text NOT NULL,         -- markdown, without personal data
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'retrying', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    alert_at        timestamptz NOT NULL,  -- when the alert was decided (its recorded_at)
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_event_id, target)
);
CREATE INDEX IF NOT EXISTS notification_deliveries_due
    ON sla.notification_deliveries (next_attempt_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS notification_deliveries_complaint
    ON sla.notification_deliveries (complaint_id, created_at);
CREATE INDEX IF NOT EXISTS notification_deliveries_dead
    ON sla.notification_deliveries (created_at) WHERE state = 'dead';

-- A failing delivery is retried until it is delivery.give_up_after_s old, counted from here:
-- its creation, or the operator's last `complaints notifications retry`.
ALTER TABLE sla.notification_deliveries
    ADD COLUMN IF NOT EXISTS attempts_since timestamptz NOT NULL DEFAULT now();

-- Every POST to a robot (delivered, failed or throttled), for pacing: a target with its
-- per-minute limit of POSTs in the last minute is not sent to this round. Rows older than an
-- hour are deleted by the worker.
CREATE TABLE IF NOT EXISTS sla.notification_attempts (
    target text NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS notification_attempts_target_at
    ON sla.notification_attempts (target, at);

-- A robot that answered "too many" (HTTP 429, WeCom 45009, DingTalk 130101) is left alone
-- until blocked_until: none of its deliveries is sent before then.
CREATE TABLE IF NOT EXISTS sla.notification_targets (
    target        text PRIMARY KEY,
    blocked_until timestamptz NOT NULL,
    reason        text NOT NULL
);

-- The notifier's start watermark, written once (the first time it reads an alert) and never
-- changed: alerts recorded more than delivery.max_age_s before it are history, not sent.
CREATE TABLE IF NOT EXISTS sla.notifier_watermark (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at timestamptz NOT NULL
);
