"""Kafka security and durability settings: checked at start in every mode, and turned into the
same client options for FastStream's broker and for every raw aiokafka client."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.runtime.kafka import (
    client_options,
    durability_mismatches,
    kafka_security,
    make_broker,
    topic_configs,
    wanted_topics,
)
from services.runtime.settings import Settings, read_settings


@pytest.fixture(autouse=True)
def no_complaints_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("COMPLAINTS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real self-signed CA certificate (PEM)."""
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca"],
        cwd=folder, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return folder / "ca.pem"


def named(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, str]:
    for key, value in env.items():
        monkeypatch.setenv(f"COMPLAINTS_{key.upper()}", value)
    settings, problems = read_settings(Settings)
    assert settings is not None or problems
    return {p.variable: p.reason for p in problems}


def test_plaintext_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert named(monkeypatch) == {}
    settings = Settings()
    assert kafka_security(settings) is None
    assert client_options(settings) == {"bootstrap_servers": "127.0.0.1:9092"}


@pytest.mark.parametrize("mode", ["local", "production"])
def test_sasl_without_credentials_is_refused_in_every_mode(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems = named(monkeypatch, env=mode, kafka_security_protocol="SASL_SSL")
    assert "COMPLAINTS_KAFKA_SASL_USERNAME" in problems
    assert "COMPLAINTS_KAFKA_SASL_PASSWORD" in problems
    assert "SASL_SSL authenticates with PLAIN" in problems["COMPLAINTS_KAFKA_SASL_PASSWORD"]


def test_credentials_without_sasl_are_refused_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problems = named(monkeypatch, kafka_sasl_username="intake", kafka_sasl_password="pw")
    assert set(problems) == {"COMPLAINTS_KAFKA_SASL_USERNAME", "COMPLAINTS_KAFKA_SASL_PASSWORD"}
    assert "does not use SASL" in problems["COMPLAINTS_KAFKA_SASL_USERNAME"]


def test_unknown_protocol_and_mechanism_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = named(monkeypatch, kafka_security_protocol="TLS", kafka_sasl_mechanism="GSSAPI")
    assert set(problems) == {
        "COMPLAINTS_KAFKA_SECURITY_PROTOCOL",
        "COMPLAINTS_KAFKA_SASL_MECHANISM",
    }


def test_a_missing_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    problems = named(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_cafile=str(missing))
    assert problems == {"COMPLAINTS_KAFKA_SSL_CAFILE": f"{str(missing)!r} is not a readable file"}


def test_a_ca_file_that_is_not_pem_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    problems = named(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_cafile=str(junk))
    assert list(problems) == ["COMPLAINTS_KAFKA_SSL_CAFILE"]
    assert "do not load" in problems["COMPLAINTS_KAFKA_SSL_CAFILE"]


def test_tls_files_without_tls_are_refused(monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> None:
    problems = named(monkeypatch, kafka_ssl_cafile=str(ca_file))
    assert "does not use TLS" in problems["COMPLAINTS_KAFKA_SSL_CAFILE"]


def test_a_key_without_its_certificate_is_refused(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    problems = named(
        monkeypatch,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(ca_file),
        kafka_ssl_keyfile=str(ca_file.with_name("ca.key")),
    )
    assert list(problems) == ["COMPLAINTS_KAFKA_SSL_KEYFILE"]


@pytest.mark.parametrize(
    ("rf", "isr", "variable"),
    [
        ("0", "1", "COMPLAINTS_KAFKA_REPLICATION_FACTOR"),
        ("3", "0", "COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS"),
        ("2", "3", "COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS"),
    ],
)
def test_impossible_replication_is_refused(
    rf: str, isr: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems = named(monkeypatch, kafka_replication_factor=rf, kafka_min_insync_replicas=isr)
    assert list(problems) == [variable]


def test_more_in_sync_replicas_than_copies_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = named(monkeypatch, kafka_replication_factor="2", kafka_min_insync_replicas="3")
    assert problems["COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS"] == (
        "3 is more than COMPLAINTS_KAFKA_REPLICATION_FACTOR=2: every write would be refused"
    )


def _warned(**kafka: object) -> set[str]:
    return {w.variable for w in Settings(env="production", **kafka).warnings()}  # type: ignore[arg-type]


def test_production_warns_about_one_copy_and_plaintext_but_starts() -> None:
    assert _warned() == {
        "COMPLAINTS_KAFKA_REPLICATION_FACTOR",
        "COMPLAINTS_KAFKA_SECURITY_PROTOCOL",
    }
    assert _warned(kafka_replication_factor=3, kafka_min_insync_replicas=1) == {
        "COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS",
        "COMPLAINTS_KAFKA_SECURITY_PROTOCOL",
    }
    assert _warned(kafka_replication_factor=3, kafka_min_insync_replicas=3) == {
        "COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS",
        "COMPLAINTS_KAFKA_SECURITY_PROTOCOL",
    }
    sasl = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "u",
        "kafka_sasl_password": "p",
    }
    assert _warned(kafka_replication_factor=3, kafka_min_insync_replicas=2, **sasl) == set()
    assert Settings(env="local").warnings() == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mechanism", "cls", "sent"),
    [
        ("PLAIN", SASLPlaintext, "PLAIN"),
        ("SCRAM-SHA-256", SASLScram256, "SCRAM-SHA-256"),
        ("SCRAM-SHA-512", SASLScram512, "SCRAM-SHA-512"),
    ],
)
def test_sasl_ssl_becomes_one_security_for_faststream_and_aiokafka(
    mechanism: str, cls: type[BaseSecurity], sent: str, ca_file: Path
) -> None:
    settings = Settings(
        kafka_bootstrap="k1:9093,k2:9093,k3:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,  # type: ignore[arg-type]
        kafka_sasl_username="intake",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=str(ca_file),
    )
    security = kafka_security(settings)
    assert type(security) is cls
    options = client_options(settings)
    assert options["bootstrap_servers"] == "k1:9093,k2:9093,k3:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == sent
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("intake", "s3cret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    # The FastStream broker the services use builds its consumers with the same security.
    consumers = make_broker(settings, client_id="t").config.broker_config.builder.keywords
    same = set(options) - {"bootstrap_servers", "ssl_context"}
    assert {k: consumers[k] for k in same} == {k: options[k] for k in same}
    assert consumers["ssl_context"].get_ca_certs() == context.get_ca_certs()


def test_sasl_plaintext_has_no_tls_and_ssl_has_no_sasl(ca_file: Path) -> None:
    plain = client_options(
        Settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="u",
            kafka_sasl_password="p",
        )
    )
    assert plain["security_protocol"] == "SASL_PLAINTEXT" and plain["ssl_context"] is None
    tls = client_options(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(ca_file)))
    assert tls["security_protocol"] == "SSL" and "sasl_mechanism" not in tls


def test_topics_are_wanted_with_the_replication_and_min_isr() -> None:
    settings = Settings(kafka_replication_factor=3, kafka_min_insync_replicas=2)
    wanted = wanted_topics(settings, extra=["complaints.events", "sla.alerts"])
    assert [t.name for t in wanted] == [
        "complaints.events",
        "complaints.submissions",
        "complaints.deadletter",
        "complaints.submissions.deadletter",
        "complaints.watermarks",
        "sla.alerts",
    ]
    assert {t.replication_factor for t in wanted} == {3}
    # The channels' records are in clear: their topics are kept a week; only the latest
    # watermark matters: an hour of them is kept; the rest forever.
    transient = {"complaints.submissions", "complaints.submissions.deadletter"}
    short = {*transient, "complaints.watermarks"}
    assert all(t.topic_configs == topic_configs(settings) for t in wanted if t.name not in short)
    (marks,) = [t for t in wanted if t.name == "complaints.watermarks"]
    assert marks.topic_configs == {
        **topic_configs(settings),
        "retention.ms": "3600000",
        "segment.ms": "600000",
    }
    week = str(7 * 24 * 3600 * 1000)
    assert all(
        t.topic_configs == {**topic_configs(settings), "retention.ms": week}
        for t in wanted
        if t.name in transient
    )
    assert topic_configs(settings) == {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": "2",
    }


def test_existing_topics_with_fewer_copies_are_weaker_more_are_only_noted() -> None:
    settings = Settings(kafka_replication_factor=3, kafka_min_insync_replicas=2)
    weaker, stronger = durability_mismatches(
        settings, {"a": (1, 1), "b": (3, 1), "c": (3, 2), "d": (5, 3)}
    )
    assert [w.split(":")[0] for w in weaker] == ["a", "b"]
    assert weaker[1] == (
        "b: replication factor 3, min.insync.replicas 1 "
        "(COMPLAINTS_KAFKA_REPLICATION_FACTOR=3, COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS=2)"
    )
    assert stronger == ["d: replication factor 5, min.insync.replicas 3"]
