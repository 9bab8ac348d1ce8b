-- The workflow schema: every complaint's history and current state, projections of the log
-- (plus the events this service decided and has not seen come back yet). The outbox and the
-- consumer bookkeeping are created by services.runtime.
CREATE SCHEMA IF NOT EXISTS workflow;

CREATE TABLE IF NOT EXISTS workflow.complaints (
    complaint_id       uuid PRIMARY KEY,
    office             text NOT NULL,
    unit               text NOT NULL,
    channel            text NOT NULL,
    owner_phone        text NOT NULL,  -- for the repeat rule; shown only to the office's staff
    occurred_at        timestamptz NOT NULL,
    status             text NOT NULL,
    major              boolean NOT NULL DEFAULT false,
    escalation_level   text NOT NULL,
    version            integer NOT NULL,
    next_deadline      timestamptz,
    next_deadline_kind text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS complaints_owner ON workflow.complaints (owner_phone, occurred_at);
CREATE INDEX IF NOT EXISTS complaints_unit ON workflow.complaints (office, unit, occurred_at);

CREATE TABLE IF NOT EXISTS workflow.history (
    complaint_id uuid NOT NULL,
    seq          integer NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    type         text NOT NULL,
    envelope     jsonb NOT NULL,
    PRIMARY KEY (complaint_id, seq)
);

-- Not a projection (never dropped by a rebuild): the journal of automatic decisions. A rule is
-- evaluated once per causing event, ever; a replay of the log re-applies what the rule decided
-- (its event is in the log) instead of deciding again against a different arrival order.
CREATE TABLE IF NOT EXISTS workflow.rule_runs (
    cause_event_id uuid NOT NULL,
    rule           text NOT NULL,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cause_event_id, rule)
);
