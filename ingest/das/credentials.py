"""DAS provider credentials in the database (migration 005): API keys and broker passwords."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import psycopg

from ingest.broker_admin import BrokerAdmin
from ingest.das.acl import BrokerAccount, provider_roles
from ingest.errors import ConfigError
from ingest.topics import DEFAULT_ROOT

REMOVED_METER_GRACE_DAYS = 45  # a removed meter's last month may still be reported


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _require_provider(conn: psycopg.Connection[Any], provider_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM das_providers WHERE provider_id = %s", (provider_id,)
    ).fetchone()
    if row is None:
        raise ConfigError(f"no DAS provider {provider_id!r} in the registry; register it first")


def add_api_key(conn: psycopg.Connection[Any], provider_id: str, label: str = "") -> str:
    """A new API key for the provider; only its hash is stored."""
    _require_provider(conn, provider_id)
    key = "pts_" + secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute(
            "INSERT INTO das_api_keys (key_sha256, provider_id, label) VALUES (%s, %s, %s)",
            (hash_key(key), provider_id, label),
        )
    return key


def revoke_api_key(conn: psycopg.Connection[Any], api_key: str) -> bool:
    with conn.transaction():
        cur = conn.execute(
            "UPDATE das_api_keys SET revoked_at = now() "
            "WHERE key_sha256 = %s AND revoked_at IS NULL",
            (hash_key(api_key),),
        )
    return cur.rowcount == 1


def set_mqtt_password(
    conn: psycopg.Connection[Any], admin: BrokerAdmin, provider_id: str, root: str = DEFAULT_ROOT
) -> str:
    """A new random broker password for the provider, set on the broker at once (with the
    provider's role) and returned to be shown once. The broker keeps it as a salted hash;
    the database records only when it was set."""
    _require_provider(conn, provider_id)
    accounts = [
        a for a in load_broker_accounts(conn, with_unset=True) if a.provider_id == provider_id
    ]
    if not accounts:
        raise ConfigError(
            f"provider {provider_id!r} is not approved or has no MQTT username in the registry"
        )
    ((account, role),) = provider_roles(accounts, root)
    password = secrets.token_urlsafe(24)
    with conn.transaction():
        conn.execute(
            "INSERT INTO das_mqtt_passwords (provider_id) VALUES (%s) "
            "ON CONFLICT (provider_id) DO UPDATE SET updated_at = now()",
            (provider_id,),
        )
        admin.ensure_role(role)
        admin.ensure_client(account.username, password, [role.name])
    return password


def load_broker_accounts(
    conn: psycopg.Connection[Any], with_unset: bool = False
) -> list[BrokerAccount]:
    """Approved providers with an MQTT username (and, unless `with_unset`, a password set on
    the broker), with the meters they report."""
    rows = conn.execute(
        """
        SELECT p.provider_id, p.mqtt_username,
               coalesce(array_agg(m.meter_id ORDER BY m.meter_id)
                        FILTER (WHERE m.meter_id IS NOT NULL), '{}')
        FROM das_providers p
        LEFT JOIN das_mqtt_passwords pw USING (provider_id)
        LEFT JOIN systems s ON s.das_provider_id = p.provider_id
        LEFT JOIN meters m ON m.system_id = s.system_id
             AND (m.removed_on IS NULL OR m.removed_on > current_date - %s)
        WHERE p.approved AND p.mqtt_username IS NOT NULL
              AND (%s OR pw.provider_id IS NOT NULL)
        GROUP BY p.provider_id, p.mqtt_username
        ORDER BY p.provider_id
        """,
        (REMOVED_METER_GRACE_DAYS, with_unset),
    ).fetchall()
    return [BrokerAccount(r[0], r[1], tuple(r[2])) for r in rows]


def sync_broker(
    conn: psycopg.Connection[Any], admin: BrokerAdmin, root: str = DEFAULT_ROOT
) -> list[str]:
    """Bring every provider's role on the broker to the registry's meters; remove the broker
    accounts of providers no longer approved. What was done, one line per provider."""
    done = []
    accounts = provider_roles(load_broker_accounts(conn), root)
    for account, role in accounts:
        admin.ensure_role(role)
        admin.ensure_client(account.username, None, [role.name])
        done.append(
            f"{account.provider_id}: {account.username} may publish {len(role.acls)} meter(s)"
        )
    kept = {role.name for _, role in accounts}
    for name in admin.role_names():
        if name.startswith("das:") and name not in kept:
            provider_id = name.removeprefix("das:")
            row = conn.execute(
                "SELECT mqtt_username FROM das_providers WHERE provider_id = %s", (provider_id,)
            ).fetchone()
            if row is not None and row[0]:
                admin.delete_client(str(row[0]))
            admin.delete_role(name)
            done.append(f"{provider_id}: removed from the broker (not approved or no username)")
    return done
