-- The workflow schema: each complaint's current state, a projection of the log.
CREATE SCHEMA IF NOT EXISTS workflow;

CREATE TABLE IF NOT EXISTS workflow.complaints (
    complaint_id uuid PRIMARY KEY,
    office       text NOT NULL,
    unit         text NOT NULL,
    channel      text NOT NULL,
    status       text NOT NULL,
    received_at  timestamptz NOT NULL,
    version      integer NOT NULL
);
