"""The archive's Ed25519 signing key and the file of public keys trusted to have signed.

The private key never enters the config, a log, a WARC or an export. It is read from the
systemd credential ``$CREDENTIALS_DIRECTORY/ARCHIVER_SIGNING_KEY`` when present, otherwise
from ``<root>/keys/signing-key.pem`` (mode 0600 in a 0700 folder), created by
``archiver keys init``. The public half goes into ``<root>/keys/trusted-keys.json`` with its
fingerprint and validity period; rotation closes the old key's period and keeps it trusted
for the bundles it sealed. A copy of the trusted-keys file is stored with the bundles (WORM
on S3) every time it changes, and the fingerprint is printed in reports and certifications
so a copy lives off the server.

The file also holds the *legacy inventory*: the bundles already sealed when signing was
enabled, by id and tagmanifest SHA-256. Only those may stay unsigned; any other unsigned
bundle appearing later is quarantined (a back-dated ``sealed_at`` cannot smuggle one in).

Fingerprint = SHA-256 of the public key's DER SubjectPublicKeyInfo, so anyone can recompute
it offline: ``openssl pkey -pubin -in key.pem -outform DER | sha256sum``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.clock import now_iso as now_iso
from archiver.errors import ArchiverError, IntegrityError
from archiver.fsutil import atomic_write

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# cryptography is imported where a key is made, loaded or used: reading the trusted-keys
# file (``archiver status``, the report) needs none of it (issue 14 part 2).

CREDENTIAL_NAME = "ARCHIVER_SIGNING_KEY"
TRUSTED_KEYS = "trusted-keys.json"
PRIVATE_KEY = "signing-key.pem"


class SigningKeyError(ArchiverError):
    """The signing key or the trusted-keys file is missing, unreadable or inconsistent."""


def fingerprint(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class TrustedKey:
    fingerprint: str
    public_key_pem: str
    valid_from: str
    valid_until: str | None

    def public_key(self) -> Ed25519PublicKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        key = serialization.load_pem_public_key(self.public_key_pem.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(f"trusted key {self.fingerprint[:16]} is not an Ed25519 key")
        return key

    def valid_at(self, when: str) -> bool:
        """Seal times are ISO-8601 UTC strings; compare as datetimes, not text."""
        t = _dt(when)
        if t < _dt(self.valid_from):
            return False
        return self.valid_until is None or t < _dt(self.valid_until)

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self.public_key().verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "algorithm": "ed25519",
            "public_key_pem": self.public_key_pem,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }


def _dt(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass
class TrustStore:
    """What ``trusted-keys.json`` says: keys, when signing began, the legacy inventory."""

    path: Path
    signing_enabled_at: str
    keys: list[TrustedKey] = field(default_factory=list)
    legacy_bundles: dict[str, str] = field(default_factory=dict)

    def key(self, fp: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.fingerprint == fp), None)

    @property
    def current(self) -> TrustedKey:
        open_keys = [k for k in self.keys if k.valid_until is None]
        if not open_keys:
            raise SigningKeyError(
                f"{self.path} has no current signing key",
                hint="run `archiver keys rotate` to create one",
            )
        return open_keys[-1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": "muni-archiver trusted keys 1",
            "signing_enabled_at": self.signing_enabled_at,
            "keys": [k.as_dict() for k in self.keys],
            "legacy_bundles": dict(sorted(self.legacy_bundles.items())),
        }

    def save(self) -> None:
        _atomic_write(self.path, (json.dumps(self.as_dict(), indent=2) + "\n").encode(), 0o644)

    @classmethod
    def load(cls, path: Path) -> TrustStore | None:
        """None when signing was never enabled (no file)."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SigningKeyError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
            keys = [
                TrustedKey(
                    fingerprint=str(k["fingerprint"]),
                    public_key_pem=str(k["public_key_pem"]),
                    valid_from=str(k["valid_from"]),
                    valid_until=None if k.get("valid_until") is None else str(k["valid_until"]),
                )
                for k in data["keys"]
            ]
            store = cls(
                path=path,
                signing_enabled_at=str(data["signing_enabled_at"]),
                keys=keys,
                legacy_bundles={str(a): str(b) for a, b in data["legacy_bundles"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SigningKeyError(
                f"{path} is not a valid trusted-keys file ({exc})",
                hint="restore it from the copy kept with the bundles (trusted-keys documents)",
            ) from exc
        for k in store.keys:
            if fingerprint(k.public_key()) != k.fingerprint:
                raise IntegrityError(
                    f"{path}: key {k.fingerprint[:16]} does not have that fingerprint",
                    hint="the trusted-keys file was edited; restore it from the stored copy",
                )
        return store


def keys_dir(root: Path) -> Path:
    return root / "keys"


def trusted_keys_path(root: Path) -> Path:
    return keys_dir(root) / TRUSTED_KEYS


def private_key_path(root: Path) -> Path:
    return keys_dir(root) / PRIVATE_KEY


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, data, mode=mode)


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    _atomic_write(path, pem, 0o600)


def load_private_key(root: Path) -> Ed25519PrivateKey:
    """The signing key: systemd credential first, then the 0600 key file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    candidates = []
    if cred_dir:
        candidates.append(Path(cred_dir) / CREDENTIAL_NAME)
    candidates.append(private_key_path(root))
    for path in candidates:
        if not path.is_file():
            continue
        if path == private_key_path(root) and os.stat(path).st_mode & 0o077:
            raise SigningKeyError(
                f"signing key {path} is readable by other users",
                hint=f"chmod 600 {path}",
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyError(f"cannot load the signing key from {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{path} is not an Ed25519 private key")
        return key
    raise SigningKeyError(
        "signing is enabled but the archive's signing key is missing "
        f"(no credential {CREDENTIAL_NAME}, no {private_key_path(root)})",
        hint="restore the key from its backup; never create a new one to replace it silently "
        "(use `archiver keys rotate`)",
    )


def init_keys(root: Path, legacy: Mapping[str, str]) -> TrustStore:
    """Create the first key pair; ``legacy`` = bundles sealed before signing (id -> tag sha)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = trusted_keys_path(root)
    if path.exists():
        raise SigningKeyError(
            f"signing keys already exist ({path})",
            hint="use `archiver keys rotate` to replace the key",
        )
    key = Ed25519PrivateKey.generate()
    _write_private(private_key_path(root), key)
    at = now_iso()
    pub = key.public_key()
    store = TrustStore(
        path=path,
        signing_enabled_at=at,
        keys=[TrustedKey(fingerprint(pub), public_pem(pub), at, None)],
        legacy_bundles=dict(legacy),
    )
    store.save()
    return store


def rotate_keys(root: Path, store: TrustStore) -> TrustedKey:
    """Close the current key's period, make a new key; the old one stays trusted for its period."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    old = store.current
    at = now_iso()
    key = Ed25519PrivateKey.generate()
    pub = key.public_key()
    new = TrustedKey(fingerprint(pub), public_pem(pub), at, None)
    store.keys = [
        TrustedKey(k.fingerprint, k.public_key_pem, k.valid_from, at)
        if k.fingerprint == old.fingerprint
        else k
        for k in store.keys
    ] + [new]
    _write_private(private_key_path(root), key)
    store.save()
    return new
