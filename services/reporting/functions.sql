-- Stable objects over the views of the live generation (services.runtime.generations): the
-- "as of" functions and the analysts' view. Run again at every swap; never a projection's data.

-- Each complaint's state as of T, from the events recorded by T. Step times are the
-- occurred_at of the first event of each step. NULL validity: not judged yet.
DROP FUNCTION IF EXISTS reporting.complaint_states(timestamptz) CASCADE;
CREATE FUNCTION reporting.complaint_states(as_of timestamptz)
RETURNS TABLE (
    complaint_id            uuid,
    office                  text,
    channel                 text,
    unit                    text,
    building                text,
    subject                 text,
    description             text,
    occurred_at             timestamptz,
    received_at             timestamptz,
    events                  bigint,
    status                  text,
    validity                text,
    category                text,
    major                   boolean,
    major_rule              text,
    major_at                timestamptz,
    acknowledged_at         timestamptz,
    judged_at               timestamptz,
    assigned_at             timestamptz,
    implemented_at          timestamptz,
    replied_at              timestamptz,  -- first OwnerReplied or TimeCommitted
    answered_at             timestamptz,  -- first final OwnerReplied (答复结果)
    revisited_at            timestamptz,
    ended_at                timestamptz,  -- closed, withdrawn or merged
    revisit_satisfied       boolean,      -- what the owner said at the latest revisit
    first_response_breached boolean,
    reply_breached          boolean,
    reply_hard_breached     boolean,
    last_event_at           timestamptz
)
LANGUAGE sql STABLE AS $$
    SELECT c.complaint_id, c.office, c.channel, c.unit, c.building, c.subject, c.description,
           c.occurred_at, c.received_at,
           s.events, s.status, s.validity, s.category, s.major, s.major_rule, s.major_at,
           s.acknowledged_at, s.judged_at, s.assigned_at, s.implemented_at, s.replied_at,
           s.answered_at, s.revisited_at, s.ended_at, s.revisit_satisfied,
           s.first_response_breached, s.reply_breached, s.reply_hard_breached, s.last_event_at
    FROM reporting.complaints c
    CROSS JOIN LATERAL (
        SELECT count(*) AS events,
               (array_agg(e.status ORDER BY e.seq DESC)
                    FILTER (WHERE e.status IS NOT NULL))[1] AS status,
               (array_agg(e.validity ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintJudged'))[1] AS validity,
               (array_agg(e.category ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintJudged'))[1] AS category,
               coalesce(bool_or(e.type = 'MajorComplaintFlagged'), false) AS major,
               (array_agg(e.major_rule ORDER BY e.seq)
                    FILTER (WHERE e.type = 'MajorComplaintFlagged'))[1] AS major_rule,
               min(e.occurred_at) FILTER (WHERE e.type = 'MajorComplaintFlagged') AS major_at,
               min(e.occurred_at) FILTER (WHERE e.type = 'ComplaintAcknowledged') AS acknowledged_at,
               min(e.occurred_at) FILTER (WHERE e.type = 'ComplaintJudged') AS judged_at,
               min(e.occurred_at) FILTER (WHERE e.type = 'DepartmentAssigned') AS assigned_at,
               min(e.occurred_at) FILTER (WHERE e.type = 'PlanImplemented') AS implemented_at,
               min(e.occurred_at)
                    FILTER (WHERE e.type IN ('OwnerReplied', 'TimeCommitted')) AS replied_at,
               min(e.occurred_at)
                    FILTER (WHERE e.type = 'OwnerReplied' AND e.final) AS answered_at,
               min(e.occurred_at) FILTER (WHERE e.type = 'RevisitRecorded') AS revisited_at,
               min(e.occurred_at)
                    FILTER (WHERE e.status IN ('closed', 'withdrawn', 'merged')) AS ended_at,
               (array_agg(e.satisfied ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'RevisitRecorded'))[1] AS revisit_satisfied,
               coalesce(bool_or(e.type = 'SlaBreached' AND e.timer = 'first_response'), false)
                    AS first_response_breached,
               coalesce(bool_or(e.type = 'SlaBreached' AND e.timer = 'reply' AND NOT e.hard), false)
                    AS reply_breached,
               coalesce(bool_or(e.type = 'SlaBreached' AND e.timer = 'reply' AND e.hard), false)
                    AS reply_hard_breached,
               max(e.recorded_at) AS last_event_at
        FROM reporting.events e
        WHERE e.complaint_id = c.complaint_id AND e.recorded_at <= as_of
    ) s
    WHERE c.received_at <= as_of
$$;

-- The SLA timers that are overdue (a breach) or about to breach (a warning) as of T: a warning
-- or breach counts while its timer has not stopped since. Precisely, for each (complaint,
-- timer) take the latest start or stop recorded by T; an alert is open when that is a start
-- (or the policy names no start or stop for the timer), the alert came after it, and its
-- deadline lies after the start (a late alert about an earlier run does not count). A complaint
-- that was closed, withdrawn or merged by T has no open alert: that ends every timer.
DROP FUNCTION IF EXISTS reporting.timer_alerts(timestamptz) CASCADE;
CREATE FUNCTION reporting.timer_alerts(as_of timestamptz)
RETURNS TABLE (
    complaint_id uuid,
    timer        text,
    overdue      boolean,      -- false: warned only (即将超时)
    hard         boolean,      -- the hard limit was missed too
    deadline     timestamptz,  -- the first missed deadline, or the one warned about
    alerted_at   timestamptz   -- when the latest open alert was recorded
)
LANGUAGE sql STABLE AS $$
    SELECT a.complaint_id, a.timer,
           bool_or(a.effect = 'breach') AS overdue,
           coalesce(bool_or(a.hard) FILTER (WHERE a.effect = 'breach'), false) AS hard,
           coalesce(min(a.deadline) FILTER (WHERE a.effect = 'breach'), min(a.deadline))
               AS deadline,
           max(a.recorded_at) AS alerted_at
    FROM reporting.timer_events a
    LEFT JOIN LATERAL (  -- the timer's latest start or stop recorded by T
        SELECT r.effect, r.seq, r.occurred_at
        FROM reporting.timer_events r
        WHERE r.complaint_id = a.complaint_id AND r.timer = a.timer
          AND r.effect IN ('start', 'stop') AND r.recorded_at <= as_of
        ORDER BY r.seq DESC
        LIMIT 1
    ) run ON true
    WHERE a.effect IN ('warning', 'breach')
      AND a.recorded_at <= as_of
      AND (run.effect IS NULL
           OR (run.effect = 'start' AND a.seq > run.seq AND a.deadline > run.occurred_at))
      AND NOT EXISTS (
          SELECT 1 FROM reporting.events x
          WHERE x.complaint_id = a.complaint_id
            AND x.status IN ('closed', 'withdrawn', 'merged')
            AND x.recorded_at <= as_of)
    GROUP BY a.complaint_id, a.timer
$$;

-- For analysts: every complaint as it stands now.
CREATE VIEW reporting.current_states AS SELECT * FROM reporting.complaint_states(now());

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
