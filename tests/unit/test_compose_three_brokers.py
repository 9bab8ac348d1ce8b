"""deploy/compose/three-brokers.yml, the example of Kafka for real deployments, read as a model
(there is no Docker engine here to run it): three KRaft brokers of one cluster, each writing
its log in a named volume of its own; the topics kept three times with two in sync; the
services pointed at all three over SASL_SSL. Each rule is also run on broken copies."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services import catalog
from services.runtime.settings import Settings, variable
from tests.unit.test_compose_durability import (
    KAFKA_IMAGE_DEFAULT_CLUSTER_ID,
    _env,
    named_volume_mounts,
    unpinned_images,
    unsafe_writes,
    writes,
)

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "deploy" / "compose" / "three-brokers.yml"
MODEL: dict[str, Any] = yaml.safe_load(FILE.read_text())
MAIN: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS: dict[str, type[Settings]] = {n: spec.settings for n, spec in catalog.specs().items()}
SERVICES = tuple(SETTINGS)


def brokers(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in model["services"].items()
        if str(service.get("image", "")).startswith("apache/kafka:")
    }


def client_endpoints(model: dict[str, Any]) -> set[str]:
    """host:port of every broker's advertised client listener."""
    found = set()
    for service in brokers(model).values():
        env = _env(service)
        client = re.search(r"CLIENT://([^,]+)", env["KAFKA_ADVERTISED_LISTENERS"])
        assert client, env["KAFKA_ADVERTISED_LISTENERS"]
        found.add(client.group(1))
    return found


def cluster_problems(model: dict[str, Any]) -> list[str]:
    """What keeps the brokers from being one cluster of three that keeps every write twice."""
    problems = []
    found = brokers(model)
    if len(found) != 3:
        problems.append(f"{len(found)} brokers, not 3")
    envs = {name: _env(s) for name, s in found.items()}
    ids = {env.get("KAFKA_NODE_ID") for env in envs.values()}
    if len(ids) != len(found):
        problems.append(f"node ids not distinct: {sorted(map(str, ids))}")
    clusters = {env.get("CLUSTER_ID") for env in envs.values()}
    if len(clusters) != 1 or clusters & {None, KAFKA_IMAGE_DEFAULT_CLUSTER_ID}:
        problems.append(f"not one fixed cluster id: {clusters}")
    for name, env in envs.items():
        voters = set(env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","))
        expected = {f"{e['KAFKA_NODE_ID']}@{n}:9093" for n, e in envs.items()}
        if voters != expected:
            problems.append(f"{name}: voters {sorted(voters)}, not {sorted(expected)}")
        for key, want in {
            "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
            "KAFKA_MIN_INSYNC_REPLICAS": "2",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2",
            "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE": "false",
        }.items():
            if env.get(key) != want:
                problems.append(f"{name}: {key}={env.get(key)}, not {want}")
    # Each broker its own volume: two brokers on one volume would be one copy, twice.
    volumes = [tuple(named_volume_mounts(model, s)) for s in found.values()]
    sources = [
        str(v).split(":")[0]
        for s in found.values()
        for v in s.get("volumes") or []
        if str(v).split(":")[0] in (model.get("volumes") or {})
    ]
    if len(set(sources)) != len(sources) or not all(volumes):
        problems.append(f"brokers share or lack a named volume: {sources}")
    return problems + unsafe_writes(model)


def service_problems(model: dict[str, Any]) -> list[str]:
    """What keeps a service from using all three brokers with replication 3 / min ISR 2."""
    problems = []
    endpoints = client_endpoints(model)
    for name in catalog.PROCESSES:
        env = _env(model["services"][name])
        want = {
            "COMPLAINTS_KAFKA_REPLICATION_FACTOR": "3",
            "COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS": "2",
            "COMPLAINTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        }
        for key, value in want.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key}={env.get(key)}, not {value}")
        bootstrap = set(env.get("COMPLAINTS_KAFKA_BOOTSTRAP", "").split(","))
        if bootstrap != endpoints:
            problems.append(f"{name}: bootstrap {sorted(bootstrap)}, not {sorted(endpoints)}")
        cafile = env.get("COMPLAINTS_KAFKA_SSL_CAFILE", "")
        mounted = [str(v).split(":")[1] for v in model["services"][name].get("volumes") or []]
        if cafile not in mounted:
            problems.append(f"{name}: CA file {cafile!r} is not mounted ({mounted})")
    return problems


def test_three_brokers_of_one_cluster_each_on_its_own_volume() -> None:
    assert sorted(brokers(MODEL)) == ["kafka1", "kafka2", "kafka3"]
    assert cluster_problems(MODEL) == []
    # Not vacuous: the places are the volumes.
    for name in ("kafka1", "kafka2", "kafka3"):
        assert writes(MODEL["services"][name]) == ["/var/lib/kafka/data"]
        assert named_volume_mounts(MODEL, MODEL["services"][name]) == ["/var/lib/kafka/data"]
    assert writes(MODEL["services"]["postgres"]) == ["/var/lib/postgresql/data"]


def test_the_services_use_all_three_with_replication_3_and_min_isr_2() -> None:
    assert client_endpoints(MODEL) == {"kafka1:9092", "kafka2:9092", "kafka3:9092"}
    assert service_problems(MODEL) == []


def test_every_variable_the_services_get_is_one_they_read() -> None:
    for name, service in catalog.PROCESSES.items():
        read = {variable(f) for f in SETTINGS[service].model_fields}
        given = set(_env(MODEL["services"][name]))
        assert "COMPLAINTS_KAFKA_SASL_PASSWORD" in given
        assert given - read == set(), name


def test_images_pinned_and_the_same_kafka_as_the_main_compose() -> None:
    assert unpinned_images(MODEL) == []
    assert {s["image"] for s in brokers(MODEL).values()} == {MAIN["services"]["kafka"]["image"]}


def _broken(change: str) -> dict[str, Any]:
    model = copy.deepcopy(MODEL)
    services = model["services"]
    if change == "two brokers":
        del services["kafka3"]
    elif change == "no volume":
        services["kafka2"]["volumes"] = services["kafka2"]["volumes"][1:]
    elif change == "shared volume":
        services["kafka3"]["volumes"][0] = "kafka1-data:/var/lib/kafka/data"
    elif change == "min isr 1":
        services["kafka1"]["environment"]["KAFKA_MIN_INSYNC_REPLICAS"] = 1
    elif change == "other cluster":
        services["kafka2"]["environment"]["CLUSTER_ID"] = "AAAAAAAAAAAAAAAAAAAAAA"
    elif change == "service one broker":
        services["sla"]["environment"]["COMPLAINTS_KAFKA_BOOTSTRAP"] = "kafka1:9092"
    elif change == "service rf 1":
        services["workflow"]["environment"]["COMPLAINTS_KAFKA_REPLICATION_FACTOR"] = "1"
    elif change == "plaintext":
        services["intake"]["environment"]["COMPLAINTS_KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    return model


@pytest.mark.parametrize(
    "change",
    [
        "two brokers",
        "no volume",
        "shared volume",
        "min isr 1",
        "other cluster",
        "service one broker",
        "service rf 1",
        "plaintext",
    ],
)
def test_the_checks_fail_on_a_broken_copy(change: str) -> None:
    model = _broken(change)
    assert cluster_problems(model) + service_problems(model) != []
