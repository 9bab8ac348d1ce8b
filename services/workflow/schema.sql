-- The workflow schema: every complaint's history and current state, projections of the log
-- (plus the events this service decided and has not seen come back yet). The outbox and the
-- consumer bookkeeping are created by services.runtime.

CREATE TABLE IF NOT EXISTS complaints (
    complaint_id       uuid PRIMARY KEY,
    office             text NOT NULL,  -- the office it belongs to now (跨项目转办 moves it)
    unit               text NOT NULL,
    channel            text NOT NULL,
    owner_ref          text NOT NULL,  -- the complainant's reference (services.runtime.vault):
                                       -- the repeat rule's "same owner"; never a phone
    occurred_at        timestamptz NOT NULL,
    status             text NOT NULL,
    major              boolean NOT NULL DEFAULT false,
    escalation_level   text NOT NULL,
    version            integer NOT NULL,
    next_deadline      timestamptz,
    next_deadline_kind text,
    -- When the step the complaint waits for began (the clock of domain.clock_stage): the
    -- policy's span for that step runs from here (domain.next_deadline).
    clock_since        timestamptz,
    -- The complaint's State folded from its history (services.workflow.store.encode_state):
    -- applying an event or deciding a command reads it instead of replaying the history.
    state              jsonb,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- What the work queues (services.workflow.queue) filter and sort by, kept by PostgreSQL
    -- from the stored state so that the write path has one source of truth.
    department         text GENERATED ALWAYS AS (state->'state'->>'department') STORED,
    assignee           text GENERATED ALWAYS AS (state->'state'->'owner'->>'staff_id') STORED,
    priority           text GENERATED ALWAYS AS (state->'state'->>'priority') STORED,
    priority_rank      smallint GENERATED ALWAYS AS (
        CASE state->'state'->>'priority' WHEN 'urgent' THEN 0 WHEN 'low' THEN 2 ELSE 1 END
    ) STORED
);
CREATE INDEX IF NOT EXISTS complaints_owner ON complaints (owner_ref, occurred_at);
CREATE INDEX IF NOT EXISTS complaints_unit ON complaints (office, unit, occurred_at);
CREATE INDEX IF NOT EXISTS complaints_queue
    ON complaints (office, priority_rank, next_deadline, complaint_id);
CREATE INDEX IF NOT EXISTS complaints_assignee ON complaints (assignee, next_deadline);

CREATE TABLE IF NOT EXISTS history (
    complaint_id uuid NOT NULL,
    seq          integer NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    type         text NOT NULL,
    envelope     jsonb NOT NULL,
    PRIMARY KEY (complaint_id, seq)
);
