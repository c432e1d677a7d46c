"""Secrets come from systemd credentials or the environment, never from the config file.

The config names *where* a secret lives (``token_env = "MASTODON_TOKEN"``); this module fetches
it. Under systemd, ``LoadCredential=NAME:...`` puts the secret in ``$CREDENTIALS_DIRECTORY/NAME``,
which is preferred over an environment variable of the same name. An OAuth refresh token is
exchanged here too, for the same reason: what comes back is a secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from archiver.errors import AuthError, MalformedResponseError, RetriableFetchError, SecretError


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


def refreshed_access_token(
    token_url: str,
    refresh_token: str,
    *,
    client_id_env: str,
    client_secret_env: str,
    site: str,
    issuer: str,
    hint: str,
) -> str:
    """Exchange an OAuth refresh token for an access token (RFC 6749 §6).

        Why not through the recorder: the answer is a live credential, not a record of the City's,
        so it must never reach a WARC. ``hint`` says how the owner authorizes again when ``issuer``
    (e.g. "Google") refuses.
    """
    import httpx  # here, not at the top: every command reads secrets, few refresh tokens

    endpoint = "POST oauth2/token"
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    for name, env in (("client_id", client_id_env), ("client_secret", client_secret_env)):
        form[name] = read_secret(env, purpose=f"OAuth {name.replace('_', ' ')} of {site}") or ""
    try:
        answer = httpx.post(token_url, data=form, timeout=30.0)
    except httpx.HTTPError as exc:
        raise RetriableFetchError(
            f"cannot reach the OAuth token endpoint {token_url}: {type(exc).__name__}",
            site=site,
            endpoint=endpoint,
            hint="check the network; the next scheduled run will try again",
        ) from None
    try:
        data = answer.json()
    except ValueError:
        data = None
    if answer.status_code != 200 or not isinstance(data, dict):
        words = ""
        if isinstance(data, dict):
            words = ": ".join(str(data[k]) for k in ("error", "error_description") if data.get(k))
        raise AuthError(
            f"{issuer} refused the refresh token (HTTP {answer.status_code}"
            f"{': ' + words if words else ''})",
            site=site,
            endpoint=endpoint,
            hint=hint,
        )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise MalformedResponseError(
            "the token endpoint answered without an access_token", site=site, endpoint=endpoint
        )
    return token
