"""The intake service, declared once (``services.runtime.spec``)."""

from pathlib import Path

from services.catalog import SERVICES
from services.intake import routes, store
from services.intake.consumer import SubmissionsProcessor
from services.intake.projection import CallerDirectory, RejectedSubmissions
from services.intake.settings import IntakeSettings
from services.runtime.spec import Consumes, Parts, Processes, Publishes, ServiceSpec
from services.runtime.vault import KeyMaker

HERE = Path(__file__).parent


def _callers(parts: Parts) -> CallerDirectory:
    return CallerDirectory(parts.settings.pepper())


def _submissions(parts: Parts) -> SubmissionsProcessor:
    return SubmissionsProcessor(parts.settings, parts.now)


SPEC = ServiceSpec(
    name="intake",
    title="Complaints intake",
    description="Channel adapters submit complaints here (物业客户投诉登记).",
    settings=IntakeSettings,
    port=SERVICES["intake"],
    schema="intake",
    migrations=[HERE / "schema.sql"],
    durable=[HERE / "durable.sql"],
    legacy_tables=store.PROJECTION_TABLES,
    consumers=[
        Consumes("callers.v1", _callers),
        # Its records are the channels' payloads, not events: a processor. Its effects are
        # events and decisions, never rebuilt; its records are in clear, so its dead letters
        # are kept as briefly as the submissions topic.
        Processes(
            "submissions.v1",
            _submissions,
            topic="topic_submissions",
            deadletter_topic="submissions_deadletter_topic",
        ),
        Consumes("rejections.v1", lambda parts: RejectedSubmissions(), topic="rejections_topic"),
    ],
    outbox=True,
    publishes=[
        Publishes("topic_events", ("contracts.intake",)),
        Publishes("rejections_topic", ("contracts.submissions",)),
    ],
    routers=[routes.router],
    # the complainants' sealing keys, made for concurrent requests together
    shared=lambda settings: KeyMaker(),
)
