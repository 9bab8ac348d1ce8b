"""The workflow's service layer: apply events, decide commands, run the automatic rules.

Both doors lead through ``apply.append_event``: a staff command (decided here, published
through the outbox) and an event read from the log (decided elsewhere, or by this service
before). Each appended event may trigger automatic rules — the workflow's reactor
(``rules.AutomaticRules``, declared in the spec) — whose events get ids derived from the event
that caused them, so a replay of the log re-derives the same ids instead of deciding anew.

Modules: ``context`` (rules, where events go, step clocks), ``rules`` (the automatic rules and
their journal), ``apply`` (events from the log), ``commands`` (staff commands).
"""

from services.workflow.handlers.apply import apply_logged, apply_logged_batch
from services.workflow.handlers.commands import Decided, handle_command
from services.workflow.handlers.context import Context, Rules
from services.workflow.handlers.rules import AutomaticRules

__all__ = [
    "AutomaticRules",
    "Context",
    "Decided",
    "Rules",
    "apply_logged",
    "apply_logged_batch",
    "handle_command",
]
