"""SLA policy as data, and the timers it runs per complaint (时限管理).

Pure: values in, values out; time arrives as ``at``/``now``. The only I/O is ``load_policy``
reading ``policy.yaml``, kept apart from ``parse_policy``.

The policy names each **timer kind**: the events that start, stop, pause and resume it, and
its target, either a span (``30 minutes``, ``1 working day``) or a deadline carried by the
starting event (``deadline_from: deadline`` of ``DepartmentAssigned``). A span in working
hours or days runs on the office's business calendar (``services.sla.calendar``), anything
else on the wall clock; a deadline from an event is an instant a person chose, so it is kept
exactly and runs on the wall clock. A kind may carry a hard limit beyond its target, and a
warning share (0.8: warn when 80% of the target is used). Offices may override targets, hard
limits and warning shares per kind.

The timers of the shipped ``policy.yaml`` and why (DOMAIN.md):

=================  ============================  =============================================
first_response     30 minutes, wall clock        首问责任制; stops on ComplaintAcknowledged
reply              1 working day, hard limit 3   step 9; starts on ComplaintReceived (and again
                                                 on ComplaintReopened); stops on OwnerReplied
                                                 *or* TimeCommitted: a time commitment is the
                                                 answer step 9 asks for when none can be given
                                                 at once, and it starts ``promise``
assignment         1 working day                 steps 3-4: acknowledged (again on 退单
                                                 ComplaintSentBack) until DepartmentAssigned,
                                                 当场解决, or a judgment ``invalid``
conclude           2 working days                an invalid complaint (judged or re-judged so)
                                                 until closed (or a department takes it)
department         DepartmentAssigned.deadline   step 4 限期解决; stops on PlanImplemented or
                                                 退单; a re-assignment or a 转派
                                                 (ComplaintTransferred) with a deadline
                                                 restarts it, a 转派 without one keeps it
promise            TimeCommitted.promised_at     step 9 时间承诺; stops on the reply that
                                                 fulfils it; a new commitment restarts it
revisit            2 working days                step 10 回访; starts on PlanImplemented, stops
                                                 on RevisitRecorded
close              1 working day                 step 11: a revisit (or an on-the-spot
                                                 resolution not revisited) until closed, or
                                                 reopened
rework             3 working days                reopened until a plan is carried out again
                                                 (or a department is assigned anew)
=================  ============================  =============================================

Together they leave no step of an open complaint without a running (or, while suspended,
paused) clock: ``policy.yaml`` lists which covers which step. An event of ``office_from``
(ComplaintOfficeTransferred) moves the complaint to another office from its instant: running
timers count on that office's calendar (``HandoverClock``) with its targets.

``cancels_on`` (closed, withdrawn, merged) ends every running timer without a verdict.

A **timer** (``Timer``) is immutable: ``start``, then ``pause``/``resume``/``stop``/``cancel``
return new timers with the change recorded. Its deadline is recomputed from that history:
time spent paused does not count, so a pause moves the deadline later by the working (or
wall) time it would have used. A timer is *met* when stopped at or before its deadline,
*breached* once the deadline passes without the stop (also when stopped later); a breach
stays a breach whatever happens afterwards.
"""

from services.sla.policy.clocks import (
    SlaAlert,
    Timer,
    TimerState,
    WallClock,
    WorkingClock,
    clock_kind,
)
from services.sla.policy.events import (
    apply_event,
    office_after,
)
from services.sla.policy.file import (
    SlaPolicy,
    load_policy,
    parse_policy,
)
from services.sla.policy.spans import (
    DEFAULT_POLICY_FILE,
    ClockKind,
    Span,
)

__all__ = [
    "DEFAULT_POLICY_FILE",
    "ClockKind",
    "SlaAlert",
    "SlaPolicy",
    "Span",
    "Timer",
    "TimerState",
    "WallClock",
    "WorkingClock",
    "apply_event",
    "clock_kind",
    "load_policy",
    "office_after",
    "parse_policy",
]
