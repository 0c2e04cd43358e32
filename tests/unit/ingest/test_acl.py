"""Mosquitto passwd/ACL lines for DAS providers, from registry records."""

from __future__ import annotations

import pytest

from ingest.das.acl import BrokerAccount, render_acl, render_passwd
from ingest.errors import ConfigError

ACME = BrokerAccount("acme", "das-acme", "s3cret", ("m-2", "m-1", "m-1"))
SOLAR = BrokerAccount("solarco", "das-solarco", "pw:with:colons", ())


def test_acl_one_topic_per_meter() -> None:
    """Each provider may write only its own meters' topics; its gateway namespace is denied."""
    assert render_acl([SOLAR, ACME]) == (
        "# DAS providers: generated from the registry by `pts das acl`; do not edit\n"
        "user das-acme\n"
        "topic deny pts/v1/das-acme/#\n"
        "topic write pts/v1/das/acme/m-1/readings\n"
        "topic write pts/v1/das/acme/m-2/readings\n"
        "user das-solarco\n"
        "topic deny pts/v1/das-solarco/#\n"
    )


def test_acl_custom_root() -> None:
    """The topic root follows the broker's."""
    assert "topic write test/x/das/acme/m-1/readings\n" in render_acl([ACME], "test/x")


def test_passwd_lines() -> None:
    """username:password lines, sorted; colons in a password are kept (read up to the first)."""
    assert render_passwd([SOLAR, ACME]) == "das-acme:s3cret\ndas-solarco:pw:with:colons\n"


@pytest.mark.parametrize("username", ["das", "pts-bridge", "gw-test", "bad name", "", "a:b"])
def test_refused_usernames(username: str) -> None:
    """Usernames that would open others' topics or break the files are refused."""
    with pytest.raises(ConfigError) as info:
        render_acl([BrokerAccount("acme", username, "pw", ())])
    assert "provider acme: MQTT username" in str(info.value)


def test_shared_username_refused() -> None:
    """Two providers cannot share one broker account."""
    with pytest.raises(ConfigError) as info:
        render_passwd([ACME, BrokerAccount("other", "das-acme", "pw", ())])
    assert str(info.value) == "providers acme and other share MQTT username 'das-acme'"


def test_multiline_password_refused() -> None:
    """A password with a newline would inject lines into passwd.extra."""
    with pytest.raises(ConfigError):
        render_passwd([BrokerAccount("acme", "das-acme", "pw\nevil:x", ())])
