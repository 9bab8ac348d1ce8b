"""The staff workbench (工作台): server-rendered zh-CN pages on the workflow service.

``/queue`` shows 我的待办 (``mine=true``) and 本处待办 with every filter of the JSON queue; it
calls the very query of ``GET /v1/complaints`` (``queue.fetch_page``). ``/complaints/{id}``
shows a complaint as ``GET /v1/complaints/{id}`` reads it (the complainant masked by the one
rule of ``services.runtime.auth``), its timeline, its clocks from the SLA service, and one
form per command this role may give. A form posts to ``/complaints/{id}/commands/{name}``,
which gives the command through the API's own path (``routes.Workbench.give``: the permission
table, the office check, the decider) with the idempotency key the form carries, so a double
submit acts once; then 303 back to the page, or the page again with the refusal's reason and
its 403/409/422 status.

No script: plain links and forms. The session is the login's cookie (``services.runtime.login``).
SameSite=Lax alone does not stop another site posting these forms (old browsers ignore it; a
sibling subdomain is same-site), so every form (the commands', the logout's) carries the
session's ``csrf`` token, checked before anything is given (403 otherwise), and every page is
sent unframeable, script-free and uncached (``login.PageHeaders``).

Modules: ``labels`` (zh-CN titles and labels), ``forms`` (command forms from the commands'
fields, refusals in zh-CN), ``sla`` (clocks and notifications from the SLA service), ``routes``
(the pages and the form posts).
"""

from services.workflow.pages.forms import command_fields, form_payload, refused_fields
from services.workflow.pages.labels import as_shanghai, span
from services.workflow.pages.routes import router
from services.workflow.pages.sla import clocks_problem

__all__ = [
    "as_shanghai",
    "clocks_problem",
    "command_fields",
    "form_payload",
    "refused_fields",
    "router",
    "span",
]
