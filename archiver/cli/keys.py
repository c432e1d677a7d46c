"""``archiver keys``: the archive's signing key, trusted public keys, deferred timestamps."""

from __future__ import annotations

import typer
from rich.markup import escape

from archiver.cli.common import ConfigOption, JsonOption, app_context, clerk_errors, console
from archiver.cli.common import print_json as print_json

keys_app = typer.Typer(help="Signing keys and trusted timestamps.", no_args_is_help=True)


@keys_app.command("init")
@clerk_errors
def keys_init(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Create the archive's Ed25519 signing key; every bundle sealed from now on is signed."""
    from archiver.integrity import keyops
    from archiver.integrity.keys import private_key_path

    with app_context(config) as app:
        store, left_out = keyops.enable_signing(app)
        key = store.current
        path = private_key_path(app.cfg.root)
    if as_json:
        print_json(
            {
                "fingerprint": key.fingerprint,
                "valid_from": key.valid_from,
                "legacy_unsigned_bundles": len(store.legacy_bundles),
                "left_out": left_out,
                "private_key_file": str(path),
            }
        )
        return
    console.print(f"signing key created: ed25519 {key.fingerprint}", highlight=False)
    console.print(
        f"private key: {escape(str(path))} (mode 0600; back it up offline, or move it to the "
        "systemd credential ARCHIVER_SIGNING_KEY)",
        highlight=False,
    )
    console.print(
        f"{len(store.legacy_bundles)} bundle(s) sealed before today stay accepted as unsigned; "
        f"{left_out} uncataloged or altered bundle(s) were not admitted and will be quarantined",
        highlight=False,
    )


@keys_app.command("rotate")
@clerk_errors
def keys_rotate(config: str | None = ConfigOption) -> None:
    """Replace the signing key; the old public key stays trusted for the period it signed."""
    from archiver.integrity import keyops

    with app_context(config) as app:
        store = keyops.rotate(app)
    console.print(f"new signing key: ed25519 {store.current.fingerprint}", highlight=False)


@keys_app.command("list")
@clerk_errors
def keys_list(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Trusted public keys with their fingerprints and validity periods."""
    from rich.table import Table

    from archiver.integrity import keyops

    with app_context(config) as app:
        store = keyops.require_trust(app)
    if as_json:
        print_json(store.as_dict())
        return
    table = Table("fingerprint (sha256 of the public key)", "valid from", "valid until")
    for k in store.keys:
        table.add_row(k.fingerprint, k.valid_from[:19], (k.valid_until or "current")[:19])
    console.print(table)


@keys_app.command("timestamp")
@clerk_errors
def keys_timestamp(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Ask the TSA again for every bundle sealed while it was unreachable."""
    from archiver.integrity import keyops

    with app_context(config) as app:
        result = keyops.retry_timestamps(app)
    if as_json:
        print_json(
            {
                "stamped": result.stamped,
                "still_pending": result.still_pending,
                "errors": result.errors,
            }
        )
    else:
        console.print(
            f"timestamps: {result.stamped} stamped, {result.still_pending} still waiting",
            highlight=False,
        )
    if result.still_pending:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
