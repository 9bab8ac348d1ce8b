"""The interface documents, generated from the code: ``make docs`` (``complaints docs``).

- ``docs/openapi/<service>.json``: each HTTP service's OpenAPI document (``app.openapi()``).
- ``docs/asyncapi.json``: FastStream's AsyncAPI 3.0 document of the topics: who appends which
  events to ``complaints.events`` (every registered type and version, the envelope around
  each), which consumer groups read it, and the dead-letter topic.

Everything is built with the default settings whatever the environment says, so the files
depend only on the code. ``python -m services.apidocs --check`` (and the test suite) fails
when a checked-in file differs from what the code generates now.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import create_model

from contracts import Envelope
from contracts.envelope import EventData, registered_events
from contracts.intake import Submission
from contracts.submissions import (
    HEADER_CHANNEL,
    HEADER_FORMAT,
    HEADER_SIGNATURE,
    AppComplaint,
    HotlineCall,
    SubmissionFormat,
    SupervisionCase,
)
from contracts.watermarks import Watermark
from services import catalog
from services.runtime.app import build_app
from services.runtime.service import ConsumingService
from services.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SERVICES = tuple(catalog.SERVICES)


def publishers() -> dict[str, tuple[str, str]]:
    """Which service appends the events a contracts module defines, and the setting naming the
    topic it appends them to, as the services' specs declare (``Publishes``)."""
    found: dict[str, tuple[str, str]] = {}
    for name, spec in catalog.specs().items():
        for publishes in spec.publishes:
            for module in publishes.contracts:
                found[module] = (name, publishes.topic)
    return found


DEAD_LETTER_HEADERS = {
    "dlq-consumer": "the consumer group that gave up on the record",
    "dlq-topic": "the topic it was read from",
    "dlq-partition": "its partition",
    "dlq-offset": "its offset there",
    "dlq-error": "why (exception type and message, at most 1000 characters)",
}

S = TypeVar("S", bound=Settings)


def default_settings(cls: type[S]) -> S:
    """``cls`` with every field at its default: the environment does not change the docs."""
    values = {
        name: field.get_default(call_default_factory=True)
        for name, field in cls.model_fields.items()
    }
    return cls(**values)


def service_apps() -> dict[str, FastAPI]:
    """Every service's app, built from its spec with default settings (never started)."""
    return {
        name: build_app(spec, default_settings(spec.settings))
        for name, spec in catalog.specs().items()
    }


def _event_model(event_type: str, version: int, body: type[EventData]) -> type[Envelope]:
    """The envelope of one event type and version, its ``data`` typed."""
    fields: dict[str, Any] = {
        "type": (Literal[event_type], ...),
        "schema_version": (Literal[version], ...),
        "data": (body, ...),
    }
    model: type[Envelope] = create_model(
        f"{event_type}EventV{version}",
        __base__=Envelope,
        __doc__=(body.__doc__ or event_type).strip(),
        **fields,
    )
    return model


def _union(models: list[type[Envelope]]) -> Any:
    return models[0] if len(models) == 1 else Union[tuple(models)]  # noqa: UP007


def _list_of(models: list[type[Envelope]] | None) -> Any:
    """``list[<one of models>]``, or ``list[bytes]`` for a topic that carries no events."""
    return list[_union(models)] if models else list[bytes]  # type: ignore[misc]


