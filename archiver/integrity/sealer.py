"""What harvest hands to ``BundleWriter.seal``: sign the tagmanifest, ask the TSA if one is set.

A TSA that is down never stops a seal: the bundle is sealed and signed without a token,
recorded as ``pending``, and ``archiver keys timestamp`` (also run by ``recover`` and the
daemon) stamps it later. A late token is stored as a document beside the bundles
(``timestamp-<bundle id>.tsr``) because a published bundle is never modified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.config import Config
from archiver.integrity.keys import TrustStore, load_private_key, trusted_keys_path
from archiver.integrity.seal import TIMESTAMP_FILE, signature_files
from archiver.integrity.tsa import TimestampError, request_token
from archiver.log import get_logger
from archiver.settings.integrity import TsaSettings

if TYPE_CHECKING:
    # cryptography loads where a key is used (archiver.integrity.keys): a harvest without
    # signing, or a status, does not import it (issue 14).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = get_logger()


def late_token_name(bundle_id: str) -> str:
    return f"timestamp-{bundle_id}.tsr"


@dataclass
class Sealer:
    """Signs with the current key; remembers which tagmanifests got no timestamp."""

    key: Ed25519PrivateKey
    tsa: TsaSettings | None
    unstamped: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, cfg: Config) -> Sealer | None:
        """None while signing has not been enabled (no trusted-keys file)."""
        if TrustStore.load(trusted_keys_path(cfg.root)) is None:
            return None
        return cls(load_private_key(cfg.root), cfg.integrity.tsa)

    def __call__(self, tagmanifest: bytes) -> dict[str, bytes]:
        files = signature_files(self.key, tagmanifest)
        if self.tsa is not None:
            digest = hashlib.sha256(tagmanifest).hexdigest()
            try:
                files[TIMESTAMP_FILE] = request_token(self.tsa, digest)
            except TimestampError as exc:
                log.warning("timestamp_deferred", error=str(exc))
                self.unstamped.add(digest)
        return files


def stamp_file(tsa: TsaSettings, path: Path) -> bytes:
    return request_token(tsa, hashlib.sha256(path.read_bytes()).hexdigest())
