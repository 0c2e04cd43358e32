"""Broker roles of DAS providers and gateways, from registry records (pure)."""

from __future__ import annotations

import pytest

from ingest.broker_roles import Acl, bridge_role, check_password, gateway_role
from ingest.das.acl import BrokerAccount, check_accounts, provider_roles
from ingest.errors import ConfigError

ACME = BrokerAccount("acme", "das-acme", ("m-2", "m-1", "m-1"))
SOLAR = BrokerAccount("solarco", "das-solarco", ())


def test_provider_role_one_topic_per_meter() -> None:
    """Each provider may publish only its own meters' topics, each once, sorted by username."""
    roles = provider_roles([SOLAR, ACME])
    assert [(a.username, r.name, r.acls) for a, r in roles] == [
        (
            "das-acme",
            "das:acme",
            (
                Acl("publishClientSend", "pts/v1/das/acme/m-1/readings"),
                Acl("publishClientSend", "pts/v1/das/acme/m-2/readings"),
            ),
        ),
        ("das-solarco", "das:solarco", ()),
    ]


def test_provider_role_custom_root() -> None:
    """The topic root follows the broker's."""
    ((_, role),) = provider_roles([ACME], "test/x")
    assert Acl("publishClientSend", "test/x/das/acme/m-1/readings") in role.acls


def test_gateway_role_own_prefix_only() -> None:
    """A gateway publishes below its own id and reads only its own control topics."""
    assert gateway_role("gw-7").acls == (
        Acl("publishClientSend", "pts/v1/gw-7/#"),
        Acl("subscribePattern", "pts/v1/gw-7/control/#"),
        Acl("publishClientReceive", "pts/v1/gw-7/control/#"),
    )


def test_bridge_role_only_its_shared_group() -> None:
    """The bridge subscribes only through its $share group and receives the readings root;
    it also reads the broker's store and session counts ($SYS) for its broker watch."""
    assert bridge_role().acls == (
        Acl("subscribePattern", "$share/bridge/pts/v1/#"),
        Acl("publishClientReceive", "pts/v1/#"),
        Acl("subscribePattern", "$SYS/broker/store/messages/#"),
        Acl("publishClientReceive", "$SYS/broker/store/messages/#"),
        Acl("subscribePattern", "$SYS/broker/clients/disconnected"),
        Acl("publishClientReceive", "$SYS/broker/clients/disconnected"),
    )


@pytest.mark.parametrize(
    "username", ["das", "_multi", "pts-bridge", "pts-admin", "bad name", "", "a:b", "x/y", "+", "#"]
)
def test_refused_usernames(username: str) -> None:
    """Names that are namespaces, the broker's own accounts, or not one topic level."""
    with pytest.raises(ConfigError) as info:
        check_accounts([BrokerAccount("acme", username, ())])
    assert "provider acme: MQTT username" in str(info.value)
    with pytest.raises(ConfigError):
        gateway_role(username)


def test_shared_username_refused() -> None:
    """Two providers cannot share one broker account."""
    with pytest.raises(ConfigError) as info:
        check_accounts([ACME, BrokerAccount("other", "das-acme", ())])
    assert str(info.value) == "providers acme and other share MQTT username 'das-acme'"


@pytest.mark.parametrize("password", ["short", "x" * 20 + "\n", "x" * 20 + "\0"])
def test_weak_or_multiline_password_refused(password: str) -> None:
    with pytest.raises(ConfigError):
        check_password(password, "gateway gw-1")