def asyncapi_document(apps: dict[str, FastAPI] | None = None) -> dict[str, Any]:
    """FastStream's AsyncAPI document of the platform's topics and events."""
    apps = apps if apps is not None else service_apps()
    settings = default_settings(Settings)
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        description="The platform's Kafka cluster (COMPLAINTS_KAFKA_BOOTSTRAP).",
    )
    on_topic = _publishers(broker, apps, settings)
    _subscribers(broker, apps, on_topic)
    _outside_topics(broker, settings)
    spec = AsyncAPI(
        broker,
        title="Complaints platform: topics and events",
        version="1",
        description=(
            "The event log of the complaint platform (物业客户投诉处理). Every fact is an event "
            "on complaints.events; each service's PostgreSQL schema is a projection of it."
        ),
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    # FastStream keeps endpoints in hash order: sort, so the file changes only with the code.
    for section in (document, document["components"]):
        for key in ("channels", "operations", "messages", "schemas"):
            if key in section:
                section[key] = dict(sorted(section[key].items()))
    return document


def _declaring(module: str, declared: Mapping[str, object]) -> str | None:
    """The declared module ``module`` is, or the declared package it is in
    (``contracts.lifecycle.handling`` is ``contracts.lifecycle``'s)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in declared:
            return ".".join(parts[:n])
    return None


def _publishers(
    broker: KafkaBroker, apps: dict[str, FastAPI], settings: Settings
) -> dict[str, list[type[Envelope]]]:
    """Declare on ``broker`` what each service appends to which topic (as its spec's
    ``publishes`` says); the event models on each topic."""
    appended: dict[tuple[str, str], list[type[Envelope]]] = {}  # (service, topic) → events
    declared = publishers()
    for (event_type, version), body in sorted(registered_events().items()):
        module = _declaring(body.__module__, declared)
        if module is None:
            raise RuntimeError(
                f"{body.__module__} defines events no service's spec publishes: add it to "
                "the `publishes` of the service that appends them, with the topic setting"
            )
        service, topic_setting = declared[module]
        topic = getattr(apps[service].state.settings, topic_setting)
        appended.setdefault((service, topic), []).append(_event_model(event_type, version, body))
    on_topic: dict[str, list[type[Envelope]]] = {}
    for (service, topic), models in appended.items():
        on_topic.setdefault(topic, []).extend(models)
        names = ", ".join(f"{m.__name__}" for m in models)
        broker.publisher(
            topic,
            title=f"{service}.appends" + ("" if topic == settings.topic_events else f":{topic}"),
            description=(
                f"Events {service} appends to {topic} ({names}). Key: the complaint id "
                "(one complaint's events stay in one partition, in order). Headers: "
                "event-type, schema-version, event-id, content-type. Kept forever."
            ),
            schema=_union(models),
        )
    return on_topic


def _subscribers(
    broker: KafkaBroker, apps: dict[str, FastAPI], on_topic: dict[str, list[type[Envelope]]]
) -> None:
    """Declare on ``broker`` every consumer group of every service, under its real name."""
    for name, app in apps.items():
        service_runtime = getattr(app.state, "service", None)
        if not isinstance(service_runtime, ConsumingService):
            continue
        for consumer in service_runtime.consumers:
            events = on_topic.get(consumer.topic)
            what = (
                "every event"
                if events
                else "every record (not event envelopes: see the contracts of this topic)"
            )
            broker.subscriber(
                consumer.topic,
                group_id=consumer.group_id,
                batch=True,
                title=consumer.name,
                description=(
                    f"Consumer group {consumer.group_id} of the {name} service (its offsets "
                    f"stored as {consumer.name}): applies {what} "
                    f"to its projection in schema {consumer.schema}, storing offsets with the "
                    "rows (nothing is committed to Kafka); a duplicate event_id is ignored; "
                    "older schema versions are upcast on read."
                ),
            )(_documented_handler(_list_of(events)))


def _outside_topics(broker: KafkaBroker, settings: Settings) -> None:
    """Declare the topics no service's events define: the channels' submissions (with their
    headers and signature rule) and the dead letters."""
    broker.publisher(
        settings.topic_submissions,
        title="channel adapters: submissions",
        description=(
            "What a channel adapter (hotline, owners' app, supervision line) appends instead of "
            "calling intake over HTTP; intake's group reads it. Value: one payload as JSON, of "
            "the format the headers name. Key: <channel>:<submission id> (retries keep it, so they "
            "stay in order). "
            f"Headers, all required: {HEADER_CHANNEL}: the channel (hotline, app, supervision); "
            f"{HEADER_SIGNATURE}: sha256=<hex HMAC-SHA256 of the record's value bytes, keyed "
            "with one of the channel's current keys (COMPLAINTS_INTAKE_API_KEYS)>; "
            f"{HEADER_FORMAT}: one of "
            + ", ".join(f.value for f in SubmissionFormat)
            + " (default submission). A record whose signature does not verify, whose format "
            "is not its channel's, or whose payload is refused becomes a SubmissionRejected "
            "event on the rejections topic (GET /v1/submissions/rejected), never a complaint."
        ),
        schema=HotlineCall | AppComplaint | SupervisionCase | Submission,
    )
    broker.publisher(
        settings.topic_deadletter,
        title="deadletter",
        description=(
            "A record a consumer could not apply, unchanged (value and key), after a few "
            "attempts; the consumer goes on. Headers: "
            + "; ".join(f"{k}: {v}" for k, v in DEAD_LETTER_HEADERS.items())
            + ". Also recorded in <schema>.dead_letters. Kept forever; "
            "`complaints deadletters replay` re-publishes to the original topic."
        ),
        schema=bytes,
    )
    broker.publisher(
        settings.topic_watermarks,
        title="watermarks",
        description=(
            "A producer's word that every event it decided before `before` is in the events "
            "topic `topic`, acknowledged by every in-sync replica (key: the producer). The "
            "workflow appends one after each round of its outbox relay, and every "
            "COMPLAINTS_WATERMARK_INTERVAL_S when idle; the SLA judges a deadline only once "
            "the workflow's watermark has passed it. One partition, kept an hour."
        ),
        schema=Watermark,
    )


def _documented_handler(payload: Any) -> Callable[..., Any]:
    """A handler whose only job is to carry ``payload`` as its body type for the document."""

    async def handle(events: Any) -> None:
        """Documentation only: never subscribed to a running broker."""

    handle.__annotations__ = {"events": payload, "return": None}
    return handle


def documents() -> dict[Path, str]:
    """Every generated file (path relative to the repository) and its content."""
    apps = service_apps()
    out = {
        Path("docs/openapi") / f"{name}.json": _dump(app.openapi()) for name, app in apps.items()
    }
    out[Path("docs/asyncapi.json")] = _dump(asyncapi_document(apps))
    return out


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def stale(root: Path = ROOT) -> list[Path]:
    """The files under ``root`` that differ from what the code generates now."""
    return [
        path
        for path, text in documents().items()
        if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text
    ]


def write(root: Path = ROOT) -> list[Path]:
    """Write every document that changed; return those written."""
    written = []
    for path, text in documents().items():
        target = root / path
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """``python -m services.apidocs [--check]``."""
    if "--check" in argv:
        out_of_date = stale()
        for path in out_of_date:
            print(f"out of date: {path}", file=sys.stderr)
        if out_of_date:
            print("run `make docs` and commit the result", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
