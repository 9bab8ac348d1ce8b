"""The reporting service, declared once (``services.runtime.spec``)."""

from pathlib import Path

from services.catalog import SERVICES
from services.reporting import routes
from services.reporting.console import install_console
from services.reporting.document import load_document
from services.reporting.projection import PROJECTION_TABLES, ComplaintsProjection
from services.reporting.settings import ReportingSettings
from services.runtime.spec import Consumes, Parts, ServiceSpec

HERE = Path(__file__).parent


def _complaints(parts: Parts) -> ComplaintsProjection:
    return ComplaintsProjection(parts.settings.pepper())


SPEC = ServiceSpec(
    name="reporting",
    title="Complaints reporting",
    description="Projections of the complaint log: complaints, figures, the monthly report "
    "(客户投诉工作月报) and the live dashboard (投诉实时看板), each as of any instant.",
    settings=ReportingSettings,
    port=SERVICES["reporting"],
    schema="reporting",
    migrations=[HERE / "schema.sql"],
    functions=[HERE / "functions.sql"],
    legacy_tables=PROJECTION_TABLES,
    # Its reads take optional filters (``$3 IS NULL OR office = $3``): a plan made for one
    # office must not serve the whole company.
    plan_each_query=True,
    # The report's header and footer (document.yaml), shared by every report it renders.
    shared=lambda settings: load_document(settings.reporting_document),
    consumers=[Consumes("complaints.v1", _complaints)],
    routers=[routes.router],
    install=install_console,
)
