"""Broker accounts of DAS providers, from the registry (pure: records in, roles out).

A provider publishes into our broker under `{root}/das/{provider_id}/{meter_id}/readings` and
may write only the topics of the meters of the systems it reports: its role
(`das:<provider_id>`, ingest.broker_roles.provider_role) has one publish line per meter, and
the broker refuses everything else, its own gateway-like namespace `{root}/<username>/…`
included (the dynamic-security defaults refuse what no role grants). `pts das acl` applies the
roles to the broker; passwords are set once by `pts das set-mqtt-password` and kept only by
the broker, as salted hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.broker_roles import BrokerRole, check_username, provider_role
from ingest.errors import ConfigError
from ingest.topics import DEFAULT_ROOT


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """A provider's MQTT account and the meters it may publish for."""

    provider_id: str
    username: str
    meter_ids: tuple[str, ...]


def check_accounts(accounts: Sequence[BrokerAccount]) -> None:
    """Raise ConfigError for a username the broker's namespaces would collide with, or one
    shared by two providers."""
    seen: dict[str, str] = {}
    for account in accounts:
        check_username(account.username, f"provider {account.provider_id}")
        if account.username in seen:
            raise ConfigError(
                f"providers {seen[account.username]} and {account.provider_id} share MQTT "
                f"username {account.username!r}"
            )
        seen[account.username] = account.provider_id


def provider_roles(
    accounts: Iterable[BrokerAccount], root: str = DEFAULT_ROOT
) -> list[tuple[BrokerAccount, BrokerRole]]:
    """Each provider's account with its role: one publish line per meter it reports."""
    ordered = sorted(accounts, key=lambda a: a.username)
    check_accounts(ordered)
    return [(a, provider_role(a.provider_id, a.meter_ids, root)) for a in ordered]
