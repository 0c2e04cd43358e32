"""The test suite's own broker accounts, made through the broker's admin API (the broker
ships none): `pts-test` reads and writes the test topics (and any $share group of them, as
bridges under test do); `gw-test` is an ordinary gateway. Benchmarks use the same accounts."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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


def logs_in(port: int, user: tuple[str, str], timeout_s: float = 10.0) -> bool:
    """Whether the broker on `port` accepts this username and password (CONNACK success)."""
    accepted: list[bool] = []
    answered = threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, rc: object,
                   props: object) -> None:  # fmt: skip
        accepted.append(not getattr(rc, "is_failure", True))
        answered.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )  # fmt: skip
    client.username_pw_set(*user)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        answered.wait(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    return accepted == [True]


def ensure_test_accounts(port: int, local_dir: Path | None = None) -> None:
    """Create (or refresh) pts-test and gw-test on that broker; once per broker and process.

    A password is set only when the account does not already log in with it: the broker
    disconnects every session of an account whose password is set ("Administrative action"),
    and another process's tests (a second pytest, a benchmark) may have live sessions as
    pts-test; a bridge under test so disconnected was given its unacknowledged messages again.
    """
    key = (port, (local_dir or ROOT).resolve())
    if key in _done:
        return
    with BrokerAdmin.connect(admin_credentials(port, local_dir)) as admin:
        admin.ensure_role(TEST_ROLE)
        gateway = gateway_role(GATEWAY_USER[0])
        admin.ensure_role(gateway)
        for (name, password), role in ((TEST_USER, TEST_ROLE), (GATEWAY_USER, gateway)):
            exists = admin.client_roles(name) is not None
            keep = exists and logs_in(port, (name, password))
            admin.ensure_client(name, None if keep else password, [role.name])
    _done.add(key)
