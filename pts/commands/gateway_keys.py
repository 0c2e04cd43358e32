"""`pts gateway keygen` and `pts gateway key add|retire|revoke|list`: gateways' Ed25519 keys.

keygen runs on the gateway (it writes the private key, prints the public one); the key
commands register public keys in the registry (they wire gateways and storage, so they live at
the edge and pts.cli adds them to `pts gateway`). docs/provenance.md explains rotation and
revocation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg

from gateways.errors import ConfigError
from gateways.signing import generate_key
from pts.settings import get_settings
from schemas.reading import Source
from schemas.signing_keys import SigningKey, key_id_of
from storage import provenance_store


def _instant(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset (add Z or +00:00)")
    return parsed


@click.command("keygen")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to write the private key (PEM, mode 0600; never overwritten)",
)
def keygen_cmd(out: Path) -> None:
    """Create the gateway's Ed25519 key pair: the private key to --out, the public key and
    its id printed (register them with `pts gateway key add`)."""
    try:
        signer = generate_key(out)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"private key  {out} (set signing_key_file: {out} in the gateway's config)")
    click.echo(f"key id       {signer.key_id}")
    click.echo(f"public key   {signer.public_key_b64}")


@click.group("key")
def key_group() -> None:
    """Gateways' (and DAS providers') public signing keys in the registry."""


@key_group.command("add")
@click.argument("signer_id")
@click.argument("public_key")
@click.option("--valid-from", default=None, help="ISO 8601 instant (default: now)")
@click.option("--valid-until", default=None, help="ISO 8601 instant (default: open)")
@click.option("--das", is_flag=True, help="the signer is a DAS provider, not a gateway")
@click.pass_context
def key_add(
    ctx: click.Context,
    signer_id: str,
    public_key: str,
    valid_from: str | None,
    valid_until: str | None,
    das: bool,
) -> None:
    """Register PUBLIC_KEY (base64, as keygen printed it) for gateway SIGNER_ID."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(public_key, validate=True)
    except binascii.Error as exc:
        raise click.BadParameter(f"not base64: {exc}", param_hint="PUBLIC_KEY") from exc
    try:
        key = SigningKey(
            signer=Source.DAS if das else Source.GATEWAY,
            signer_id=signer_id,
            key_id=key_id_of(raw),
            public_key=public_key,
            valid_from=_instant(valid_from),
            valid_until=None if valid_until is None else _instant(valid_until),
        )
    except ValueError as exc:
        raise click.ClickException(f"not a valid key: {exc}") from exc
    with psycopg.connect(get_settings(ctx).database_url) as conn:
        provenance_store.add_key(conn, key)
    click.echo(f"registered {key.key_id} for {signer_id} from {key.valid_from.isoformat()}")


@key_group.command("retire")
@click.argument("key_id")
@click.option("--at", "at", default=None, help="end of validity, ISO 8601 (default: now)")
@click.pass_context
def key_retire(ctx: click.Context, key_id: str, at: str | None) -> None:
    """End KEY_ID's validity (rotation): batches it signed before stay valid."""
    with psycopg.connect(get_settings(ctx).database_url) as conn:
        if not provenance_store.retire_key(conn, key_id, _instant(at)):
            raise click.ClickException(f"no key {key_id}; see `pts gateway key list`")
    click.echo(f"retired {key_id}")


@key_group.command("revoke")
@click.argument("key_id")
@click.option("--reason", required=True, help="why (e.g. 'gateway stolen')")
@click.option("--at", "at", default=None, help="ISO 8601 instant (default: now)")
@click.pass_context
def key_revoke(ctx: click.Context, key_id: str, reason: str, at: str | None) -> None:
    """Revoke KEY_ID (compromise): nothing it signs is accepted from then on, and
    `pts provenance` reports what it signed as not proven."""
    with psycopg.connect(get_settings(ctx).database_url) as conn:
        if not provenance_store.revoke_key(conn, key_id, _instant(at), reason):
            raise click.ClickException(f"no key {key_id}; see `pts gateway key list`")
    click.echo(f"revoked {key_id}")


@key_group.command("list")
@click.argument("signer_id", required=False)
@click.pass_context
def key_list(ctx: click.Context, signer_id: str | None) -> None:
    """The registered keys (of SIGNER_ID)."""
    with psycopg.connect(get_settings(ctx).database_url) as conn:
        keys = provenance_store.keys_of(conn, signer_id)
    for k in keys:
        until = k.valid_until.isoformat() if k.valid_until else "open"
        revoked = (
            f"  REVOKED {k.revoked_at.isoformat()} ({k.revoked_reason})" if k.revoked_at else ""
        )
        click.echo(f"{k.signer_id}  {k.key_id}  {k.valid_from.isoformat()} → {until}{revoked}")
