"""The complaint lifecycle as a Decider: ``initial_state``, ``evolve`` and ``decide``.

Pure: values in, values out. Time arrives as ``now``; the only I/O in this module is
``load_routing_rules`` reading its YAML file, kept apart from the lookup it feeds.

Statuses (``Status``) and the commands each one accepts (→ the status the event leads to):

=============  ==============================================================================
new            nothing; only ``ComplaintReceived`` (from intake) starts a complaint
received       acknowledge → acknowledged
acknowledged   classify → judged; resolve (当场解决, by the first responder) → resolved
judged         classify (judge again) → judged; assign (valid/assist only) → assigned;
               close (invalid, once answered) → closed
resolved       revisit (when the policy wants one after an on-the-spot resolution) → revisited;
               close (when it does not) → closed
assigned       assign (re-route, new deadline) → assigned; analyse → analysed
analysed       assign → assigned; analyse (revise) → analysed; propose → plan_proposed
plan_proposed  approve → plan_approved; reject → analysed
plan_approved  implement → implemented; propose (the owner declined it) → plan_proposed
implemented    revisit → revisited
revisited      revisit (again) → revisited; close (last one satisfied) → closed;
               reopen (last one unsatisfied) → reopened; close unsatisfied (project manager
               or company, with a reason) → closed
reopened       assign → assigned; analyse → analysed; propose → plan_proposed
               (assigned to reopened: transfer (转派, to another department) → assigned;
               send-back (退单, by the department) → judged, waiting for assignment again)
suspended      resume → the status it was suspended in (also by itself at ``until``)
closed         prevent; rejudge by the company within the report's month (no reopening: a
               new complaint is recorded instead)
withdrawn      nothing (withdrawing ends the complaint; no close follows)
merged         nothing (the complaint it was merged into carries on)
=============  ==============================================================================

In every open status, before acknowledgement and while suspended too: transfer-office (the
company moves it at once; its project manager asks and one of the other office accepts:
transfer-office/accept), flag-major and unflag-major (a person's judgment, which the rules
then leave alone). In every open status after ``received``: reply and commit (step 9
allows a time commitment whenever no answer can be given at once), withdraw and merge;
suspend (暂缓) when not suspended; rejudge (复核) once judged. A revisit that did not reach
the owner (``reached: false``) is recorded as an attempt; after the policy's number of
attempts the complaint may close as ``unreachable``. While suspended only resume, reply,
commit, rejudge, prevent, withdraw, merge and the commands above are taken: the procedure
itself waits. ``prevent`` wherever a plan was implemented, closed complaints included.
Role rules: only a supervisor, project manager or the company approve or reject a plan
(主管领导批示); a major complaint is revisited by its project manager
(DOMAIN: 重大投诉由项目经理回访);
only the project manager or the company close a complaint unsatisfied; the
customer-service head, the project manager or the company re-judge, and after closing only
the company.

The office's own rules that are data, not code (``services.workflow.policy``): the
priority a judgment gets by default, which on-the-spot resolutions are revisited, how many
unreached revisit attempts allow closing as unreachable, how long after closing the company
may still re-judge, when a complaint is major by rule, and how long each step may take
(``next_deadline``: every open complaint has one).

The automatic rules (``route``, ``detect_major``, ``judge_major``, ``escalate``) return events
with their reason; the service appends them like any other. ``check_merge_target`` judges the
complaint a merge names, which the service looks up.

The modules: ``state`` (the ``State``), ``fold`` (``evolve``: one step per event), ``decide``
(the Decider) over ``refusals`` (who may do what), ``steps`` (judging and routing) and
``handling`` (plans, replies, revisits, the end), ``deadlines`` (the next deadline of every
open status) and ``rules`` (routing, major complaints, escalation). Import from the package.
"""

from services.workflow.domain.deadlines import (
    FIRST_RESPONSE,
    clock_stage,
    next_deadline,
)
from services.workflow.domain.decide import (
    decide,
    stage_refusal,
)
from services.workflow.domain.fold import evolve, replay
from services.workflow.domain.handling import (
    MergeTarget,
    check_merge_target,
)
from services.workflow.domain.refusals import (
    APPROVER_ROLES,
    MAJOR_JUDGE_ROLES,
    MAJOR_REVISIT_ROLES,
    REJUDGE_ROLES,
    SEND_BACK_ROLES,
    TRANSFER_ROLES,
    UNSATISFIED_CLOSE_ROLES,
    WHILE_SUSPENDED,
    CommandRejected,
    InvalidCommand,
)
from services.workflow.domain.rules import (
    DEFAULT_ROUTING_FILE,
    RULES_ACTOR,
    PriorComplaint,
    RoutingRules,
    detect_major,
    escalate,
    judge_major,
    load_routing_rules,
    parse_routing_rules,
    route,
)
from services.workflow.domain.state import (
    ENDED,
    ESCALATION_CHAIN,
    OfficeRequest,
    Plan,
    PlanStatus,
    State,
    Status,
    Suspension,
    initial_state,
    replace,
)
from services.workflow.policy import ClockPolicy, MajorPolicy, OfficePolicy

__all__ = [
    "APPROVER_ROLES",
    "DEFAULT_ROUTING_FILE",
    "ENDED",
    "ESCALATION_CHAIN",
    "FIRST_RESPONSE",
    "MAJOR_JUDGE_ROLES",
    "MAJOR_REVISIT_ROLES",
    "REJUDGE_ROLES",
    "RULES_ACTOR",
    "SEND_BACK_ROLES",
    "TRANSFER_ROLES",
    "UNSATISFIED_CLOSE_ROLES",
    "WHILE_SUSPENDED",
    "ClockPolicy",
    "CommandRejected",
    "InvalidCommand",
    "MajorPolicy",
    "MergeTarget",
    "OfficePolicy",
    "OfficeRequest",
    "Plan",
    "PlanStatus",
    "PriorComplaint",
    "RoutingRules",
    "State",
    "Status",
    "Suspension",
    "check_merge_target",
    "clock_stage",
    "decide",
    "detect_major",
    "escalate",
    "evolve",
    "initial_state",
    "judge_major",
    "load_routing_rules",
    "next_deadline",
    "parse_routing_rules",
    "replace",
    "replay",
    "route",
    "stage_refusal",
]
