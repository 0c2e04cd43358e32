"""The bridge's cheap envelope check: one MQTT message in, Kafka records out (sans I/O).

The check reads only the envelope (version, batch id, source, readings' meter ids) with
schemas.envelope.peek_envelope (the one codec; msgspec); it does not validate readings nor
signatures — that is the stream's job. Outcomes:

- a payload for one meter that fits a Kafka record is forwarded with its original bytes;
- readings of several meters (topic `…/_multi/readings`) are split into one batch per meter,
  and a part larger than `max_value_bytes` into several batches (readings are kept verbatim);
  a signed batch is never split (its signature covers it whole): it is refused instead;
- anything else becomes one dead-letter record: the original bytes with headers
  `reason_code`, `reason`, `mqtt_topic` and `origin: bridge`.

Bounds: no record produced is larger than `max_value_bytes` (key, value and headers counted;
the broker's limit is 1 MiB and a refused record would stop the bridge). A dead letter whose
payload does not fit keeps a prefix, with headers `payload_sha256` and `payload_bytes` of the
whole; its topic and reason headers are cut (1 KiB, 2 KiB). A message with a reading that
cannot fit any record is refused whole as `too_large`; one above MAX_PAYLOAD_BYTES is not
decoded at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from ingest.errors import EnvelopeError, ReasonCode
from ingest.topics import TopicAddress, TopicScheme
from schemas.envelope import (
    EnvelopeDecodeError,
    EnvelopeHead,
    RawEnvelope,
    encode_raw_envelope,
    peek_envelope,
    split_envelope,
)
from schemas.ids import is_id
from schemas.reading import Source

MAX_READINGS = 10_000  # schemas.ReadingBatch.readings max_length
DEFAULT_MAX_VALUE_BYTES = 900_000  # below Kafka's default message.max.bytes (1 MiB)
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024  # an MQTT message above this is refused undecoded
MAX_TOPIC_HEADER = 1_024  # bytes of the MQTT topic kept in a dead letter's header
MAX_REASON_HEADER = 2_048  # bytes of the reason kept in a dead letter's header
_HASH_HEADERS = 128  # room for payload_sha256 and payload_bytes
_SOURCES = frozenset(s.value for s in Source)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Kafka record to produce: to the readings topic, or to the dead-letter topic."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    readings: int  # readings carried (0 for a dead letter)
    dead_letter: bool = False


def _schema(reason: str) -> EnvelopeError:
    return EnvelopeError(ReasonCode.SCHEMA_INVALID, reason)


def _decode(payload: bytes) -> tuple[EnvelopeHead, list[str], list[str], list[int]]:
    """The envelope, each reading's meter id, the distinct valid meter ids in order, and the
    places of readings whose meter id is not one (refused alone, unless all are)."""
    try:
        envelope = peek_envelope(payload)
    except EnvelopeDecodeError as exc:
        raise EnvelopeError(ReasonCode(exc.code), exc.reason) from exc
    if envelope.source not in _SOURCES:
        raise _schema(f"source {envelope.source!r} is not one of {sorted(_SOURCES)}")
    heads = envelope.readings
    if not 1 <= len(heads) <= MAX_READINGS:
        raise _schema(f"a batch carries 1 to {MAX_READINGS} readings, not {len(heads)}")
    if {(h.source, h.source_id) for h in heads} != {(envelope.source, envelope.source_id)}:
        index, head = next(
            (i, h)
            for i, h in enumerate(heads)
            if (h.source, h.source_id) != (envelope.source, envelope.source_id)
        )
        raise _schema(
            f"readings[{index}] comes from {head.source}:{head.source_id} but the batch is "
            f"from {envelope.source}:{envelope.source_id}; send one batch per source"
        )
    meters = [h.meter_id for h in heads]
    bad = [i for i, meter_id in enumerate(meters) if not is_id(meter_id)]
    if len(bad) == len(meters):
        raise _bad_meter_ids(meters, bad)
    distinct = list(dict.fromkeys(m for i, m in enumerate(meters) if not bad or i not in bad))
    return envelope, meters, distinct, bad


def _bad_meter_ids(meters: list[str], bad: list[int]) -> EnvelopeError:
    index = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return _schema(f"readings[{index}].meter_id {meters[index]!r} is not a meter id{more}")


def _check_topic(
    address: TopicAddress, envelope: EnvelopeHead, meters: list[str], distinct: list[str]
) -> None:
    if envelope.source != address.source.value or envelope.source_id != address.source_id:
        raise EnvelopeError(
            ReasonCode.TOPIC_MISMATCH,
            f"the topic belongs to {address.source.value}:{address.source_id} but the batch comes "
            f"from {envelope.source}:{envelope.source_id}; publish under your own id",
        )
    if address.meter_id is not None and distinct != [address.meter_id]:
        for index, meter_id in enumerate(meters):
            if meter_id != address.meter_id:
                raise EnvelopeError(
                    ReasonCode.TOPIC_MISMATCH,
                    f"readings[{index}] is for meter {meter_id!r} but the topic is meter "
                    f"{address.meter_id!r}; publish each meter on its own topic (or on "
                    f"…/_multi/readings from a gateway)",
                )


def _chunks(raws: list[msgspec.Raw], budget: int) -> list[list[msgspec.Raw]]:
    chunks: list[list[msgspec.Raw]] = [[]]
    size = 0
    for raw in raws:
        if chunks[-1] and size + len(raw) + 1 > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(raw)
        size += len(raw) + 1
    return chunks


def record_bytes(record: Outgoing) -> int:
    """What a record weighs against the broker's limit: key, value and headers."""
    return (
        len(record.key or b"") + len(record.value) + sum(len(k) + len(v) for k, v in record.headers)
    )


