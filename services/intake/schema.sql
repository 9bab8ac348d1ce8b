-- Intake's schema. Projections (rebuilt from the log when this file changes):
--   callers              the caller directory, from every ComplaintReceived (events topic);
--                        keyed by the complainant's reference, the name sealed as in the log
--   rejected_submissions every SubmissionRejected (rejections topic), for GET /v1/submissions/rejected
-- Not a projection, never dropped: submission_decisions (what each submissions-topic record
-- became; with the outbox it makes a record's decision final, even across a rebuild).

CREATE TABLE IF NOT EXISTS callers (
    complainant_ref text PRIMARY KEY,        -- services.runtime.vault: HMAC of the phone
    personal     jsonb NOT NULL,             -- the complainant as the log has them (sealed)
    office       text NOT NULL,
    unit         text NOT NULL,
    last_seen_at timestamptz NOT NULL,       -- occurred_at of the complaint that said so
    complaint_id uuid NOT NULL               -- that complaint (orders two at one instant)
);

CREATE TABLE IF NOT EXISTS rejected_submissions (
    rejection_id  uuid PRIMARY KEY,
    channel       text,                      -- NULL when the record's signature failed
    submission_id text,
    format        text,
    reasons       jsonb NOT NULL,            -- [{"field": …, "reason": …}, …]
    topic         text NOT NULL,
    partition     integer NOT NULL,
    "offset"      bigint NOT NULL,
    submitted_at  timestamptz NOT NULL,      -- the record's timestamp
    rejected_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_submissions_newest
    ON rejected_submissions (rejected_at DESC, rejection_id);
