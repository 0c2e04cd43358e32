"""Accounts and roles on our Mosquitto, through its dynamic-security control topic.

The broker keeps every password only as a salted PBKDF2-SHA512 hash (in its
`dynsec.json`); PTS sends a password once, when it is set, and stores none. Changes apply at
once, without a reload. The admin account (`pts-admin`) is made by
`deploy/local/mosquitto.sh` with a random password in a file readable only by its owner.

    with BrokerAdmin.connect(host, port, "pts-admin", password) as admin:
        admin.ensure_role(gateway_role("gw-7"))
        admin.ensure_client("gw-7", password, ["gateway:gw-7"])
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from ingest.broker_roles import Acl, BrokerRole
from ingest.errors import ConfigError, IngestError

log = structlog.get_logger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"


class BrokerAdminError(IngestError):
    """The broker refused an account or role change (the message is the broker's)."""


@dataclass(frozen=True, slots=True)
class AdminCredentials:
    host: str
    port: int
    username: str
    password: str

    @classmethod
    def from_file(
        cls, host: str, port: int, username: str, password_file: Path
    ) -> AdminCredentials:
        try:
            password = password_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the broker admin password from {password_file} ({exc.strerror}); "
                "deploy/local/mosquitto.sh writes it on the broker's first start "
                "(PTS_MQTT_ADMIN_PASSWORD_FILE)"
            ) from exc
        return cls(host, port, username, password)


class BrokerAdmin:
    """A synchronous client of the dynamic-security control API (one command at a time)."""

    def __init__(self, client: mqtt.Client, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        client.on_message = self._on_message

    @classmethod
    @contextmanager
    def connect(
        cls, credentials: AdminCredentials, timeout_s: float = 10.0
    ) -> Iterator[BrokerAdmin]:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pts-admin-{uuid.uuid4().hex[:8]}"
        )
        client.username_pw_set(credentials.username, credentials.password)
        connected = threading.Event()
        subscribed = threading.Event()
        outcome: list[str] = []

        def on_connect(c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
            outcome.append(str(rc))
            connected.set()
            if not rc.is_failure:
                c.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(c: mqtt.Client, u: Any, mid: int, rcs: Any, props: Any) -> None:
            outcome.extend(str(r) for r in rcs)
            subscribed.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        admin = cls(client, timeout_s)
        try:
            client.connect(credentials.host, credentials.port)
        except OSError as exc:
            raise BrokerAdminError(
                f"cannot reach the broker at {credentials.host}:{credentials.port}: {exc}"
            ) from exc
        client.loop_start()
        try:
            if not connected.wait(timeout_s) or outcome[0] != "Success":
                raise BrokerAdminError(
                    f"the broker refused the admin account {credentials.username!r}: "
                    f"{outcome[0] if outcome else 'no answer'}"
                )
            if not subscribed.wait(timeout_s) or any(r.startswith("Not") for r in outcome[1:]):
                raise BrokerAdminError(
                    "the admin account may not read the dynamic-security responses; is the "
                    "broker running with the dynamic-security plugin (deploy/local/mosquitto.sh)?"
                )
            yield admin
        finally:
            client.disconnect()
            client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self._lock:
            for response in responses:
                waiter = self._waiting.pop(str(response.get("correlationData", "")), None)
                if waiter is not None:
                    waiter[1].append(response)
                    waiter[0].set()

    def command(self, name: str, **fields: Any) -> dict[str, Any]:
        """Send one command; its response (`error` present when the broker refused it)."""
        correlation = uuid.uuid4().hex
        done = threading.Event()
        box: list[dict[str, Any]] = []
        with self._lock:
            self._waiting[correlation] = (done, box)
        payload = {"commands": [{"command": name, "correlationData": correlation, **fields}]}
        self._client.publish(CONTROL_TOPIC, json.dumps(payload), qos=1)
        if not done.wait(self._timeout_s):
            with self._lock:
                self._waiting.pop(correlation, None)
            raise BrokerAdminError(f"the broker did not answer {name} in {self._timeout_s} s")
        return box[0]

    def _checked(self, name: str, **fields: Any) -> dict[str, Any]:
        response = self.command(name, **fields)
        if "error" in response:
            raise BrokerAdminError(f"{name}: {response['error']}")
        return response

    # -- roles -----------------------------------------------------------------------------

    def role_acls(self, rolename: str) -> set[Acl] | None:
        """The role's ACLs, or None when there is no such role."""
        response = self.command("getRole", rolename=rolename)
        if "error" in response:
            return None
        acls = response.get("data", {}).get("role", {}).get("acls", [])
        return {Acl(a["acltype"], a["topic"], bool(a.get("allow", False))) for a in acls}

    def ensure_role(self, role: BrokerRole) -> None:
        """Create the role, or bring an existing one to exactly these ACLs."""
        current = self.role_acls(role.name)
        if current is None:
            self._checked("createRole", rolename=role.name, acls=[_acl_json(a) for a in role.acls])
            return
        wanted = set(role.acls)
        for acl in current - wanted:
            self._checked("removeRoleACL", rolename=role.name, acltype=acl.acltype, topic=acl.topic)
        for acl in wanted - current:
            self._checked("addRoleACL", rolename=role.name, **_acl_json(acl))

    def delete_role(self, rolename: str) -> bool:
        return "error" not in self.command("deleteRole", rolename=rolename)

    def role_names(self) -> list[str]:
        data = self._checked("listRoles", verbose=False).get("data", {})
        return [str(r) for r in data.get("roles", [])]

    # -- clients ---------------------------------------------------------------------------

    def client_roles(self, username: str) -> list[str] | None:
        """The client's role names, or None when there is no such client."""
        response = self.command("getClient", username=username)
        if "error" in response:
            return None
        roles = response.get("data", {}).get("client", {}).get("roles", [])
        return [str(r["rolename"]) for r in roles]

    def ensure_client(self, username: str, password: str | None, roles: Sequence[str]) -> bool:
        """Create the client with these roles, or give an existing one exactly these roles
        (and the password, when one is given). True when it was created."""
        current = self.client_roles(username)
        if current is None:
            if password is None:
                raise BrokerAdminError(f"no broker account {username!r}; give it a password")
            self._checked(
                "createClient",
                username=username,
                password=password,
                roles=[{"rolename": r} for r in roles],
            )
            log.info("broker_account_created", username=username, roles=list(roles))
            return True
        if password is not None:
            self._checked("setClientPassword", username=username, password=password)
        for rolename in set(current) - set(roles):
            self._checked("removeClientRole", username=username, rolename=rolename)
        for rolename in set(roles) - set(current):
            self._checked("addClientRole", username=username, rolename=rolename)
        log.info("broker_account_updated", username=username, roles=list(roles))
        return False

    def delete_client(self, username: str) -> bool:
        """Remove the account (its sessions are disconnected); False when there was none."""
        removed = "error" not in self.command("deleteClient", username=username)
        if removed:
            log.info("broker_account_deleted", username=username)
        return removed


def _acl_json(acl: Acl) -> dict[str, Any]:
    return {"acltype": acl.acltype, "topic": acl.topic, "allow": acl.allow}
