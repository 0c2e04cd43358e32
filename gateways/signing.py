"""The gateway's Ed25519 key: create it (`pts gateway keygen`), load it, sign with it."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.errors import ConfigError
from schemas.signing_keys import key_id_of


@dataclass(frozen=True)
class Ed25519Signer:
    """Signs signing messages (schemas.envelope.signing_message) with one private key."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> Ed25519Signer:
        return cls(private_key, key_id_of(public_key_raw(private_key)))

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(public_key_raw(self.private_key)).decode()


def public_key_raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def load_signer(path: Path) -> Ed25519Signer:
    """The signer of a PEM private key file (ConfigError saying what is wrong)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path} is not an unencrypted PEM private key ({exc}); create one with "
            "`pts gateway keygen`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return Ed25519Signer.of(key)


def generate_key(path: Path) -> Ed25519Signer:
    """Write a new private key to `path` (mode 0600, never overwriting) and return its signer."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(
            f"{path} exists; a key is never overwritten (rotate: write the new key elsewhere, "
            "register it, then switch the gateway's signing_key_file)"
        ) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return Ed25519Signer.of(key)
