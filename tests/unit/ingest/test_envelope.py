"""The bridge's envelope check: forward, split or dead-letter."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ingest.envelope import route_message
from ingest.topics import OurTopics
from schemas.reading import ReadingBatch, Source
from tests.unit.ingest.batches import batch_json, make_batch

SCHEME = OurTopics()


def test_single_meter_forwarded_verbatim() -> None:
    """A batch for the topic's meter goes out with its original bytes, keyed by the meter."""
    payload = batch_json(make_batch(["m-1"], per_meter=3))
    [out] = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload)
    assert out.key == b"m-1"
    assert out.value == payload
    assert out.readings == 3
    assert out.dead_letter is False
    assert out.headers == (("mqtt_topic", b"pts/v1/gw-1/m-1/readings"),)


def test_das_batch_forwarded() -> None:
    """A DAS provider's batch on its own topic is forwarded."""
    payload = batch_json(make_batch(["m-1"], source=Source.DAS, source_id="acme"))
    [out] = route_message(SCHEME, "pts/v1/das/acme/m-1/readings", payload)
    assert (out.key, out.value, out.dead_letter) == (b"m-1", payload, False)


def test_multi_meter_split_per_meter() -> None:
    """A gateway's _multi batch becomes one valid ReadingBatch per meter, readings in order."""
    batch = make_batch(["m-1", "m-2", "m-3"], per_meter=2)
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", batch_json(batch))
    assert [o.key for o in outs] == [b"m-1", b"m-2", b"m-3"]
    for out, meter in zip(outs, ["m-1", "m-2", "m-3"], strict=True):
        part = ReadingBatch.model_validate_json(out.value)
        assert part.batch_id == "b-1"
        assert part.readings == tuple(r for r in batch.readings if r.meter_id == meter)
        assert out.readings == 2


def test_large_batch_split_under_limit() -> None:
    """A part larger than the record limit is cut into batches that each fit."""
    batch = make_batch(["m-1"], per_meter=100)
    payload = batch_json(batch)
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload, max_value_bytes=5_000)
    assert len(outs) == len(payload) // 5_000 + 1
    assert all(len(o.value) <= 5_000 for o in outs)
    readings = [r for o in outs for r in ReadingBatch.model_validate_json(o.value).readings]
    assert tuple(readings) == batch.readings
    assert sum(o.readings for o in outs) == 100


def _reason(outs: list, code: str) -> str:  # type: ignore[type-arg]
    [out] = outs
    assert out.dead_letter is True
    headers = dict(out.headers)
    assert headers["reason_code"] == code.encode()
    return str(headers["reason"].decode())


def test_malformed_json_dead_lettered() -> None:
    """Bytes that are not JSON go to the dead letter with their original bytes."""
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", b"{not json")
    reason = _reason(outs, "malformed_json")
    assert reason.startswith("not JSON: ")
    assert outs[0].value == b"{not json"
    assert outs[0].key == b"m-1"
    assert dict(outs[0].headers)["mqtt_topic"] == b"pts/v1/gw-1/m-1/readings"


def test_not_an_envelope_dead_lettered() -> None:
    """JSON that is not a batch envelope is schema_invalid."""
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", b'{"hello": 1}')
    assert _reason(outs, "schema_invalid").startswith("not a reading batch envelope")


def test_wrong_version_dead_lettered() -> None:
    """schema_version other than 1 and 2 is refused."""
    data = json.loads(batch_json(make_batch(["m-1"])))
    data["schema_version"] = 3
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", json.dumps(data).encode())
    assert _reason(outs, "schema_invalid") == "schema_version 3 is not one of [1, 2]"


def test_empty_readings_dead_lettered() -> None:
    """A batch without readings is refused."""
    data = json.loads(batch_json(make_batch(["m-1"])))
    data["readings"] = []
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", json.dumps(data).encode())
    assert _reason(outs, "schema_invalid") == "a batch carries 1 to 10000 readings, not 0"


def test_bad_meter_id_dead_lettered() -> None:
    """A reading whose meter_id is not a meter id is refused, alone: the batch's other
    readings are forwarded; a batch of nothing but such readings is refused whole."""
    data = json.loads(batch_json(make_batch(["m-1"])))
    data["readings"][1]["meter_id"] = "bad/id"
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", json.dumps(data).encode())
    assert [(o.key, o.readings, o.dead_letter) for o in outs] == [
        (b"m-1", 1, False),
        (None, 0, True),
    ]
    assert _reason(outs[1:], "schema_invalid") == "readings[1].meter_id 'bad/id' is not a meter id"
    assert [r["meter_id"] for r in json.loads(outs[1].value)["readings"]] == ["bad/id"]
    data["readings"][0]["meter_id"] = "bad/too"
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", json.dumps(data).encode())
    assert _reason(outs, "schema_invalid") == (
        "readings[0].meter_id 'bad/too' is not a meter id (and 1 more)"
    )


def test_reading_of_other_source_dead_lettered() -> None:
    """Every reading must come from the batch's source (as ReadingBatch requires)."""
    data = json.loads(batch_json(make_batch(["m-1"], per_meter=3)))
    data["readings"][2]["source_id"] = "gw-9"
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", json.dumps(data).encode())
    assert _reason(outs, "schema_invalid") == (
        "readings[2] comes from gateway:gw-9 but the batch is from gateway:gw-1; "
        "send one batch per source"
    )


def test_gateway_mismatch_dead_lettered() -> None:
    """A batch from gw-2 on gw-1's topic is topic_mismatch."""
    payload = batch_json(make_batch(["m-1"], source_id="gw-2"))
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload)
    assert _reason(outs, "topic_mismatch") == (
        "the topic belongs to gateway:gw-1 but the batch comes from gateway:gw-2; "
        "publish under your own id"
    )


