"""One frozen settings object per process, read from `PTS_*` environment variables.

Built once at the entry point (`pts.cli`) and passed down; nothing else reads the environment.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import click
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.findings import HOLDING_FINDINGS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Process settings; every field can be set as `PTS_<FIELD>` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="PTS_", frozen=True, extra="ignore")

    # The local services' ports: deploy/local/*.sh read the same variables with these
    # defaults (tests/unit/pts/test_ports.py keeps them equal); the URLs below follow them.
    pg_port: int = Field(default=15432, ge=1, le=65535, description="local PostgreSQL's port")
    kafka_port: int = Field(
        default=19092, ge=1, le=65535, description="local Kafka's PLAINTEXT (loopback) port"
    )
    kafka_sasl_port: int = Field(
        default=19094, ge=1, le=65535, description="local Kafka's SASL_SSL listener port"
    )
    kafka_controller_port: int = Field(
        default=19093, ge=1, le=65535, description="local Kafka's KRaft controller port"
    )
    mqtts_port: int = Field(
        default=18883, ge=0, le=65535, description="local Mosquitto's MQTTS port (0: no TLS)"
    )
    database_url: str = Field(
        default="",
        description="libpq connection string of the PTS database (default: "
        "postgresql://pts@127.0.0.1:<pg_port>/pts)",
    )
    storage_mode: Literal["auto", "plain", "timescale"] = Field(
        default="auto",
        description="storage mode of a database migrated for the first time (ADR 0006): auto "
        "picks timescale when the server can load the extension",
    )
    stream_database_url: str | None = Field(
        default=None,
        description="the stream worker's login (role pts_stream; also `pts stream redrive`, "
        "`pts stream status`); unset: database_url. Passwords from libpq's passfile= or "
        "PGPASSFILE (deploy/local/postgres.sh url stream), never on a command line",
    )
    intake_database_url: str | None = Field(
        default=None, description="the DAS intake's login (role pts_intake); unset: database_url"
    )
    web_database_url: str | None = Field(
        default=None, description="the web service's login (role pts_web); unset: database_url"
    )
    certify_database_url: str | None = Field(
        default=None,
        description="the certification commands' login (role pts_certify: registry, reports, "
        "month close, SRECs, GIS export); unset: database_url",
    )
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 11883
    mqtt_username: str = "pts-bridge"
    mqtt_password: str = Field(
        default="",
        description="the bridge's broker password; empty: read from mqtt_password_file",
    )
    mqtt_password_file: Path | None = Field(
        default=None,
        description="file holding the bridge's broker password (default: the local broker's "
        "<local_dir>/mosquitto/secrets/<mqtt_username>, written by deploy/local/mosquitto.sh)",
    )
    mqtt_tls_cafile: Path | None = Field(
        default=None,
        description="the bridge speaks TLS (MQTTS) to the broker, checking its certificate "
        "against this CA file (set mqtt_port to the TLS port)",
    )
    mqtt_tls_certfile: Path | None = Field(
        default=None, description="optional client certificate for MQTTS (with the key file)"
    )
    mqtt_tls_keyfile: Path | None = Field(default=None, description="its private key")
    mqtt_admin_username: str = "pts-admin"
    mqtt_admin_password_file: Path | None = Field(
        default=None,
        description="file holding the broker admin's password, for `pts gateway add-user` and "
        "`pts das acl` (default: <local_dir>/mosquitto/secrets/<mqtt_admin_username>)",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="address the servers' /metrics listen on"
    )
    stream_metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="stream worker's /metrics port (0: off)"
    )
    bridge_metrics_port: int = Field(
        default=9465, ge=0, le=65535, description="bridge's /metrics port (0: off)"
    )
    das_pull_metrics_port: int = Field(
        default=9467, ge=0, le=65535, description="`pts das pull`'s /metrics port (0: off)"
    )
    web_metrics_port: int = Field(
        default=9466, ge=0, le=65535, description="`pts web serve`'s /metrics port (0: off)"
    )
    kafka_bootstrap: str = Field(
        default="", description="Kafka bootstrap servers (default: 127.0.0.1:<kafka_port>)"
    )
    kafka_readings_topic: str = "readings.raw"
    kafka_dead_letter_topic: str = "readings.dead-letter"
    kafka_readings_partitions: int = Field(
        default=4, ge=1, le=10_000, description="`pts kafka topics`: partitions of readings.raw"
    )
    kafka_dead_letter_partitions: int = Field(
        default=1, ge=1, le=10_000, description="`pts kafka topics`: partitions of dead letters"
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, le=32, description="`pts kafka topics`: replicas of each partition"
    )
    kafka_readings_retention_hours: int = Field(
        default=168, ge=1, description="`pts kafka topics`: how long readings.raw keeps records"
    )
    kafka_dead_letter_retention_hours: int = Field(
        default=720, ge=1, description="`pts kafka topics`: how long dead letters are kept"
    )
    batch_receipt_retention_days: int = Field(
        default=35,
        ge=1,
        description="`pts db prune-receipts`: a batch receipt goes once every month it covers "
        "was closed (and not held) this many days ago, and it was received as long ago",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="how every Kafka client connects (pts/kafka_config.py); production: SASL_SSL",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str = Field(
        default="", description="this process's Kafka principal (SASL): pts-bridge, pts-worker, …"
    )
    kafka_password_file: Path | None = Field(
        default=None,
        description="file holding the Kafka principal's password (default: the local broker's "
        "<local_dir>/kafka/secrets/<kafka_username>, written by deploy/local/kafka.sh)",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA file that signed the Kafka brokers' certificates (TLS)"
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="optional Kafka client certificate (with kafka_ssl_keyfile)"
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="its private key")
    stream_max_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="stream worker: most Kafka messages stored in one database transaction",
    )
    stream_batch_window_s: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description="stream worker: longest wait to fill a batch (adds at most this latency)",
    )
    stream_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="stream worker: batches in flight at once (one computes while another "
        "waits on the database; helps when the database is remote)",
    )
    stream_future_tolerance_s: float = Field(
        default=900,
        ge=0,
        description="stream: refuse readings stamped later than receipt/processing by more",
    )
    stream_clock_skew_s: float = Field(
        default=300,
        gt=0,
        description="stream: flag CLOCK_SKEW when received later than stamped by more",
    )
    stream_power_tolerance: Decimal = Field(
        default=Decimal("1.2"),
        gt=0,
        le=2,  # above, implausible output would pass unflagged (and mint)
        description="stream: flag intervals whose mean power exceeds nameplate kW DC × this",
    )
    stream_earliest_reading: date = Field(
        default=date(2000, 1, 1),
        description="stream and DAS intake: refuse readings stamped before this day (UTC)",
    )
    stream_max_message_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="stream: refuse larger messages (too_large; the dead letter keeps a prefix)",
    )
    stream_statement_timeout_s: float = Field(
        default=60,
        gt=0,
        description="stream: longest database statement; a message exceeding it is retried, "
        "then parked",
    )
    stream_lock_timeout_s: float = Field(
        default=10, gt=0, description="stream: longest wait for a database lock"
    )
    stream_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="stream: tries of a message that fails to store before it is parked as a "
        "processing_failed dead letter",
    )
    stream_stall_exit_s: float = Field(
        default=300,
        ge=0,
        description="stream worker: exit (for its supervisor to restart it) when a partition "
        "it holds, or with none held any partition, has lag and no progress this long while "
        "Kafka answers; 0 switches the watchdog off",
    )
    ingest_max_record_bytes: int = Field(
        default=900_000,
        ge=4_096,
        le=1_000_000,
        description="bridge and DAS intake: largest Kafka record produced (broker limit 1 MiB)",
    )
    das_rate_per_key: float = Field(
        default=2.0, gt=0, description="DAS intake: reports per second per API key (burst 10)"
    )
    das_rate_per_address: float = Field(
        default=5.0,
        gt=0,
        description="DAS intake: requests per second per client address (burst 20)",
    )
    das_pool_max: int = Field(
        default=10, ge=1, le=100, description="DAS intake: database connections at most"
    )
    local_dir: Path = Field(
        default=PROJECT_ROOT / ".local",
        description="where local services and the embedded default keep their data",
    )
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "info"
    default_timezone: str = "America/New_York"
    erratic_max_capacity_factor: float = Field(
        default=0.30,
        gt=0,
        le=1,
        description="month close flags output above capacity × hours × this factor",
    )
    month_close_holding_findings: frozenset[str] = Field(
        default=HOLDING_FINDINGS,
        description="month close: findings that hold a month from minting and export until "
        "staff amend it or accept it as reported (JSON list, added to the defaults, which "
        "always hold; the others are advisory). Codes: "
        "over_capacity, implausible_power, backwards_register, register_mismatch, "
        "night_production, audit_mismatch, gap, flat_line, zero_month, missing_month, "
        "replacement_unread, "
        "estimated_boundary, true_up_amended",
    )
    month_close_max_interpolation_h: float = Field(
        default=3,
        gt=0,
        description="month close: a month boundary split inside a longer interval (hours) is "
        "an estimate (flagged estimated, finding estimated_boundary); shorter is interpolated",
    )
    manual_report_max_kw_dc: float = Field(
        default=10.0,
        description="systems at or below this DC capacity may report manually (today's rule: 25)",
    )
    web_host: str = Field(default="127.0.0.1", description="web: address `pts web serve` binds")
    web_port: int = Field(default=8000, ge=0, le=65535, description="web: port it listens on")
    web_cookie_secure: bool = Field(
        default=False,
        description="web: mark the session cookie Secure (set true whenever served over HTTPS)",
    )
    web_session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="web: a session ends this long after sign-in"
    )
    web_signin_max_failures: int = Field(
        default=5, ge=1, description="web: failed sign-ins per account in the window before refusal"
    )
    web_signin_max_failures_per_address: int = Field(
        default=20, ge=1, description="web: failed sign-ins per client address in the window"
    )
    web_signin_window_s: int = Field(
        default=900, ge=1, description="web: the sign-in throttling window (seconds)"
    )
    web_link_hours: float = Field(
        default=72, gt=0, description="web: invitation and reset links expire after this"
    )
    web_pool_size: int = Field(
        default=8, ge=1, le=100, description="web: most database connections the server holds"
    )
    web_support_contact: str = Field(
        default="",
        max_length=200,
        description="web: how people reach PTS staff (an e-mail address or phone), shown where "
        "the portal tells them to ask staff",
    )
    token: str = Field(
        default="",
        description="CLI: your personal API token (Account page of the portal); commands that "
        "act for a person take the identity from it (PTS_TOKEN)",
    )
    token_file: Path | None = Field(
        default=None, description="CLI: a file holding that token, when PTS_TOKEN is not set"
    )

    @model_validator(mode="after")
    def _urls_follow_ports(self) -> Settings:
        """database_url and kafka_bootstrap, unless set, point at the local services' ports."""
        if not self.database_url:
            url = f"postgresql://pts@127.0.0.1:{self.pg_port}/pts"
            object.__setattr__(self, "database_url", url)
        if not self.kafka_bootstrap:
            object.__setattr__(self, "kafka_bootstrap", f"127.0.0.1:{self.kafka_port}")
        return self


