-- The SLA schema: one clock per complaint and timer kind, a projection of the log.
CREATE SCHEMA IF NOT EXISTS sla;

CREATE TABLE IF NOT EXISTS sla.clocks (
    complaint_id uuid NOT NULL,
    timer        text NOT NULL,
    office       text NOT NULL,
    started_at   timestamptz NOT NULL,
    deadline     timestamptz NOT NULL,
    state        text NOT NULL,  -- running, met, breached
    PRIMARY KEY (complaint_id, timer)
);
CREATE INDEX IF NOT EXISTS clocks_running_deadline ON sla.clocks (deadline) WHERE state = 'running';
