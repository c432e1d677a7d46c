"""Secrets come from systemd credentials or the environment, never from the config file.

The config names *where* a secret lives (``token_env = "MASTODON_TOKEN"``); this module fetches
it. Under systemd, ``LoadCredential=NAME:...`` puts the secret in ``$CREDENTIALS_DIRECTORY/NAME``,
which is preferred over an environment variable of the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

from archiver.errors import SecretError


def read_secret(name: str, *, purpose: str, required: bool = True) -> str | None:
    """Return the secret called ``name`` (credential file first, then environment)."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    value = os.environ.get(name)
    if value:
        return value.strip()
    if required:
        raise SecretError(
            f"the {purpose} is not set: no environment variable {name} and no systemd credential {name}",
            hint=f"export {name}=... or add LoadCredential={name}:/path/to/file to the service",
        )
    return None
