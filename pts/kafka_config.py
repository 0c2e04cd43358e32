"""How every PTS process connects to Kafka: one place, built from the settings.

The bridge, the DAS intake, the stream worker (Faust), `pts stream status`, `pts kafka topics`
and the test helpers all take a `KafkaConnection` and ask it for their client arguments, so
a process speaks PLAINTEXT or SASL/SCRAM over TLS only because its settings say so:

    PTS_KAFKA_BOOTSTRAP            host:port[,host:port]
    PTS_KAFKA_SECURITY_PROTOCOL    PLAINTEXT (default) | SSL | SASL_SSL | SASL_PLAINTEXT
    PTS_KAFKA_SASL_MECHANISM       SCRAM-SHA-512 (default) | SCRAM-SHA-256
    PTS_KAFKA_USERNAME             the process's principal (pts-bridge, pts-worker, …)
    PTS_KAFKA_PASSWORD_FILE        its password, read from a file (never the command line);
                                   default <local_dir>/kafka/secrets/<username>
    PTS_KAFKA_SSL_CAFILE           the CA that signed the brokers' certificates
    PTS_KAFKA_SSL_CERTFILE/KEYFILE an optional client certificate (mutual TLS)
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pts.settings import Settings, read_secret

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaConfigError(ValueError):
    """The Kafka client settings are incomplete or unreadable (says which setting to fix)."""


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Bootstrap servers and the security a client uses to reach them."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.username and self.password):
            raise KafkaConfigError(
                f"{self.security_protocol} needs a username and a password: set "
                "PTS_KAFKA_USERNAME and PTS_KAFKA_PASSWORD_FILE"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise KafkaConfigError(
                "a client certificate needs both PTS_KAFKA_SSL_CERTFILE and PTS_KAFKA_SSL_KEYFILE"
            )

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (server certificate checked against `cafile`, host name checked)."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
            if self.certfile is not None and self.keyfile is not None:
                context.load_cert_chain(str(self.certfile), str(self.keyfile))
        except (OSError, ssl.SSLError) as exc:
            raise KafkaConfigError(
                f"cannot load the Kafka TLS files (PTS_KAFKA_SSL_CAFILE={self.cafile}, "
                f"certfile={self.certfile}): {exc}"
            ) from exc
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return kwargs

    def faust_broker(self) -> str:
        """Faust's broker URL."""
        return ";".join(f"kafka://{b.strip()}" for b in self.bootstrap.split(","))

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials` (None for PLAINTEXT)."""
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context(),
                mechanism=self.sasl_mechanism,
            )
        context = self.ssl_context()
        return None if context is None else faust.SSLCredentials(context)

    def describe(self) -> str:
        """Where and as whom, for logs and error messages (never the password)."""
        who = f" as {self.username}" if self.uses_sasl else ""
        return f"{self.bootstrap} ({self.security_protocol}{who})"


def kafka_password(settings: Settings) -> str | None:
    """The principal's password from PTS_KAFKA_PASSWORD_FILE (or the local broker's default
    file for that username); None for a protocol without SASL."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return None
    if not settings.kafka_username:
        raise KafkaConfigError(
            f"PTS_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            "PTS_KAFKA_USERNAME (the process's principal)"
        )
    path = settings.kafka_password_file or (
        settings.local_dir / "kafka" / "secrets" / settings.kafka_username
    )
    try:
        return read_secret(path, f"the Kafka password of {settings.kafka_username}")
    except ValueError as exc:
        raise KafkaConfigError(f"{exc} (set PTS_KAFKA_PASSWORD_FILE)") from exc


def kafka_connection(settings: Settings) -> KafkaConnection:
    """The process's Kafka connection from its settings."""
    protocol = settings.kafka_security_protocol
    return KafkaConnection(
        bootstrap=settings.kafka_bootstrap,
        security_protocol=protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_username or None,
        password=kafka_password(settings),
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
    )
