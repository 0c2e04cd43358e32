"""The gateway process killed with SIGKILL and restarted: readings survive in the spool,
sequence numbers keep increasing, nothing the meters served before the kill is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
import yaml

from gateways.simulator.fleet import make_fleet
from tests.integration.gateways.support import ROOT, Recorder, gateway_config

pytestmark = pytest.mark.integration


class FastClock:
    """Simulated time running 60× the wall clock from a sunny instant (registers move)."""

    def __init__(self, start: datetime, speed: float = 60.0) -> None:
        self._start, self._speed, self._t0 = start, speed, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self._speed)

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds() / self._speed))


def start_gateway(config: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from pts.cli import main; main()", "gateway", "run",
         "--config", str(config)],
        cwd=ROOT, env=dict(os.environ, PTS_LOG_FORMAT="json"),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def spooled_last_seq(path: Path) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    return int(row[0])


async def test_sigkill_and_restart_lose_nothing(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """Kill -9 mid-run, restart, stop: every value served before the kill arrives; seqs grow."""
    host, port = mqtt_broker
    clock = FastClock(datetime(2026, 6, 1, 15, tzinfo=UTC))
    fleet = make_fleet(clock, 5, datetime(2026, 5, 31, tzinfo=UTC), seed=21)
    await fleet.start()
    recorder = Recorder(host, port, "pts/v1/gw-test/+/readings")
    # a meter's late answer must not be taken for a lost reading: a read that timed out was
    # served but never spooled (the meters answer on this test's loop, slow under load)
    config = gateway_config(fleet, port, tmp_path / "spool.db").model_copy(
        update={"interval_s": 1, "timeout_s": 10.0}
    )
    config_path = tmp_path / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    log = (tmp_path / "gateway.log").open("ab")
    try:
        first = await asyncio.to_thread(start_gateway, config_path, log)
        # killed once each meter's readings of three polls went out (not after a pause: the
        # gateway's start-up alone took longer than 6 s under load)
        await recorder.until(
            lambda: all(len(recorder.values(m.meter_id)) >= 3 for m in fleet.meters),
            "three readings of each meter from the first gateway",
            120,
        )
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        killed_at = clock.now()
        seq_at_kill = spooled_last_seq(tmp_path / "spool.db")
        second = await asyncio.to_thread(start_gateway, config_path, log)

        def after_kill_arrived(polls: int) -> bool:
            return all(
                len({v for at, v in m.served if at > killed_at} & recorder.values(m.meter_id))
                >= polls
                for m in fleet.meters
            )

        await recorder.until(
            lambda: after_kill_arrived(3), "three readings of each meter after the restart", 120
        )
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 30) == 0
        # it drained its spool to the broker before exiting; the broker passes them on
        await recorder.until(
            lambda: all(
                {v for at, v in m.served if at > killed_at} <= recorder.values(m.meter_id)
                for m in fleet.meters
            ),
            "every reading served after the restart",
        )
    finally:
        for proc in (locals().get("first"), locals().get("second")):
            if isinstance(proc, subprocess.Popen) and proc.poll() is None:
                proc.kill()  # a wait above failed: no gateway outlives the test
                proc.wait(10)
        log.close()
        recorder.stop()
        await fleet.stop()
    assert seq_at_kill > 0
    assert spooled_last_seq(tmp_path / "spool.db") > seq_at_kill  # numbering went on
    assert all(len(readings) == 1 for readings in recorder.by_seq.values())  # no seq reused
    for meter in fleet.meters:
        got = recorder.values(meter.meter_id)
        missing = [(at, v) for at, v in meter.served if v not in got]
        # only a poll in flight at the kill (read, not yet spooled) may be missing: the
        # meter's last answer before the kill
        last_before_kill = max(at for at, _ in meter.served if at <= killed_at)
        assert len(missing) <= 1, (meter.meter_id, missing)
        assert all(at == last_before_kill for at, _ in missing), (meter.meter_id, missing)
        served_after = [v for at, v in meter.served if at > killed_at]
        assert served_after
        assert set(served_after) <= got