def _split(
    payload: bytes,
    meters: list[str],
    topic_header: tuple[str, bytes],
    max_value_bytes: int,
    bad: frozenset[int] = frozenset(),
) -> tuple[list[Outgoing], bytes | None]:
    """One record per meter (more where one does not fit), and the envelope of the readings
    at `bad` places (None without any)."""
    envelope: RawEnvelope = split_envelope(payload)
    by_meter: dict[str, list[msgspec.Raw]] = {}
    refused: list[msgspec.Raw] = []
    for index, (meter_id, raw) in enumerate(zip(meters, envelope.readings, strict=True)):
        if index in bad:
            refused.append(raw)
        else:
            by_meter.setdefault(meter_id, []).append(raw)
    overhead = (
        len(encode_raw_envelope(envelope, []))
        + len(topic_header[0])
        + len(topic_header[1])
        + 64  # the key (a meter id) and the list's brackets
    )
    out: list[Outgoing] = []
    for meter_id, raws in by_meter.items():
        for chunk in _chunks(raws, max(max_value_bytes - overhead, 1)):
            value = encode_raw_envelope(envelope, chunk)
            out.append(Outgoing(meter_id.encode(), value, (topic_header,), len(chunk)))
    return out, encode_raw_envelope(envelope, refused) if refused else None


def dead_letter(
    error: EnvelopeError,
    topic: str,
    payload: bytes,
    key: str | None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> Outgoing:
    """The dead-letter record for a refused payload: the original bytes (a prefix, with the
    whole one's SHA-256 and size, when they do not fit) and the reason."""
    headers: list[tuple[str, bytes]] = [
        ("reason_code", error.code.value.encode()),
        ("reason", error.reason.encode()[: min(MAX_REASON_HEADER, max_value_bytes // 4)]),
        (
            "mqtt_topic",
            topic.encode(errors="replace")[: min(MAX_TOPIC_HEADER, max_value_bytes // 8)],
        ),
        ("origin", b"bridge"),
    ]
    key_bytes = key.encode()[:64] if key else None
    budget = (
        max_value_bytes
        - len(key_bytes or b"")
        - sum(len(k) + len(v) for k, v in headers)
        - _HASH_HEADERS
    )
    value = payload
    if len(payload) > budget:
        value = payload[: max(budget, 0)]
        headers += [
            ("payload_sha256", hashlib.sha256(payload).hexdigest().encode()),
            ("payload_bytes", str(len(payload)).encode()),
        ]
    return Outgoing(key_bytes, value, tuple(headers), 0, dead_letter=True)


def route_message(
    scheme: TopicScheme,
    topic: str,
    payload: bytes,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> list[Outgoing]:
    """The Kafka records for one MQTT message (never raises for bad input: it dead-letters),
    each at most `max_value_bytes` (see the module docstring)."""
    address: TopicAddress | None = None
    try:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise EnvelopeError(
                ReasonCode.TOO_LARGE,
                f"the message is {len(payload)} bytes, above {MAX_PAYLOAD_BYTES}; send fewer "
                "readings per message",
            )
        address = scheme.parse(topic)
        envelope, meters, distinct, bad = _decode(payload)
        if bad and (envelope.signed or address.meter_id is not None):
            raise _bad_meter_ids(meters, bad)  # a signed batch stands or falls whole
        _check_topic(address, envelope, meters, distinct)
        topic_header = ("mqtt_topic", topic.encode())
        single = Outgoing(distinct[0].encode(), payload, (topic_header,), len(meters))
        if not bad and len(distinct) == 1 and record_bytes(single) <= max_value_bytes:
            return [single]
        if envelope.signed:
            raise EnvelopeError(
                ReasonCode.TOO_LARGE if len(distinct) == 1 else ReasonCode.SCHEMA_INVALID,
                "a signed batch cannot be split (its signature covers all of it): sign one "
                "meter per batch, few enough readings to fit a Kafka record",
            )
        records, refused = _split(payload, meters, topic_header, max_value_bytes, frozenset(bad))
        if any(record_bytes(r) > max_value_bytes for r in records):
            raise EnvelopeError(
                ReasonCode.TOO_LARGE,
                f"a reading of this message cannot fit a {max_value_bytes}-byte record; send "
                "readings without extra fields",
            )
        if refused is not None:  # only the readings of bad meter ids are refused
            letter = dead_letter(_bad_meter_ids(meters, bad), topic, refused, None, max_value_bytes)
            return [*records, letter]
        return records
    except EnvelopeError as exc:
        meter = address.meter_id if address else None
        return [dead_letter(exc, topic, payload, meter, max_value_bytes)]
