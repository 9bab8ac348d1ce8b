-- The reporting schema: projections of the log, dropped and rebuilt at will.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE TABLE IF NOT EXISTS reporting.complaints (
    complaint_id      uuid PRIMARY KEY,
    channel           text NOT NULL,
    submission_id     text NOT NULL,
    office            text NOT NULL,
    unit              text NOT NULL,
    complainant_name  text NOT NULL,  -- masked: reporting is read by analysts
    complainant_phone text NOT NULL,  -- masked
    subject           text NOT NULL,
    description       text NOT NULL,
    demand            text NOT NULL,
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    received_day      date NOT NULL,  -- the day in China Standard Time
    received_event_id uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS complaints_office_day ON reporting.complaints (office, received_day);

CREATE TABLE IF NOT EXISTS reporting.daily_intake (
    day     date    NOT NULL,
    office  text    NOT NULL,
    channel text    NOT NULL,
    received integer NOT NULL,
    PRIMARY KEY (day, office, channel)
);

-- Analysts read reporting and nothing else (the role is created with the database).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        GRANT USAGE ON SCHEMA reporting TO analyst;
        GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO analyst;
        ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO analyst;
    END IF;
END
$$;
