"""The gateway's YAML configuration (`pts gateway run --config FILE`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateways.errors import ConfigError
from gateways.meters import MeterConfig
from schemas.ids import GatewayId
from schemas.yaml_document import load_yaml


class MqttConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    host: str = "127.0.0.1"
    port: int = 11883
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None  # preferred: keeps the secret out of the site config
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def secret(self) -> str | None:
        """The broker password: from `password_file` when set, else `password`."""
        if self.password_file is None:
            return self.password
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the broker password from {self.password_file}: {exc.strerror}"
            ) from exc


class GatewayConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    gateway_id: GatewayId
    interval_s: int = Field(default=300, ge=1)
    spool_path: Path = Path("spool.sqlite")
    spool_max_rows: int = Field(default=2_000_000, ge=1)
    spool_max_bytes: int = Field(default=1024**3, ge=1024, description="reading JSON held, at most")
    max_batch: int = Field(default=500, ge=1, le=10_000)
    max_inflight: int = Field(default=1000, ge=1, le=10_000)
    timeout_s: float = 1.0
    mqtt: MqttConfig = MqttConfig()
    signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) signing every batch (pts gateway keygen)",
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve Prometheus /metrics here (off: None)"
    )
    metrics_host: str = "127.0.0.1"
    meters: list[MeterConfig]


def load_config(path: Path) -> GatewayConfig:
    try:
        return GatewayConfig.model_validate(load_yaml(path.read_text(), "the file"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"gateway config {path}: {exc}") from exc
