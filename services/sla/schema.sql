-- The SLA schema: every complaint's timer-relevant history and its clocks, projections of the
-- log. Alerts already published live in sla.outbox (created by services.runtime, never
-- dropped), whose unique event ids keep a breach from being published twice.

CREATE TABLE IF NOT EXISTS complaints (
    complaint_id  uuid PRIMARY KEY,
    office        text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    next_check_at timestamptz,  -- when the scheduler must look at this complaint again
    -- An event arrived since its timers were last folded: the next check folds its history
    -- again; otherwise the next check judges it from its agenda (no history read).
    refold        boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS complaints_next_check ON complaints (next_check_at)
    WHERE next_check_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS complaints_refold ON complaints (next_check_at)
    WHERE refold AND next_check_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS complaints_timed_check ON complaints (next_check_at)
    WHERE NOT refold AND next_check_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS history (
    complaint_id uuid NOT NULL,
    seq          integer NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    occurred_at  timestamptz NOT NULL,
    envelope     jsonb NOT NULL,
    PRIMARY KEY (complaint_id, seq)
);

-- The clocks as last computed (for the API and the overdue list).
CREATE TABLE IF NOT EXISTS clocks (
    complaint_id  uuid NOT NULL,
    timer         text NOT NULL,
    office        text NOT NULL,
    description   text NOT NULL,
    started_at    timestamptz NOT NULL,
    warning_at    timestamptz,
    deadline      timestamptz,
    hard_deadline timestamptz,
    ended_at      timestamptz,  -- stopped or cancelled
    state         text NOT NULL,  -- running, paused, met, breached, cancelled (when computed)
    PRIMARY KEY (complaint_id, timer)
);
CREATE INDEX IF NOT EXISTS clocks_open_by_deadline ON clocks (deadline)
    WHERE ended_at IS NULL;

-- What each complaint's folded timers will owe, and from when, as long as no new event
-- arrives (services.sla.timers.agenda): written with every fold, read by the scheduler when a
-- check falls due without a new event. An alert is owed from owed_from until owed_until
-- (exclusive; null: for good), published with occurred_at = due_at.
CREATE TABLE IF NOT EXISTS agenda (
    complaint_id uuid NOT NULL,
    event_id     uuid NOT NULL,
    owed_from    timestamptz NOT NULL,
    owed_until   timestamptz,
    due_at       timestamptz NOT NULL,
    event_type   text NOT NULL,
    data         jsonb NOT NULL,
    PRIMARY KEY (complaint_id, event_id)
);
