"""Bounds of the bridge's envelope check: every record it produces fits the broker's limit,
every refusal is a dead letter with a reason, and nothing else ever comes out."""

from __future__ import annotations

import hashlib
import json
import os

from hypothesis import given
from hypothesis import strategies as st

from ingest.envelope import Outgoing, record_bytes, route_message
from ingest.topics import OurTopics
from tests.fuzz.budget import fuzz_settings
from tests.unit.ingest.batches import batch_json, make_batch

SCHEME = OurTopics()
LIMIT = 900_000
TOPIC = "pts/v1/gw-1/m-1/readings"


def headers(out: Outgoing) -> dict[str, bytes]:
    return dict(out.headers)


def test_ten_mib_of_garbage_becomes_one_bounded_dead_letter() -> None:
    """10 MiB of random bytes: one dead letter within the record limit, holding a prefix of
    the payload and the SHA-256 and size of the whole."""
    garbage = b"\x00" + os.urandom(10 * 1024 * 1024 - 1)  # never the start of JSON
    [out] = route_message(SCHEME, TOPIC, garbage, LIMIT)
    found = headers(out)
    assert out.dead_letter is True
    assert record_bytes(out) <= LIMIT
    assert garbage.startswith(out.value)
    assert found["payload_sha256"] == hashlib.sha256(garbage).hexdigest().encode()
    assert found["payload_bytes"] == str(10 * 1024 * 1024).encode()
    assert found["origin"] == b"bridge"
    assert found["reason_code"] == b"malformed_json"


def test_a_small_refusal_keeps_its_whole_payload_and_says_its_origin() -> None:
    """A small bad payload is dead-lettered whole, without hash headers."""
    [out] = route_message(SCHEME, TOPIC, b"{oops", LIMIT)
    assert (out.value, headers(out)["origin"]) == (b"{oops", b"bridge")
    assert "payload_sha256" not in headers(out)


def test_a_huge_topic_name_is_cut_in_the_dead_letter_headers() -> None:
    """A 60,000-character topic is refused topic_invalid; its header is cut to 1,024 bytes."""
    topic = "pts/v1/" + "x/" * 30_000 + "readings"
    [out] = route_message(SCHEME, topic, b"{}", LIMIT)
    found = headers(out)
    assert found["reason_code"] == b"topic_invalid"
    assert len(found["mqtt_topic"]) <= 1_024
    assert len(found["reason"]) <= 2_048
    assert record_bytes(out) <= LIMIT


def test_a_single_reading_larger_than_a_record_is_dead_lettered_not_produced() -> None:
    """A reading padded with a 2 MB unknown field cannot fit any record: the message is a
    too_large dead letter (the broker would refuse the record and stop the bridge)."""
    data = json.loads(batch_json(make_batch(["m-1"], per_meter=2)))
    data["readings"][1]["padding"] = "x" * 2_000_000
    payload = json.dumps(data).encode()
    outs = route_message(SCHEME, TOPIC, payload, LIMIT)
    assert [o.dead_letter for o in outs] == [True]
    assert headers(outs[0])["reason_code"] == b"too_large"
    assert record_bytes(outs[0]) <= LIMIT


def test_a_large_multi_batch_is_split_into_records_that_fit() -> None:
    """10,000 readings of 4 meters in one _multi message: every record within the limit,
    every reading forwarded once, each record one meter's."""
    batch = make_batch(["m-1", "m-2", "m-3", "m-4"], per_meter=2_500)
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", batch_json(batch), 100_000)
    assert all(not o.dead_letter and record_bytes(o) <= 100_000 for o in outs)
    assert sum(o.readings for o in outs) == 10_000
    for out in outs:
        meters = {r["meter_id"] for r in json.loads(out.value)["readings"]}
        assert meters == {out.key.decode() if out.key else ""}


def test_the_bridge_listens_under_the_whole_root_so_malformed_topics_are_dead_lettered() -> None:
    """A valid batch on a malformed topic (an extra level) reaches the bridge's subscription
    and comes out as a topic_invalid dead letter, not silently dropped by the broker."""
    assert SCHEME.subscriptions("bridge") == ["$share/bridge/pts/v1/#"]
    payload = batch_json(make_batch(["m-1"]))
    [out] = route_message(SCHEME, "pts/v1/gw-1/m-1/extra/readings", payload, LIMIT)
    assert (out.dead_letter, headers(out)["reason_code"], out.value) == (
        True,
        b"topic_invalid",
        payload,
    )


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _batchlike(draw: st.DrawFn) -> bytes:
    """A real batch with some of its fields replaced by arbitrary JSON values."""
    data = json.loads(batch_json(make_batch(["m-1", "m-2"], per_meter=2)))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(
            st.sampled_from(
                [
                    "batch_id",
                    "source",
                    "source_id",
                    "sent_at",
                    "readings",
                    "schema_version",
                    "meter_id",
                    "energy_wh",
                    "ts",
                    "extra",
                ]
            )
        )
        value = draw(_json_values)
        readings = data.get("readings")
        if path in ("meter_id", "energy_wh", "ts"):
            index = draw(st.integers(0, 3))
            if (
                isinstance(readings, list)
                and index < len(readings)
                and isinstance(readings[index], dict)
            ):
                readings[index][path] = value
        else:
            data[path] = value
    return json.dumps(data).encode()


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "batchlike", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2_000))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    if kind == "deep":
        depth = draw(st.integers(1, 50_000))
        return b'{"readings": ' + b"[" * depth + b"]" * depth + b"}"
    return _batchlike(draw)


@fuzz_settings  # PTS_FUZZ_EXAMPLES (200 in CI; bench/fuzz.py runs more)
@given(
    payload=payloads(),
    topic=st.sampled_from(
        [TOPIC, "pts/v1/gw-1/_multi/readings", "pts/v1/das/acme/m-1/readings", "pts/v1/x"]
    )
    | st.text(max_size=60),
    limit=st.sampled_from([1_000, 5_000, LIMIT]),
)
def test_fuzz_envelope_gives_records_that_fit_or_a_dead_letter_with_a_reason(
    payload: bytes, topic: str, limit: int
) -> None:
    """Whatever the payload and topic: forwarded records of one meter, or dead letters with
    a reason code and a reason; every record within the limit; no other exception."""
    outs = route_message(SCHEME, topic, payload, limit)
    assert outs
    for out in outs:
        assert record_bytes(out) <= limit
        if out.dead_letter:
            assert headers(out)["reason_code"]
            assert headers(out)["reason"]
        else:
            assert out.readings >= 1
            assert out.key
