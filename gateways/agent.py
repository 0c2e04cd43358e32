"""The gateway agent: poll on interval boundaries → spool → publish → PUBACK → delete.

Order for every reading: it is written to the spool (with its sequence number) before it is
published, and deleted from the spool only after the broker's PUBACK for the message that
carried it. After an outage or a restart, the spool is replayed oldest first, each replayed
reading flagged REPLAYED (the flag is provenance: the content hash leaves flags out, so a
reading that did get through before the outage stays a duplicate downstream).

Each message is built by the one envelope codec (schemas.envelope) from the spooled JSON and,
with `signing_key_file` configured, signed with the gateway's Ed25519 key over the canonical
encoding (docs/provenance.md). The REPLAYED flag is outside what a signature covers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import structlog

from gateways.agent_config import GatewayConfig
from gateways.clock import Clock, next_boundary
from gateways.errors import SpoolFullError
from gateways.metrics import GatewayStats
from gateways.poller import MeterPoller
from gateways.publisher import MqttPublisher, Publisher, TlsSettings, readings_topic
from gateways.sample import MeterSample
from gateways.signing import load_signer
from gateways.spool import Spool
from schemas.envelope import Signer, WireReading, decode_wire_reading, encode_wire_batch
from schemas.reading import QualityFlag, Source

log = structlog.get_logger(__name__)

RESEND_PAUSE_MIN_S = 0.5
RESEND_PAUSE_MAX_S = 30.0


def mark_replayed(reading: WireReading) -> WireReading:
    """The reading with the REPLAYED flag added (once)."""
    if QualityFlag.REPLAYED.value in reading.flags:
        return reading
    return msgspec.structs.replace(
        reading, flags=sorted({*reading.flags, QualityFlag.REPLAYED.value})
    )


def batch_payload(
    gateway_id: str,
    readings: Sequence[str | WireReading],
    signer: Signer | None = None,
) -> bytes:
    """The ReadingBatch JSON of spooled readings (their JSON or decoded), signed by `signer`
    over the canonical encoding when given (schemas.envelope, the one codec)."""
    wire = [decode_wire_reading(r) if isinstance(r, str) else r for r in readings]
    return encode_wire_batch(
        uuid.uuid4().hex, Source.GATEWAY.value, gateway_id, datetime.now(UTC), wire, signer
    )


class GatewayAgent:
    def __init__(
        self,
        config: GatewayConfig,
        clock: Clock,
        poller: MeterPoller | None = None,
        publisher: Publisher | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.poller = poller or MeterPoller(config.meters, clock, timeout=config.timeout_s)
        mqtt = config.mqtt
        tls = TlsSettings(mqtt.ca_file, mqtt.cert_file, mqtt.key_file) if mqtt.ca_file else None
        self.publisher: Publisher = publisher or MqttPublisher(
            mqtt.host,
            mqtt.port,
            f"pts-gw-{config.gateway_id}",
            mqtt.username,
            mqtt.secret(),
            tls,
        )
        self.spool = spool or Spool(
            config.spool_path, config.gateway_id, config.spool_max_rows, config.spool_max_bytes
        )
        # signs every batch when the configuration names a key (pts gateway keygen)
        self.signer = load_signer(config.signing_key_file) if config.signing_key_file else None
        self._inflight: OrderedDict[int, list[int]] = OrderedDict()
        self._published_upto = 0
        # readings up to this seq go out as replays: spooled by an earlier run, while the
        # broker was unreachable, or published before a connection was lost
        self._replay_upto = self.spool.last_seq()
        self._was_connected = False
        self.stats = GatewayStats()
        # readings whose message the broker did not deliver (nobody subscribed, or refused):
        # they stay in the spool and are sent again after a pause that doubles up to 30 s
        self._resend: list[int] = []
        self._resend_after = 0.0
        self._resend_pause = RESEND_PAUSE_MIN_S

    async def run(self, stop: asyncio.Event, until: datetime | None = None) -> None:
        """Poll and publish until `stop` is set (or the clock passes `until`)."""
        self.publisher.start()
        interval = timedelta(seconds=self.config.interval_s)
        tick = next_boundary(self.clock.now(), interval)
        log.info("gateway_started", gateway_id=self.config.gateway_id,
                 meters=len(self.config.meters), spooled=self.spool.count())  # fmt: skip
        while not stop.is_set() and (until is None or tick <= until):
            await self._sleep_until(tick, stop)
            if stop.is_set():
                break
            await self.poll_once(tick)
            tick += interval

    async def _sleep_until(self, when: datetime, stop: asyncio.Event) -> None:
        while self.clock.now() < when and not stop.is_set():
            self.flush()
            step = min((when - self.clock.now()).total_seconds(), 0.2)
            if step <= 0:
                break
            await self.clock.sleep_until(min(when, self.clock.now() + timedelta(seconds=step)))

    async def poll_once(self, tick: datetime) -> int:
        """Poll every meter for `tick`, spool the samples, publish what can go out."""
        results = await self.poller.poll_all(tick)
        samples = [r for r in results if isinstance(r, MeterSample)]
        self.stats.polled += len(samples)
        self.stats.poll_failures += len(results) - len(samples)
        # A full spool logs and refuses; registers are cumulative, energy carries forward.
        try:
            self.spool.store(samples)
        except SpoolFullError:
            self.stats.spool_refused += len(samples)
        else:
            self.stats.spooled += len(samples)
            if not self.publisher.connected.is_set():
                self._replay_upto = self.spool.last_seq()
        self.stats.last_poll_unix = time.time()
        self.flush()
        return len(samples)

    def flush(self) -> None:
        """Delete acknowledged readings; publish pending ones up to the in-flight bound."""
        self._collect_acks()
        connected = self.publisher.connected.is_set()
        if connected and not self._was_connected:
            self._replay_upto = max(self._replay_upto, self._published_upto)
            self._published_upto = 0  # (re)connected: replay everything not yet acknowledged
            self._inflight.clear()
            self._resend.clear()  # part of that replay
        self._was_connected = connected
        if not connected:
            return
        if self._resend and time.monotonic() >= self._resend_after:
            again = sorted(set(self._resend))
            sent = self._send(self.spool.rows(again))
            self._resend = [seq for seq in again if seq not in sent]  # in flight was full
        room = self.config.max_inflight - len(self._inflight)
        if room <= 0:
            return
        rows = self.spool.pending(room * self.config.max_batch, after=self._published_upto)
        # the watermark moves only when every row went out: rows past the in-flight bound are
        # fetched again by the next flush (a row already sent goes out twice; the stream dedupes)
        sent = self._send(rows)
        for seq, _, _ in rows:  # oldest first: the watermark stops at the first row not sent
            if seq not in sent:
                break
            self._published_upto = seq

    def _send(self, rows: list[tuple[int, str, str]]) -> set[int]:
        """Publish spooled rows, one message per meter and `max_batch` readings, until the
        in-flight bound; the sequence numbers that went out."""
        sent: set[int] = set()
        by_meter: OrderedDict[str, list[tuple[int, str]]] = OrderedDict()
        for seq, meter_id, body in rows:
            by_meter.setdefault(meter_id, []).append((seq, body))
        for meter_id, items in by_meter.items():
            for start in range(0, len(items), self.config.max_batch):
                chunk = items[start : start + self.config.max_batch]
                if len(self._inflight) >= self.config.max_inflight:
                    return sent
                readings = [decode_wire_reading(b) for _, b in chunk]
                readings = [
                    mark_replayed(r) if s <= self._replay_upto else r
                    for (s, _), r in zip(chunk, readings, strict=True)
                ]
                payload = batch_payload(self.config.gateway_id, readings, self.signer)
                mid = self.publisher.publish(
                    readings_topic(self.config.gateway_id, meter_id), payload
                )
                self._inflight[mid] = [s for s, _ in chunk]
                sent.update(s for s, _ in chunk)
                self.stats.published += len(chunk)
        return sent

    def _collect_acks(self) -> None:
        done: list[int] = []
        undelivered: list[int] = []
        reason = ""
        while not self.publisher.acks.empty():
            ack = self.publisher.acks.get_nowait()
            seqs = self._inflight.pop(ack.mid, [])
            if ack.delivered:
                done += seqs
            else:
                undelivered += seqs
                reason = ack.reason
        if done:
            self.spool.ack(done)
            self.stats.acknowledged += len(done)
            self._resend_pause = RESEND_PAUSE_MIN_S
        if undelivered:
            if not self._resend:
                log.warning("readings_not_delivered", readings=len(undelivered), reason=reason,
                            retry_in_s=self._resend_pause)  # fmt: skip
            self._resend += undelivered
            self.stats.undelivered += len(undelivered)
            self._resend_after = time.monotonic() + self._resend_pause
            self._resend_pause = min(self._resend_pause * 2, RESEND_PAUSE_MAX_S)

    async def drain(self, seconds: float) -> bool:
        """Publish until the spool is empty (True) or `seconds` pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            self.flush()
            if self.spool.count() == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        self.publisher.stop()
        await self.poller.close()
        self.spool.close()
