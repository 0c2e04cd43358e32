"""The test suite's own broker accounts, made through the broker's admin API (the broker
ships none): `pts-test` reads and writes the test topics (and any $share group of them, as
bridges under test do); `gw-test` is an ordinary gateway. Benchmarks use the same accounts."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.broker_admin import AdminCredentials, BrokerAdmin
from ingest.broker_roles import Acl, BrokerRole, gateway_role

ROOT = Path(__file__).resolve().parent.parent
TEST_USER = ("pts-test", "pts-test-secret")
GATEWAY_USER = ("gw-test", "gw-test-secret")
_TOPICS = ("pts/#", "test/#", "$share/+/pts/#", "$share/+/test/#")
TEST_ROLE = BrokerRole(
    "test-suite",
    tuple(
        Acl(kind, topic)
        for kind in ("subscribePattern", "publishClientReceive", "publishClientSend")
        for topic in _TOPICS
    ),
)
_done: set[tuple[int, Path]] = set()


def admin_credentials(port: int, local_dir: Path | None = None) -> AdminCredentials:
    """The pts-admin account of the broker that deploy/local/mosquitto.sh runs in local_dir."""
    folder = local_dir or Path(os.environ.get("PTS_LOCAL_DIR", ROOT / ".local"))
    secret = folder / "mosquitto" / "secrets" / "pts-admin"
    return AdminCredentials.from_file("127.0.0.1", port, "pts-admin", secret)


def ensure_test_accounts(port: int, local_dir: Path | None = None) -> None:
    """Create (or refresh) pts-test and gw-test on that broker; once per broker and process."""
    key = (port, (local_dir or ROOT).resolve())
    if key in _done:
        return
    with BrokerAdmin.connect(admin_credentials(port, local_dir)) as admin:
        admin.ensure_role(TEST_ROLE)
        admin.ensure_client(TEST_USER[0], TEST_USER[1], [TEST_ROLE.name])
        gateway = gateway_role(GATEWAY_USER[0])
        admin.ensure_role(gateway)
        admin.ensure_client(GATEWAY_USER[0], GATEWAY_USER[1], [gateway.name])
    _done.add(key)
