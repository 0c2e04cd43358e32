"""The settings table of the README, generated from pts/settings.py (one row per field):
`python -m pts.settings_table` prints it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pts.settings import PROJECT_ROOT, Settings

# fields whose default is derived from others (pts.settings._urls_follow_ports)
DERIVED = {
    "database_url": "postgresql://pts@127.0.0.1:<pg_port>/pts",
    "kafka_bootstrap": "127.0.0.1:<kafka_port>",
}
# meanings of the fields declared without a description
MEANINGS = {
    "mqtt_host": "MQTT broker host (the bridge's)",
    "mqtt_port": "MQTT broker port; also the local Mosquitto's (deploy/local/mosquitto.sh)",
    "mqtt_username": "the bridge's broker account",
    "mqtt_admin_username": "the broker account that changes accounts (pts gateway add-user, "
    "pts das acl)",
    "kafka_readings_topic": "the stream's readings topic",
    "kafka_dead_letter_topic": "the dead-letter topic",
    "kafka_sasl_mechanism": "SASL mechanism of every Kafka client",
    "log_format": "`console` or `json` (production)",
    "log_level": "log level",
    "default_timezone": "time zone of a system's months when none is registered",
}


def _default(name: str) -> str:
    if name in DERIVED:
        return f"`{DERIVED[name]}`"
    value = Settings.model_fields[name].default
    if value is None or value == "":
        return (
            "(see meaning)"
            if "default" in (Settings.model_fields[name].description or "")
            else "(empty)"
        )
    if isinstance(value, Path):
        return (
            f"`{value.relative_to(PROJECT_ROOT) if value.is_relative_to(PROJECT_ROOT) else value}`"
        )
    if isinstance(value, frozenset):
        return "`" + ", ".join(sorted(str(v) for v in value)) + "`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    return f"`{value}`"


def settings_table() -> str:
    """The markdown table: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = field.description or MEANINGS.get(name, "")
        lines.append(f"| `PTS_{name.upper()}` | {_default(name)} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
