"""The services' partitioner puts every key where aiokafka's default (and the Java client)
puts it: a complaint's events stay on one partition whichever producer appended them."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.kafka import (
    complaint_key,
    make_broker,
    murmur2,
    partition_for_key,
    partition_of,
)
from services.runtime.settings import Settings

DEFAULT = DefaultPartitioner()


@given(st.binary(max_size=200))
def test_murmur2_is_aiokafkas_for_any_bytes(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@pytest.mark.parametrize(
    ("key", "java"),
    [  # the Java client's own test vectors (UtilsTest.testMurmur2), signed as Java has them
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_is_the_java_clients(key: str, java: int) -> None:
    assert murmur2(key.encode()) == java & 0xFFFFFFFF


@given(st.uuids(), st.integers(min_value=1, max_value=64))
def test_a_complaint_goes_where_the_default_partitioner_sends_it(
    complaint_id: uuid.UUID, partitions: int
) -> None:
    key = complaint_key(complaint_id)
    every = list(range(partitions))
    expected = DEFAULT(key, every, every)
    assert partition_for_key(key, every, every) == expected
    assert partition_for_key(key, every, []) == expected  # the key's, available or not
    assert partition_of(complaint_id, partitions) == expected


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert {partition_for_key(None, [0, 1, 2], [2]) for _ in range(20)} == {2}


def test_the_services_producers_use_it() -> None:
    broker = make_broker(Settings(), client_id="test")
    assert broker._connection_kwargs["partitioner"] is partition_for_key
