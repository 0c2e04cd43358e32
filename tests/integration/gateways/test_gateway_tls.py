"""The gateway over TLS to Mosquitto, with a CA made in the test; a wrong CA is refused clearly."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateways.agent import GatewayAgent
from gateways.agent_config import MqttConfig
from gateways.clock import SteppedClock
from gateways.simulator.fleet import make_fleet
from tests.integration.gateways.support import OwnMosquitto, Recorder, free_port, gateway_config

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 16, tzinfo=UTC)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    folder.mkdir(parents=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "2", "-subj", "/CN=PTS test CA", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)  # fmt: skip
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf",
            cwd=folder)  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
            "other.crt", "-days", "2", "-subj", "/CN=Some other CA", cwd=folder)  # fmt: skip


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[OwnMosquitto, int, Path]]:
    pki = tmp_path / "broker" / "mosquitto" / "tls"
    make_pki(pki)
    broker = OwnMosquitto(tmp_path / "broker")
    tls_port = free_port()
    broker.env["PTS_MQTTS_PORT"] = str(tls_port)
    broker.start()
    yield broker, tls_port, pki
    broker.stop()


async def test_readings_arrive_over_tls(
    tls_broker: tuple[OwnMosquitto, int, Path], tmp_path: Path
) -> None:
    """With the CA that signed the broker's certificate, readings arrive over TLS."""
    broker, tls_port, pki = tls_broker
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 2, T0, seed=8)
    await fleet.start()
    recorder = Recorder("127.0.0.1", broker.port, "pts/v1/gw-test/+/readings")
    config = gateway_config(fleet, tls_port, tmp_path / "spool.db")
    config = config.model_copy(update={"mqtt": MqttConfig(
        host="127.0.0.1", port=tls_port, username="gw-test", password="gw-test-secret",
        ca_file=pki / "ca.crt")})  # fmt: skip
    agent = GatewayAgent(config, clock)
    agent.publisher.start()
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        await agent.poll_once(T0)
        assert await agent.drain(seconds=20)
        await recorder.until(lambda: recorder.readings() >= 2, "both readings")
    finally:
        await agent.close()
        recorder.stop()
        await fleet.stop()
    assert {m: len(v) for m, v in recorder.received.items()} == {"SIM-0000": 1, "SIM-0001": 1}


async def test_unknown_certificate_is_refused_with_a_reason(
    tls_broker: tuple[OwnMosquitto, int, Path], tmp_path: Path
) -> None:
    """Trusting another CA: one clear log line saying the certificate failed, no crash."""
    _, tls_port, pki = tls_broker
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 1, T0, seed=9)
    await fleet.start()
    config = gateway_config(fleet, tls_port, tmp_path / "spool.db")
    config = config.model_copy(update={"mqtt": MqttConfig(
        host="127.0.0.1", port=tls_port, username="gw-test", password="gw-test-secret",
        ca_file=pki / "other.crt")})  # fmt: skip
    agent = GatewayAgent(config, clock)
    try:
        with capture_logs() as logs:
            agent.publisher.start()
            await agent.poll_once(T0)  # polling and spooling go on without the broker
    finally:
        await agent.close()
        await fleet.stop()
    failed = [e for e in logs if e["event"] == "mqtt_connect_failed"]
    assert len(failed) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in failed[0]["reason"]
    assert agent.publisher.connected.is_set() is False
