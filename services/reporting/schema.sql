-- The reporting projection's tables: one generation of them (services.runtime.generations).
-- Unqualified names: this file runs in the generation's schema (reporting_g<N>); the
-- service's schema `reporting` holds a view of each over the live generation, and the
-- functions of functions.sql over those views.
--
-- How "as of" works: every event of the log is kept as one append-only row of
-- events (what happened, when it happened, when the platform recorded it), and every
-- question is answered by SQL over the rows recorded up to an instant T (recorded_at <= T):
-- reporting.complaint_states(T) folds each complaint's rows into its state as of T, and
-- reporting.timer_alerts(T) tells which SLA timers are overdue or about to breach as of T.
-- Within one complaint the rows are ordered by seq, the order in which they were applied: the
-- log's order for that complaint (all of a complaint's events share one partition, read in
-- order). The answers "now" read complaint_current instead: the same fold, kept as the events
-- are applied.

-- One row per received complaint: the facts of the register. Personal data (name, phone,
-- description, demand) only as the log has it, sealed under the complainant's key
-- (services.runtime.vault): opened, and masked, when it is read.
CREATE TABLE IF NOT EXISTS complaints (
    complaint_id      uuid PRIMARY KEY,
    channel           text NOT NULL,
    submission_id     text NOT NULL,
    office            text NOT NULL,
    unit              text NOT NULL,
    complainant_ref   text NOT NULL,  -- pseudonymous reference of the complainant
    personal          jsonb NOT NULL, -- vault.personal_of: sealed complainant, description, demand
    subject           text NOT NULL,
    occurred_at       timestamptz NOT NULL,  -- 投诉时间: the report's periods count by it
    received_at       timestamptz NOT NULL,  -- when the platform recorded it (as-of cut)
    received_day      date NOT NULL,  -- the day of occurred_at in China Standard Time
    received_event_id uuid NOT NULL,
    unit_key          text NOT NULL,  -- the unit normalised, for repeat hot spots
    building          text,           -- 楼栋 derived from the unit ("3栋1单元502" → "3栋"); NULL: none named
    topic             text NOT NULL   -- the subject normalised
);
CREATE INDEX IF NOT EXISTS complaints_occurred ON complaints (occurred_at);
CREATE INDEX IF NOT EXISTS complaints_office_occurred ON complaints (office, occurred_at);

CREATE TABLE IF NOT EXISTS daily_intake (
    day     date    NOT NULL,
    office  text    NOT NULL,
    channel text    NOT NULL,
    received integer NOT NULL,
    PRIMARY KEY (day, office, channel)
);

-- One row per event of a complaint, never updated: the facts the reports read as of any T.
CREATE TABLE IF NOT EXISTS events (
    seq          bigserial PRIMARY KEY,  -- application order; orders one complaint's events
    event_id     uuid NOT NULL UNIQUE,
    complaint_id uuid NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    status       text,     -- the status the event leads to; NULL: unchanged
    validity     text,     -- ComplaintJudged, ComplaintRejudged
    category     text,     -- ComplaintJudged, ComplaintRejudged
    final        boolean,  -- OwnerReplied
    satisfied    boolean,  -- RevisitRecorded
    major_rule   text,     -- MajorComplaintFlagged
    timer        text,     -- SlaWarning, SlaBreached
    deadline     timestamptz,
    hard         boolean,  -- SlaBreached
    office       text,     -- ComplaintOfficeTransferred: the office it counts for from then
    priority     text,     -- ComplaintJudged: urgent, normal, low
    outcome      text,     -- ComplaintClosed: satisfied, unsatisfied, unreachable
    detail       jsonb     -- the texts the report quotes (domain.DETAILS)
);
CREATE INDEX IF NOT EXISTS events_complaint ON events (complaint_id, seq);
-- The few events whose texts the monthly report quotes, by when they occurred.
CREATE INDEX IF NOT EXISTS events_quoted ON events (occurred_at) WHERE detail IS NOT NULL;
-- The complaints moved to an office (ComplaintOfficeTransferred), for an office's report.
CREATE INDEX IF NOT EXISTS events_moved_to ON events (office)
    WHERE type = 'ComplaintOfficeTransferred';

