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
