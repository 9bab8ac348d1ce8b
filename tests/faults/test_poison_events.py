"""Records a consumer cannot process land on the dead-letter topic with their error and
offset, and the consumer goes on with the next event."""

from __future__ import annotations

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import RunningSystem
from tests.e2e.helpers import READER, eventually, read_topic, wait_caught_up
from tests.faults.burst import complaint_event, publish, run_id

pytestmark = pytest.mark.infra


async def dead_letters(system: RunningSystem) -> list[dict[str, str]]:
    records = await read_topic(
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["deadletter"]
    )
    return [
        {
            **{k: v.decode() for k, v in r.headers},
            "value": (r.value or b"").decode(errors="replace"),
        }
        for r in records
    ]


async def test_wrong_shape_and_non_json_go_to_the_dead_letter_topic_and_the_stream_goes_on(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    key = f"poison-{run}".encode()
    wrong_shape = orjson.dumps(
        {
            "type": "ComplaintReceived",
            "schema_version": 1,
            "data": {"office": 42},
            "note": f"poison-{run}",
        }
    )
    not_json = b"\xff\xfe\x00 not json " + run.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        # same key: same partition, so the good event after them proves the consumer went on
        first = await producer.send_and_wait(topic, wrong_shape, key=key)
        second = await producer.send_and_wait(topic, not_json, key=key)
    finally:
        await producer.stop()
    good = complaint_event(f"毒丸园{run}", 0, run=run)
    await publish(bootstrap, topic, [good])

    async def applied() -> bool:
        resp = await http.get(
            f"{system.urls['reporting']}/v1/complaints/{good.complaint_id}", headers=READER
        )
        return resp.status_code == 200

    await eventually(applied)
    for schema in ("reporting", "workflow", "sla"):
        await wait_caught_up(system.database_url, bootstrap, topic, schema)

    letters = await dead_letters(system)
    poisoned = {str(first.offset), str(second.offset)}
    mine = [
        d
        for d in letters
        if d["dlq-partition"] == str(first.partition) and d["dlq-offset"] in poisoned
    ]
    for service in ("reporting", "workflow", "sla"):
        parked = {d["dlq-offset"] for d in mine if d["dlq-consumer"].startswith(f"{service}.")}
        assert parked == poisoned, (service, mine)
    for letter in mine:
        assert letter["dlq-topic"] == topic
        if letter["dlq-offset"] == str(second.offset):
            assert "Invalid JSON" in letter["dlq-error"], letter
        else:
            assert "office" in letter["dlq-error"] or "validation" in letter["dlq-error"], letter
