-- Not a projection (never dropped by a rebuild): the journal of automatic decisions. A rule is
-- evaluated once per causing event, ever; a replay of the log re-applies what the rule decided
-- (its event is in the log) instead of deciding again against a different arrival order.
CREATE TABLE IF NOT EXISTS workflow.rule_runs (
    cause_event_id uuid NOT NULL,
    rule           text NOT NULL,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cause_event_id, rule)
);
