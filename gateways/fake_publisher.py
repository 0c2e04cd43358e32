"""An in-memory `Publisher` (gateways.publisher's port): the test decides when the session is
up and how each message is answered, so the agent's delivery logic runs without a broker."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from gateways.publisher import NO_MATCHING_SUBSCRIBERS, Ack


@dataclass(frozen=True, slots=True)
class SentMessage:
    mid: int
    topic: str
    payload: bytes


class InMemoryPublisher:
    """Records what is published; `connect`, `disconnect` and `ack` play the broker."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.acks: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self.sent: list[SentMessage] = []
        self.started = False
        self._answered: set[int] = set()

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False
        self.connected.clear()

    def publish(self, topic: str, payload: bytes) -> int:
        mid = len(self.sent) + 1
        self.sent.append(SentMessage(mid, topic, payload))
        return mid

    def connect(self) -> None:
        self.connected.set()

    def disconnect(self) -> None:
        """The session drops: messages not yet answered will never be."""
        self.connected.clear()
        self._answered.update(m.mid for m in self.sent)

    def ack(self, mid: int, delivered: bool = True) -> None:
        """Answer message `mid`: delivered, or accepted with nobody subscribed."""
        reason = "Success" if delivered else f"No matching subscribers ({NO_MATCHING_SUBSCRIBERS})"
        self._answered.add(mid)
        self.acks.put(Ack(mid, delivered, reason))

    def ack_all(self) -> None:
        """Answer every message not answered yet as delivered."""
        for message in self.sent:
            if message.mid not in self._answered:
                self.ack(message.mid)
