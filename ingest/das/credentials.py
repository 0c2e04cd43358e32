"""DAS provider credentials in the database (migration 005): API keys and broker passwords."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import psycopg

from ingest.das.acl import BrokerAccount
from ingest.errors import ConfigError

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


def set_mqtt_password(conn: psycopg.Connection[Any], provider_id: str) -> str:
    """A new random broker password for the provider (apply with `pts das acl` + reload)."""
    _require_provider(conn, provider_id)
    password = secrets.token_urlsafe(24)
    with conn.transaction():
        conn.execute(
            "INSERT INTO das_mqtt_passwords (provider_id, password) VALUES (%s, %s) "
            "ON CONFLICT (provider_id) DO UPDATE SET password = EXCLUDED.password, "
            "updated_at = now()",
            (provider_id, password),
        )
    return password


def load_broker_accounts(conn: psycopg.Connection[Any]) -> list[BrokerAccount]:
    """Approved providers with an MQTT username and password, with the meters they report."""
    rows = conn.execute(
        """
        SELECT p.provider_id, p.mqtt_username, pw.password,
               coalesce(array_agg(m.meter_id ORDER BY m.meter_id)
                        FILTER (WHERE m.meter_id IS NOT NULL), '{}')
        FROM das_providers p
        JOIN das_mqtt_passwords pw USING (provider_id)
        LEFT JOIN systems s ON s.das_provider_id = p.provider_id
        LEFT JOIN meters m ON m.system_id = s.system_id
             AND (m.removed_on IS NULL OR m.removed_on > current_date - %s)
        WHERE p.approved AND p.mqtt_username IS NOT NULL
        GROUP BY p.provider_id, p.mqtt_username, pw.password
        ORDER BY p.provider_id
        """,
        (REMOVED_METER_GRACE_DAYS,),
    ).fetchall()
    return [BrokerAccount(r[0], r[1], r[2], tuple(r[3])) for r in rows]