-- What each event did to each SLA timer: start, stop (services/sla/policy.yaml), warning,
-- breach (the SLA service's events). One row per (event, timer).
CREATE TABLE IF NOT EXISTS timer_events (
    complaint_id uuid NOT NULL,
    timer        text NOT NULL,
    seq          bigint NOT NULL,  -- the event's seq in events
    effect       text NOT NULL CHECK (effect IN ('start', 'stop', 'warning', 'breach')),
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    deadline     timestamptz,  -- warning, breach
    hard         boolean,      -- breach
    PRIMARY KEY (complaint_id, timer, seq)
);
-- The warnings and breaches are few beside the starts and stops: the alerts start from them.
CREATE INDEX IF NOT EXISTS timer_events_alerts ON timer_events (recorded_at)
    WHERE effect IN ('warning', 'breach');


-- Each complaint's state as every event applied has it: reporting.complaint_states(T) at
-- T = 'infinity', and whether one of its timers is overdue (reporting.timer_alerts). The
-- projection folds again, in the transaction that writes them, the complaints a batch of
-- events is about (store.write_rows). A bulk load writes none: once the generation is live,
-- the builder folds every complaint into it in chunks (current_pending). The report and the
-- dashboard "now" read these rows, when nothing is pending, instead of folding every
-- complaint of the period per request. Its columns are complaint_states' and `overdue`
-- (tests/integration/reporting_db.py, assert_current_is_the_fold, holds them equal).
CREATE TABLE IF NOT EXISTS complaint_current (
    complaint_id            uuid PRIMARY KEY,
    office                  text NOT NULL,
    received_office         text NOT NULL,
    channel                 text NOT NULL,
    unit                    text NOT NULL,
    building                text,
    subject                 text NOT NULL,
    personal                jsonb NOT NULL,
    occurred_at             timestamptz NOT NULL,
    received_at             timestamptz NOT NULL,
    events                  bigint NOT NULL,
    status                  text,
    validity                text,
    category                text,
    priority                text,
    rejudged                boolean NOT NULL,
    major                   boolean NOT NULL,
    major_rule              text,
    major_at                timestamptz,
    acknowledged_at         timestamptz,
    judged_at               timestamptz,
    assigned_at             timestamptz,
    implemented_at          timestamptz,
    replied_at              timestamptz,
    answered_at             timestamptz,
    revisited_at            timestamptz,
    ended_at                timestamptz,
    revisit_satisfied       boolean,
    first_response_breached boolean NOT NULL,
    reply_breached          boolean NOT NULL,
    reply_hard_breached     boolean NOT NULL,
    last_event_at           timestamptz,
    resolved_on_the_spot    boolean NOT NULL,
    suspended               boolean NOT NULL,
    close_outcome           text,
    close_summary           text,
    merged_into             uuid,
    overdue                 boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS complaint_current_occurred ON complaint_current (occurred_at);
CREATE INDEX IF NOT EXISTS complaint_current_office_occurred
    ON complaint_current (office, occurred_at);
-- The complaints a report names one by one (store.reports.named: received directly, merged,
-- withdrawn, or with no subject), a few thousand of a month's tens of thousands.
CREATE INDEX IF NOT EXISTS complaint_current_named ON complaint_current (occurred_at)
    WHERE (channel = 'supervision' OR status IN ('merged', 'withdrawn') OR coalesce(subject, '') = '');

-- How many complaints of complaint_current share each month they occurred in (China time:
-- contracts.timezone.CHINA) and every column a report's count reads (store.reports'
-- _COUNTED_COLUMNS): a report "now" counts a whole month from its few thousand rows instead of
-- grouping its tens of thousands of complaints. Kept by the statement triggers below in the
-- transaction that changes complaint_current (a batch's refresh, the builder's fill-in), from
-- the rows each statement inserted, updated or deleted; a count that falls to 0 stays, as 0.
-- (tests/integration/reporting_db.py, assert_current_is_the_fold, holds it equal to grouping
-- complaint_current.)
CREATE TABLE IF NOT EXISTS current_counts (
    month                   date NOT NULL,  -- the first day of the month
    office                  text NOT NULL,
    channel                 text NOT NULL,
    validity                text,
    category                text,
    acknowledged            boolean NOT NULL,
    replied                 boolean NOT NULL,
    first_response_breached boolean NOT NULL,
    reply_breached          boolean NOT NULL,
    reply_hard_breached     boolean NOT NULL,
    revisit_satisfied       boolean,
    overdue                 boolean NOT NULL,
    status                  text,
    priority                text,
    major                   boolean NOT NULL,
    resolved_on_the_spot    boolean NOT NULL,
    suspended               boolean NOT NULL,
    rejudged                boolean NOT NULL,
    close_outcome           text,
    n                       bigint NOT NULL,  -- no CHECK: checked on a -1 before it is summed
    CONSTRAINT current_counts_key UNIQUE NULLS NOT DISTINCT (month, office, channel, validity,
        category, acknowledged, replied, first_response_breached, reply_breached,
        reply_hard_breached, revisit_satisfied, overdue, status, priority, major,
        resolved_on_the_spot, suspended, rejudged, close_outcome)
);

-- The statement's rows (its transition tables: counted_new, counted_old), +1 for each row it
-- made and -1 for each it replaced or removed, summed into current_counts in the order of the
-- key (two writers wait for each other's counts in one order: no cycle). Its search_path is
-- the generation's it was made in, whoever writes.
CREATE OR REPLACE FUNCTION count_current() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $function$
BEGIN
    -- a batch's refresh fires both triggers, and mostly only updates: nothing to plan
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT FROM counted_old) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT FROM counted_new) THEN
        RETURN NULL;
    END IF;
    EXECUTE format($counted$
        INSERT INTO current_counts AS k
        SELECT date_trunc('month', r.occurred_at AT TIME ZONE 'Asia/Shanghai')::date,
               r.office, r.channel, r.validity, r.category, r.acknowledged_at IS NOT NULL,
               r.replied_at IS NOT NULL, r.first_response_breached, r.reply_breached,
               r.reply_hard_breached, r.revisit_satisfied, r.overdue, r.status, r.priority,
               r.major, r.resolved_on_the_spot, r.suspended, r.rejudged, r.close_outcome,
               sum(r.d)
        FROM (%s) r
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19
        HAVING sum(r.d) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19
        ON CONFLICT ON CONSTRAINT current_counts_key DO UPDATE SET n = k.n + EXCLUDED.n
        $counted$,
        CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT 1 AS d, * FROM counted_new'
            WHEN 'DELETE' THEN 'SELECT -1 AS d, * FROM counted_old'
            ELSE 'SELECT 1 AS d, * FROM counted_new UNION ALL SELECT -1, * FROM counted_old'
        END);
    RETURN NULL;
END
$function$;
CREATE OR REPLACE TRIGGER current_counted_insert AFTER INSERT ON complaint_current
    REFERENCING NEW TABLE AS counted_new
    FOR EACH STATEMENT EXECUTE FUNCTION count_current();
CREATE OR REPLACE TRIGGER current_counted_update AFTER UPDATE ON complaint_current
    REFERENCING OLD TABLE AS counted_old NEW TABLE AS counted_new
    FOR EACH STATEMENT EXECUTE FUNCTION count_current();
CREATE OR REPLACE TRIGGER current_counted_delete AFTER DELETE ON complaint_current
    REFERENCING OLD TABLE AS counted_old
    FOR EACH STATEMENT EXECUTE FUNCTION count_current();

-- A row: complaint_current does not hold every complaint yet (a bulk load left it to the
-- builder, which folds them after the swap in the order they occurred, so that a period's
-- rows lie together: after (`folded_at`, `folded_to`), the last one folded).
CREATE TABLE IF NOT EXISTS current_pending (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    folded_at timestamptz,  -- the last folded complaint's occurred_at; NULL: none yet
    folded_to uuid          -- and its id
);
