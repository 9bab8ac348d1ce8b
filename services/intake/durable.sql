-- Intake's durable state (not a projection, never dropped by a rebuild): what each
-- submissions-topic record became.
CREATE TABLE IF NOT EXISTS intake.submission_decisions (
    topic      text NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint NOT NULL,
    event_id   uuid NOT NULL,                -- the ComplaintReceived or SubmissionRejected it became
    accepted   boolean NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
