-- Stable objects over the views of the live generation (services.runtime.generations): the
-- "as of" functions and the analysts' view. Run again at every swap; never a projection's data.
--
-- The functions name their tables unqualified: they read the generation the caller's
-- search_path names. The service's reads and the analyst role (deploy/postgres/init.sql) look
-- names up in `reporting`, the live generation's views; the projection, folding the state of
-- the complaints it just wrote into complaint_current, looks them up in the generation it
-- writes (live, or a builder's). A session whose search_path lacks `reporting` gets
-- "relation "complaints" does not exist", never another generation's answer.
--
-- Their bodies are checked as they are created, against the views: `reporting` leads the
-- search_path while this file runs, and the caller's comes back at its end.
SELECT set_config('complaints.search_path_before', current_setting('search_path'), true),
       set_config('search_path', 'reporting', true);

-- Each complaint's state as of T, from the events recorded by T. Step times are the
-- occurred_at of the first event of each step. NULL validity: not judged yet.
-- The judgment is the latest ComplaintJudged or ComplaintRejudged (复核) recorded by T; the
-- office the latest ComplaintOfficeTransferred's, else the one it was received for; a
-- complaint is major when the latest MajorComplaintFlagged / MajorComplaintUnflagged (by
-- occurred_at, then log order) is a flag; a suspended complaint (暂缓) is 'suspended' until
-- a ComplaintResumed, then back in the status it had.
DROP FUNCTION IF EXISTS reporting.complaint_states(timestamptz) CASCADE;
CREATE FUNCTION reporting.complaint_states(as_of timestamptz)
RETURNS TABLE (
    complaint_id            uuid,
    office                  text,         -- as of T (after any office transfer)
    received_office         text,         -- the office it was received for
    channel                 text,
    unit                    text,
    building                text,
    subject                 text,
    personal                jsonb,        -- sealed (services.runtime.vault)
    occurred_at             timestamptz,
    received_at             timestamptz,
    events                  bigint,
    status                  text,
    validity                text,
    category                text,
    priority                text,
    rejudged                boolean,
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
    last_event_at           timestamptz,
    resolved_on_the_spot    boolean,      -- ComplaintResolvedOnTheSpot
    suspended               boolean,      -- ever suspended (ComplaintSuspended)
    close_outcome           text,         -- closed: satisfied, unsatisfied, unreachable
    close_summary           text,         -- closed: 总结评价 (ComplaintClosed v3)
    merged_into             uuid          -- merged: the complaint that carries on
)
LANGUAGE sql STABLE AS $$
    SELECT c.complaint_id, coalesce(s.moved_to, c.office), c.office, c.channel, c.unit,
           c.building, c.subject, c.personal, c.occurred_at, c.received_at,
           s.events,
           CASE WHEN s.paused AND s.status_before NOT IN ('closed', 'withdrawn', 'merged')
                THEN 'suspended' ELSE s.status_before END,
           s.validity, s.category, s.priority, s.rejudged,
           coalesce(s.flag_type = 'MajorComplaintFlagged', false),
           CASE WHEN s.flag_type = 'MajorComplaintFlagged' THEN s.flag_rule END,
           CASE WHEN s.flag_type = 'MajorComplaintFlagged' THEN s.flag_at END,
           s.acknowledged_at, s.judged_at, s.assigned_at, s.implemented_at, s.replied_at,
           s.answered_at, s.revisited_at, s.ended_at, s.revisit_satisfied,
           s.first_response_breached, s.reply_breached, s.reply_hard_breached, s.last_event_at,
           s.resolved_on_the_spot, s.suspended,
           CASE WHEN s.status_before = 'closed' THEN s.close_outcome END,
           CASE WHEN s.status_before = 'closed' THEN s.close_summary END,
           CASE WHEN s.status_before = 'merged' THEN s.merged_into END
    FROM complaints c
    CROSS JOIN LATERAL (
        SELECT count(*) AS events,
               (array_agg(e.status ORDER BY e.seq DESC)
                    FILTER (WHERE e.status IS NOT NULL AND e.status <> 'suspended'))[1]
                    AS status_before,
               coalesce((array_agg(e.type ORDER BY e.seq DESC)
                    FILTER (WHERE e.type IN ('ComplaintSuspended', 'ComplaintResumed')))[1]
                    = 'ComplaintSuspended', false) AS paused,
               (array_agg(e.office ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintOfficeTransferred'))[1] AS moved_to,
               (array_agg(e.validity ORDER BY e.seq DESC)
                    FILTER (WHERE e.type IN ('ComplaintJudged', 'ComplaintRejudged')))[1]
                    AS validity,
               (array_agg(e.category ORDER BY e.seq DESC)
                    FILTER (WHERE e.type IN ('ComplaintJudged', 'ComplaintRejudged')))[1]
                    AS category,
               (array_agg(e.priority ORDER BY e.seq DESC)
                    FILTER (WHERE e.priority IS NOT NULL))[1] AS priority,
               coalesce(bool_or(e.type = 'ComplaintRejudged'), false) AS rejudged,
               (array_agg(e.type ORDER BY e.occurred_at DESC, e.seq DESC)
                    FILTER (WHERE e.type IN ('MajorComplaintFlagged', 'MajorComplaintUnflagged'))
               )[1] AS flag_type,
               (array_agg(e.major_rule ORDER BY e.occurred_at DESC, e.seq DESC)
                    FILTER (WHERE e.type IN ('MajorComplaintFlagged', 'MajorComplaintUnflagged'))
               )[1] AS flag_rule,
               (array_agg(e.occurred_at ORDER BY e.occurred_at DESC, e.seq DESC)
                    FILTER (WHERE e.type IN ('MajorComplaintFlagged', 'MajorComplaintUnflagged'))
               )[1] AS flag_at,
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
               max(e.recorded_at) AS last_event_at,
               coalesce(bool_or(e.type = 'ComplaintResolvedOnTheSpot'), false)
                    AS resolved_on_the_spot,
               coalesce(bool_or(e.type = 'ComplaintSuspended'), false) AS suspended,
               (array_agg(e.outcome ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintClosed'))[1] AS close_outcome,
               (array_agg(e.detail ->> 'summary' ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintClosed'))[1] AS close_summary,
               (array_agg((e.detail ->> 'into_complaint_id')::uuid ORDER BY e.seq DESC)
                    FILTER (WHERE e.type = 'ComplaintMerged'))[1] AS merged_into
        FROM events e
        WHERE e.complaint_id = c.complaint_id AND e.recorded_at <= as_of
    ) s
    WHERE c.received_at <= as_of
$$;

-- The texts the monthly report quotes, of the events that occurred in [from, before) and were
-- recorded by T: accountability records (PlanImplemented), preventive measures, on-the-spot
-- summaries, suspensions. With the office the complaint counted for as of T.
DROP FUNCTION IF EXISTS reporting.quoted_events(timestamptz, timestamptz, timestamptz) CASCADE;
CREATE FUNCTION reporting.quoted_events(as_of timestamptz, occurred_from timestamptz,
                                        occurred_before timestamptz)
RETURNS TABLE (
    complaint_id uuid,
    type         text,
    occurred_at  timestamptz,
    detail       jsonb
)
LANGUAGE sql STABLE AS $$
    SELECT e.complaint_id, e.type, e.occurred_at, e.detail
    FROM events e
    WHERE e.detail IS NOT NULL AND e.recorded_at <= as_of
      AND e.occurred_at >= occurred_from AND e.occurred_at < occurred_before
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
    FROM timer_events a
    LEFT JOIN LATERAL (  -- the timer's latest start or stop recorded by T
        SELECT r.effect, r.seq, r.occurred_at
        FROM timer_events r
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
          SELECT 1 FROM events x
          WHERE x.complaint_id = a.complaint_id
            AND x.status IN ('closed', 'withdrawn', 'merged')
            AND x.recorded_at <= as_of)
    GROUP BY a.complaint_id, a.timer
$$;

-- Every complaint folded as of now, with whether a timer is overdue: what current_states shows
-- while a rebuild's builder is still folding complaint_current in. Its own search_path, so that
-- the view can be read from any session.
DROP FUNCTION IF EXISTS reporting.folded_now() CASCADE;
CREATE FUNCTION reporting.folded_now() RETURNS SETOF reporting.complaint_current
LANGUAGE sql STABLE SET search_path = reporting AS $$
    SELECT s.*, coalesce(a.overdue, false)
    FROM complaint_states(now()) s
    LEFT JOIN LATERAL (
        SELECT bool_or(t.overdue) AS overdue
        FROM timer_alerts(now()) t WHERE t.complaint_id = s.complaint_id
    ) a ON true
$$;

-- For analysts: every complaint as it stands now, and whether a timer is overdue. The rows the
-- projection keeps (complaint_current, no fold per query), unless a rebuild's builder is still
-- folding them in (current_pending): then the fold as of now. One branch runs.
CREATE VIEW reporting.current_states AS
SELECT k.* FROM reporting.complaint_current k
WHERE NOT EXISTS (SELECT 1 FROM reporting.current_pending)
UNION ALL
SELECT f.* FROM reporting.folded_now() f
WHERE EXISTS (SELECT 1 FROM reporting.current_pending);

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

SELECT set_config('search_path', current_setting('complaints.search_path_before'), true);
