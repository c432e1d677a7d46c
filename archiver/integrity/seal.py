"""Sign a bundle at sealing, and decide whether a bundle found in storage may be trusted.

Files added to the bundle's top level (tag files outside the tagmanifest, which they cover):

* ``signature.ed25519`` — the raw 64-byte Ed25519 signature of the exact bytes of
  ``tagmanifest-sha256.txt``; ``openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in
  tagmanifest-sha256.txt -sigfile signature.ed25519`` checks it offline.
* ``signature-key.txt`` — ``ed25519 <fingerprint>``: which trusted key signed.
* ``timestamp.tsr`` — the RFC 3161 token over the tagmanifest (when the TSA answered).

The tagmanifest covers ``bag-info.txt`` (``External-Identifier`` = bundle id, ``Sealed-At``)
and ``manifest-sha256.txt``, which covers every payload byte; so a valid signature binds the
id, the seal time and all records. A copy under a new id or with recomputed manifests cannot
carry a valid signature without the private key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from archiver.bundle import read_manifest
from archiver.integrity.keys import TrustStore, fingerprint

if TYPE_CHECKING:
    # cryptography loads where a key is used (archiver.integrity.keys): a harvest without
    # signing, or a status, does not import it (issue 14).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SIGNATURE_FILE = "signature.ed25519"
SIGNATURE_KEY_FILE = "signature-key.txt"
TIMESTAMP_FILE = "timestamp.tsr"
SEAL_FILES = (SIGNATURE_FILE, SIGNATURE_KEY_FILE, TIMESTAMP_FILE)
TAGMANIFEST = "tagmanifest-sha256.txt"

SealState = Literal["signed", "legacy_unsigned", "unsigned_signing_off", "quarantine"]

#: Reads one top-level file of a bundle; None when the file does not exist.
Reader = Callable[[str], bytes | None]


def signature_files(key: Ed25519PrivateKey, tagmanifest: bytes) -> dict[str, bytes]:
    return {
        SIGNATURE_FILE: key.sign(tagmanifest),
        SIGNATURE_KEY_FILE: f"ed25519 {fingerprint(key.public_key())}\n".encode("ascii"),
    }


@dataclass(frozen=True)
class SealCheck:
    """The verdict on one bundle's seal; ``reason`` names what was found, for people."""

    state: SealState
    reason: str
    bundle_id: str
    fingerprint: str | None = None
    sealed_at: str | None = None
    tagmanifest_sha256: str | None = None

    @property
    def admissible(self) -> bool:
        return self.state != "quarantine"


def bag_info(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if ":" in line and not line.startswith((" ", "\t")):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def check_seal(read: Reader, key: str, trust: TrustStore | None) -> SealCheck:
    """Is this the bundle the archiver sealed under this id? Reads only the small tag files."""
    bid = key.rsplit("/", 1)[-1]
    tag = read(TAGMANIFEST)
    if tag is None:
        return SealCheck("quarantine", "no tagmanifest-sha256.txt: not a sealed bundle", bid)
    tag_sha = hashlib.sha256(tag).hexdigest()
    info_bytes = read("bag-info.txt") or b""
    listed = read_manifest(tag.decode("utf-8", "replace"))
    if listed.get("bag-info.txt") != hashlib.sha256(info_bytes).hexdigest():
        return SealCheck(
            "quarantine", "bag-info.txt does not match the tagmanifest", bid, None, None, tag_sha
        )
    info = bag_info(info_bytes)
    inner_id = info.get("External-Identifier")
    sealed_at = info.get("Sealed-At")
    if inner_id != bid:
        return SealCheck(
            "quarantine",
            f"stored as {bid} but sealed as {inner_id!r}: a bundle copied under a new id",
            bid,
            None,
            sealed_at,
            tag_sha,
        )
    sig = read(SIGNATURE_FILE)
    if sig is None:
        if trust is None:
            return SealCheck(
                "unsigned_signing_off",
                "unsigned (signing has not been enabled: run `archiver keys init`)",
                bid,
                None,
                sealed_at,
                tag_sha,
            )
        if trust.legacy_bundles.get(bid) == tag_sha:
            return SealCheck(
                "legacy_unsigned",
                f"unsigned, sealed before signing was enabled on {trust.signing_enabled_at[:10]}",
                bid,
                None,
                sealed_at,
                tag_sha,
            )
        return SealCheck(
            "quarantine",
            "UNSIGNED bundle that was not in the archive when signing was enabled on "
            f"{trust.signing_enabled_at[:10]}: forged or altered",
            bid,
            None,
            sealed_at,
            tag_sha,
        )
    fp = (read(SIGNATURE_KEY_FILE) or b"").decode("ascii", "replace").split()
    fp_hex = fp[1] if len(fp) == 2 and fp[0] == "ed25519" else None
    if trust is None:
        return SealCheck(
            "quarantine", "signed, but this archive trusts no keys", bid, fp_hex, sealed_at, tag_sha
        )
    tk = trust.key(fp_hex) if fp_hex else None
    if tk is None:
        return SealCheck(
            "quarantine",
            f"signed by an unknown key {(fp_hex or '?')[:16]}",
            bid,
            fp_hex,
            sealed_at,
            tag_sha,
        )
    if not tk.verify(sig, tag):
        return SealCheck(
            "quarantine",
            f"BAD SIGNATURE: the tagmanifest is not what key {tk.fingerprint[:16]} signed "
            "(forged or altered bundle)",
            bid,
            fp_hex,
            sealed_at,
            tag_sha,
        )
    if sealed_at is None or not _valid_at(tk.valid_at, sealed_at):
        return SealCheck(
            "quarantine",
            f"key {tk.fingerprint[:16]} was not trusted at the stated seal time {sealed_at}",
            bid,
            fp_hex,
            sealed_at,
            tag_sha,
        )
    return SealCheck(
        "signed",
        f"signed by key {tk.fingerprint[:16]} at {sealed_at}",
        bid,
        fp_hex,
        sealed_at,
        tag_sha,
    )


def _valid_at(valid: Callable[[str], bool], when: str) -> bool:
    try:
        return valid(when)
    except ValueError:
        return False