def read_secret(path: Path, what: str) -> str:
    """A secret from a file (first line, stripped); a clear error when it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read {what} from {path}: {exc.strerror}") from exc


def mqtt_password(settings: Settings) -> str:
    """The bridge's broker password: PTS_MQTT_PASSWORD, else the password file."""
    if settings.mqtt_password:
        return settings.mqtt_password
    path = settings.mqtt_password_file or (
        settings.local_dir / "mosquitto" / "secrets" / settings.mqtt_username
    )
    return read_secret(path, "the broker password (PTS_MQTT_PASSWORD_FILE)")


def mqtt_admin_password_file(settings: Settings) -> Path:
    return settings.mqtt_admin_password_file or (
        settings.local_dir / "mosquitto" / "secrets" / settings.mqtt_admin_username
    )


def service_database_url(
    settings: Settings, service: Literal["stream", "intake", "web", "certify"]
) -> str:
    """The URL a service connects with: its own login when set (docs/database-roles.md),
    else the owner's database_url."""
    own: str | None = getattr(settings, f"{service}_database_url")
    return own or settings.database_url


def load_settings() -> Settings:
    """Read the settings from the environment (call once, at the entry point)."""
    return Settings()


def get_settings(ctx: click.Context) -> Settings:
    """The settings built once by the `pts` group (every package's commands read them here)."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # pragma: no cover - only if misused
        raise click.UsageError("settings are not loaded")
    return settings
