"""`pts stream status` when Kafka refuses the connection: the error reaches the caller and
no Kafka client is left open behind it (aiokafka warns "Unclosed AIOKafkaConsumer" when one
is garbage-collected unclosed)."""

from __future__ import annotations

import gc
import socket
import warnings

import pytest
from aiokafka.errors import KafkaConnectionError

from stream.status import committed_offsets, end_offsets

pytestmark = pytest.mark.integration


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_status_leaves_no_client_open() -> None:
    bootstrap = f"127.0.0.1:{_refusing_port()}"
    errors = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for call in (
            end_offsets(bootstrap, "readings.raw"),
            committed_offsets(bootstrap, "g", "t"),
        ):
            with pytest.raises(KafkaConnectionError) as raised:
                await call
            errors.append(type(raised.value).__name__)
            del raised  # its traceback holds the client's frame
        gc.collect()
    unclosed = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    assert (errors, unclosed) == (["KafkaConnectionError", "KafkaConnectionError"], [])
