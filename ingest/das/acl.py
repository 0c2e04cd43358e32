"""Mosquitto accounts for DAS providers, from the registry (pure: records in, text out).

A provider publishes into our broker under `{root}/das/{provider_id}/{meter_id}/readings` and
may write only the topics of the meters of the systems it reports (one `topic write` line per
meter). `render_passwd` and `render_acl` produce the `passwd.extra` and `acl.extra` files that
deploy/local/mosquitto.sh appends to its own on `reload`.

The broker's base ACL has `pattern write pts/v1/%u/#` for gateways, which would also let a
provider write `pts/v1/<its username>/…` as if it were a gateway: each provider block starts
with `topic deny {root}/<username>/#`, which Mosquitto checks before the patterns (tested on
Mosquitto 2.0.11). A username `das` (every provider's namespace) or one of the broker's own
accounts is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.errors import ConfigError
from ingest.topics import DAS_LEVEL, DEFAULT_ROOT

RESERVED_USERNAMES = frozenset({DAS_LEVEL, "pts-bridge", "pts-test", "gw-test"})
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """A provider's MQTT account and the meters it may publish for."""

    provider_id: str
    username: str
    password: str
    meter_ids: tuple[str, ...]


def check_accounts(accounts: Sequence[BrokerAccount]) -> None:
    """Raise ConfigError for a username or password the broker files cannot carry safely."""
    seen: dict[str, str] = {}
    for account in accounts:
        name = account.username
        if not _USERNAME.match(name) or name in RESERVED_USERNAMES:
            raise ConfigError(
                f"provider {account.provider_id}: MQTT username {name!r} is not allowed (letters, "
                f"digits, '.', '_', '-'; not {sorted(RESERVED_USERNAMES)}); e.g. "
                f"'das-{account.provider_id}'"
            )
        if name in seen:
            raise ConfigError(
                f"providers {seen[name]} and {account.provider_id} share MQTT username {name!r}"
            )
        seen[name] = account.provider_id
        if not account.password or any(c in account.password for c in "\r\n"):
            raise ConfigError(f"provider {account.provider_id}: empty or multi-line password")


def render_passwd(accounts: Iterable[BrokerAccount]) -> str:
    """`username:password` lines (mosquitto.sh hashes them with mosquitto_passwd)."""
    ordered = sorted(accounts, key=lambda a: a.username)
    check_accounts(ordered)
    return "".join(f"{a.username}:{a.password}\n" for a in ordered)


def render_acl(accounts: Iterable[BrokerAccount], root: str = DEFAULT_ROOT) -> str:
    """One `user` block per provider with one `topic write` line per meter it reports."""
    ordered = sorted(accounts, key=lambda a: a.username)
    check_accounts(ordered)
    lines = ["# DAS providers: generated from the registry by `pts das acl`; do not edit"]
    for account in ordered:
        lines.append(f"user {account.username}")
        lines.append(f"topic deny {root}/{account.username}/#")
        lines.extend(
            f"topic write {root}/{DAS_LEVEL}/{account.provider_id}/{meter_id}/readings"
            for meter_id in sorted(set(account.meter_ids))
        )
    return "\n".join(lines) + "\n"
