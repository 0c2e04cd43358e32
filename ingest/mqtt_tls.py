"""TLS for the bridge's and `pts das pull`'s MQTT connections (MQTTS).

The broker's certificate is checked against a CA file and the host name (or IP address) the
client connects to; a client certificate is optional (a DAS provider's broker may ask for
one). paho retries a failed connection forever and logs little, so before connecting the
bridge makes one TLS handshake of its own: a certificate the CA did not sign is a wrong
setting, not an outage, and stops the process with a line saying which file to fix. An
unreachable broker is left to paho's reconnect loop, as without TLS.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError


@dataclass(frozen=True, slots=True)
class MqttTls:
    """The CA that signed the broker's certificate, and an optional client certificate."""

    cafile: Path
    certfile: Path | None = None
    keyfile: Path | None = None

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2 or later, certificate and host name checked."""
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigError("an MQTT client certificate needs both its certificate and key file")
        try:
            context = ssl.create_default_context(cafile=str(self.cafile))
            if self.certfile is not None and self.keyfile is not None:
                context.load_cert_chain(str(self.certfile), str(self.keyfile))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the MQTT TLS files (CA {self.cafile}, certificate "
                f"{self.certfile}): {exc}"
            ) from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def check_broker_certificate(host: str, port: int, tls: MqttTls, timeout_s: float = 10) -> None:
    """One TLS handshake with the broker: ConfigError when its certificate is not trusted
    by `tls.cafile` (or names another host); nothing when it is, or when the broker cannot
    be reached at all (the MQTT client's reconnect loop handles that)."""
    context = tls.context()
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError:
        return
    try:
        with context.wrap_socket(raw, server_hostname=host):
            return
    except ssl.SSLCertVerificationError as exc:
        raise ConfigError(
            f"the MQTT broker at {host}:{port} presented a certificate that the CA file "
            f"{tls.cafile} does not trust ({exc.verify_message}); set the CA that signed the "
            "broker's certificate (PTS_MQTT_TLS_CAFILE, or --cafile for `pts das pull`)"
        ) from exc
    except OSError as exc:  # ssl.SSLError is one; so is a reset in the middle of a handshake
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(
            f"TLS with the MQTT broker at {host}:{port} failed ({reason}); is that port "
            "its TLS listener?"
        ) from exc
    finally:
        raw.close()
