"""Who may do what on our MQTT broker, as Mosquitto dynamic-security roles (pure).

Mosquitto's ACL file cannot refuse a SUBSCRIBE (checked on Mosquitto 2.0.11: every
subscription is granted, only delivery is filtered). A gateway could therefore join the
bridge's shared subscription `$share/bridge/...`; the broker then hands it every n-th
message of other sites, which the ACL refuses to deliver to it, so the message is lost while
its publisher got PUBACK success. The dynamic-security plugin checks subscriptions, including
the `$share/<group>/` prefix, so the broker runs with it and these roles:

    bridge            subscribe `$share/<group>/<root>/#` only; receive `<root>/#`; read the
                      broker's message-store and session counts ($SYS, for its metrics)
    gateway:<id>      publish `<root>/<id>/#`; subscribe and receive `<root>/<id>/control/#`
    das:<provider>    publish `<root>/das/<provider>/<meter>/readings` for its own meters

Everything else is refused by the broker's defaults (`deploy/local/mosquitto.sh` writes them:
no publishing, no subscribing, no receiving unless a role grants it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ingest.errors import ConfigError
from ingest.topics import DAS_LEVEL, DEFAULT_ROOT, MULTI_METER
from schemas.ids import is_id

BRIDGE_USERNAME = "pts-bridge"
ADMIN_USERNAME = "pts-admin"
DEFAULT_SHARE_GROUP = "bridge"
# what the bridge's broker watch reads (ingest.broker_watch): messages held for offline
# sessions and how many sessions are offline
BROKER_SYS_TOPICS = ("$SYS/broker/store/messages/#", "$SYS/broker/clients/disconnected")
# names that are namespaces or the broker's own accounts: never a gateway's or a provider's
RESERVED_USERNAMES = frozenset({DAS_LEVEL, MULTI_METER, BRIDGE_USERNAME, ADMIN_USERNAME})


@dataclass(frozen=True, slots=True)
class Acl:
    """One dynamic-security ACL line (acltype as Mosquitto spells it)."""

    acltype: str  # publishClientSend | publishClientReceive | subscribePattern | ...
    topic: str
    allow: bool = True


@dataclass(frozen=True, slots=True)
class BrokerRole:
    name: str
    acls: tuple[Acl, ...]


def check_username(username: str, what: str) -> None:
    """Refuse a name the broker's namespaces or accounts would collide with."""
    if not is_id(username) or username in RESERVED_USERNAMES:
        raise ConfigError(
            f"{what}: MQTT username {username!r} is not allowed (1-64 letters, digits, '.', '_', "
            f"'-', starting with a letter or digit; not {sorted(RESERVED_USERNAMES)})"
        )


def check_password(password: str, what: str) -> None:
    if len(password) < 12 or any(c in password for c in "\r\n\0"):
        raise ConfigError(f"{what}: the MQTT password must be one line of at least 12 characters")


def bridge_role(root: str = DEFAULT_ROOT, share_group: str = DEFAULT_SHARE_GROUP) -> BrokerRole:
    """The bridge reads every readings topic, and only through its shared subscription."""
    return BrokerRole(
        "bridge",
        (
            Acl("subscribePattern", f"$share/{share_group}/{root}/#"),
            Acl("publishClientReceive", f"{root}/#"),
            *(
                Acl(acltype, topic)
                for topic in BROKER_SYS_TOPICS
                for acltype in ("subscribePattern", "publishClientReceive")
            ),
        ),
    )


def gateway_role(gateway_id: str, root: str = DEFAULT_ROOT) -> BrokerRole:
    """A gateway publishes below its own id and reads only its own control topics."""
    check_username(gateway_id, f"gateway {gateway_id}")
    control = f"{root}/{gateway_id}/control/#"
    return BrokerRole(
        f"gateway:{gateway_id}",
        (
            Acl("publishClientSend", f"{root}/{gateway_id}/#"),
            Acl("subscribePattern", control),
            Acl("publishClientReceive", control),
        ),
    )


def provider_role(
    provider_id: str, meter_ids: Iterable[str], root: str = DEFAULT_ROOT
) -> BrokerRole:
    """A DAS provider publishes only the topics of the meters of the systems it reports."""
    return BrokerRole(
        f"das:{provider_id}",
        tuple(
            Acl("publishClientSend", f"{root}/{DAS_LEVEL}/{provider_id}/{meter_id}/readings")
            for meter_id in sorted(set(meter_ids))
        ),
    )
