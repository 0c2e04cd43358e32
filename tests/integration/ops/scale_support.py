"""Helpers for the scale-out test (not a test module): the gateway side publishing a fleet's
month to MQTT at a steady rate, paused at marks the test moves, and bridge processes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateways.publisher import MqttPublisher
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import PTS, events, start_bridge, unique


class GatewayFeed:
    """The gateway's own MQTT publisher (gateways.publisher: MQTT 5, QoS 1, persistent
    session) sending `messages` in order, `rate` a second, never past the mark `allow` set.

    As the gateway agent does, a message the broker answers "not delivered" (nobody was
    subscribed) is sent again after a pause; `delivered` counts messages some subscriber
    took. Thread-based: the test waits on the counts with deadlines.
    """

    def __init__(
        self, host: str, port: int, messages: Sequence[tuple[str, bytes]], rate: float
    ) -> None:
        self.messages = list(messages)
        self.publisher = MqttPublisher(host, port, unique("gw-feed"), *TEST_USER)
        self.sent = 0  # messages published for the first time
        self.delivered = 0
        self.resent = 0
        self._interval = 1.0 / rate
        self._allowed = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}  # MQTT message id -> index in messages
        self._again: list[int] = []
        self._thread = threading.Thread(target=self._run, name="gateway-feed", daemon=True)

    def start(self) -> None:
        self.publisher.start()
        assert self.publisher.connected.wait(10), "the gateway publisher did not connect"
        self._thread.start()

    def allow(self, fraction: float) -> int:
        """Let the feed go on up to `fraction` of the messages; the mark (a message count)."""
        with self._cond:
            self._allowed = max(self._allowed, round(len(self.messages) * fraction))
            self._cond.notify_all()
            return self._allowed

    @property
    def done(self) -> bool:
        return self.delivered == len(self.messages)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(10)
        self.publisher.stop()

    def _run(self) -> None:
        next_at = time.monotonic()
        for index, (topic, payload) in enumerate(self.messages):
            with self._cond:
                while index >= self._allowed and not self._stop.is_set():
                    self._cond.wait(0.1)
                    self._collect()
            if self._stop.is_set():
                return
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = max(next_at + self._interval, time.monotonic() - 1.0)
            self._inflight[self.publisher.publish(topic, payload)] = index
            self.sent = index + 1
            self._collect()
        while not self.done and not self._stop.is_set():
            time.sleep(0.05)
            self._collect()

    def _collect(self) -> None:
        while not self.publisher.acks.empty():
            ack = self.publisher.acks.get_nowait()
            index = self._inflight.pop(ack.mid)
            if ack.delivered:
                self.delivered += 1
            else:
                self._again.append(index)
        if self._again and not self._stop.wait(0.2):
            again, self._again = self._again, []
            for index in again:
                topic, payload = self.messages[index]
                self._inflight[self.publisher.publish(topic, payload)] = index
                self.resent += 1


@dataclass
class BridgeProcess:
    """One `pts bridge run` process in the test's share group, logging JSON to `log`."""

    env: dict[str, str]
    root: str
    group: str
    log: Path
    client_id: str = field(default_factory=lambda: unique("bridge"))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = start_bridge(self.env, self.client_id, self.root, self.group, self.log)

    def subscribed(self) -> bool:
        """The broker granted its subscriptions (it logs `mqtt_subscribed`)."""
        return bool(events(self.log, "mqtt_subscribed"))

    def stop(self) -> int:
        """SIGTERM: the bridge forwards and acknowledges what it received, then exits."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def carried(self) -> int:
        """Messages it acknowledged, from its `bridge_stopped` log line."""
        (stopped,) = events(self.log, "bridge_stopped")
        messages = stopped["messages"]
        assert isinstance(messages, int)
        return messages


def pts(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `pts` command as an operator runs it."""
    return subprocess.run(
        [*PTS, *args], env=dict(os.environ) | env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