def test_meter_mismatch_dead_lettered() -> None:
    """A reading of another meter than the topic's is topic_mismatch."""
    payload = batch_json(make_batch(["m-1", "m-2"]))
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload)
    assert _reason(outs, "topic_mismatch").startswith(
        "readings[2] is for meter 'm-2' but the topic is meter 'm-1'"
    )


def test_das_as_gateway_mismatch() -> None:
    """A DAS batch on a gateway topic is topic_mismatch (source differs)."""
    payload = batch_json(make_batch(["m-1"], source=Source.DAS, source_id="gw-1"))
    outs = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload)
    assert _reason(outs, "topic_mismatch").startswith("the topic belongs to gateway:gw-1")


def test_bad_topic_dead_lettered_without_key() -> None:
    """A topic that is not a readings topic is dead-lettered without a key."""
    outs = route_message(SCHEME, "pts/v1/gw-1/x/y/readings", b"{}")
    _reason(outs, "topic_invalid")
    assert outs[0].key is None


@given(
    meters=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=40),
    limit=st.integers(min_value=600, max_value=20_000),
)
def test_split_keeps_every_reading_once(meters: list[str], limit: int) -> None:
    """Splitting by meter and size keeps every reading exactly once, in order per meter."""
    batch = make_batch(["x"], per_meter=1)
    readings = tuple(
        r.model_copy(update={"meter_id": m, "content_hash": ""}, deep=True)
        for m, r in zip(meters, [batch.readings[0]] * len(meters), strict=True)
    )
    rebuilt = ReadingBatch.model_validate(
        {**batch.model_dump(), "readings": [r.model_dump() for r in readings]}
    )
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", batch_json(rebuilt), limit)
    got: dict[str, list[str]] = {}
    for out in outs:
        part = ReadingBatch.model_validate_json(out.value)
        assert {r.meter_id for r in part.readings} == {out.key.decode()}  # type: ignore[union-attr]
        got.setdefault(out.key.decode(), []).extend(r.meter_id for r in part.readings)  # type: ignore[union-attr]
    assert sum(len(v) for v in got.values()) == len(meters)
    assert {k: len(v) for k, v in got.items()} == {m: meters.count(m) for m in set(meters)}


def test_gateway_agent_payload_forwarded() -> None:
    """What the gateway agent publishes (gateways.agent.batch_payload) passes the check."""
    from gateways.agent import batch_payload

    reading = make_batch(["m-1"]).readings[0]
    payload = batch_payload("gw-1", [reading.model_dump_json()])
    [out] = route_message(SCHEME, "pts/v1/gw-1/m-1/readings", payload)
    assert (out.key, out.value, out.dead_letter, out.readings) == (b"m-1", payload, False, 1)


def test_a_signed_batch_is_refused_rather_than_split() -> None:
    """A signed batch of two meters cannot be split without breaking its signature: it is
    dead-lettered as schema_invalid, saying to sign one meter per batch."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateways.signing import Ed25519Signer
    from schemas.envelope import decode_wire_reading, encode_wire_batch

    batch = make_batch(["m-1", "m-2"])
    wire = [decode_wire_reading(r.model_dump_json()) for r in batch.readings]
    signer = Ed25519Signer.of(Ed25519PrivateKey.generate())
    payload = encode_wire_batch("b-9", "gateway", "gw-1", batch.sent_at, wire, signer)
    outs = route_message(SCHEME, "pts/v1/gw-1/_multi/readings", payload)
    assert _reason(outs, "schema_invalid").startswith("a signed batch cannot be split")
