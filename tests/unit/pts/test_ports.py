"""Every service port has one definition, in pts/settings.py: the service scripts' defaults
are the settings' defaults, and the database URL and Kafka bootstrap follow the ports unless
set themselves. The README's settings table is generated from the same class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pts.settings import Settings
from pts.settings_table import settings_table

ROOT = Path(__file__).resolve().parents[3]
PORTS = {
    "PTS_PG_PORT": "pg_port",
    "PTS_KAFKA_PORT": "kafka_port",
    "PTS_KAFKA_SASL_PORT": "kafka_sasl_port",
    "PTS_KAFKA_CONTROLLER_PORT": "kafka_controller_port",
    "PTS_MQTT_PORT": "mqtt_port",
    "PTS_MQTTS_PORT": "mqtts_port",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*PORTS, "PTS_DATABASE_URL", "PTS_KAFKA_BOOTSTRAP"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def script_defaults() -> dict[str, int]:
    """`${PTS_X_PORT:-N}` in deploy/local/*.sh."""
    found: dict[str, int] = {}
    for script in sorted((ROOT / "deploy" / "local").glob("*.sh")):
        for name, value in re.findall(r"\$\{(PTS_\w+_PORT):-(\d+)\}", script.read_text()):
            assert found.setdefault(name, int(value)) == int(value), (script, name)
    return found


def test_the_scripts_defaults_are_the_settings_defaults(clean_env: pytest.MonkeyPatch) -> None:
    """Each port the service scripts read has the default pts/settings.py gives it."""
    defaults = Settings()
    scripts = script_defaults()
    assert sorted(scripts) == sorted(PORTS)
    assert {name: getattr(defaults, PORTS[name]) for name in scripts} == scripts


def test_urls_follow_the_ports(clean_env: pytest.MonkeyPatch) -> None:
    """PTS_PG_PORT and PTS_KAFKA_PORT move the database URL and the bootstrap with them."""
    clean_env.setenv("PTS_PG_PORT", "25432")
    clean_env.setenv("PTS_KAFKA_PORT", "29092")
    settings = Settings()
    assert settings.database_url == "postgresql://pts@127.0.0.1:25432/pts"
    assert settings.kafka_bootstrap == "127.0.0.1:29092"


def test_a_url_set_itself_wins(clean_env: pytest.MonkeyPatch) -> None:
    """An explicit PTS_DATABASE_URL / PTS_KAFKA_BOOTSTRAP is kept as given."""
    clean_env.setenv("PTS_PG_PORT", "25432")
    clean_env.setenv("PTS_DATABASE_URL", "postgresql://pts@db.example:5432/pts")
    clean_env.setenv("PTS_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    settings = Settings()
    assert settings.database_url == "postgresql://pts@db.example:5432/pts"
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"


def test_the_table_lists_every_setting_and_port(clean_env: pytest.MonkeyPatch) -> None:
    """One row per field, named as its variable; the port rows say their default."""
    table = settings_table()
    rows = [line for line in table.splitlines() if line.startswith("| `PTS_")]
    assert len(rows) == len(Settings.model_fields)
    assert "| `PTS_PG_PORT` | `15432` | " in table
    assert "| `PTS_DATABASE_URL` | `postgresql://pts@127.0.0.1:<pg_port>/pts` | " in table
