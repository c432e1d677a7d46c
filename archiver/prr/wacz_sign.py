"""Sign an export's WACZ per WACZ Signing and Verification 0.1.0 (anonymous signature), and
check such a signature.

Why a one-time key: the WACZ signing spec allows only ECDSA keys (anonymous mode) or a
TLS domain certificate plus a timestamp (domain mode); the archive's own key is Ed25519,
and a City has no TLS certificate it may use for signing. So each export makes a fresh
ECDSA P-384 key, signs the WACZ's ``datapackage.json`` hash with it, writes the public half
into the package's ``authenticity/`` folder and throws the private half away: there is no
new secret to keep. The binding to the City is the package signature: the package's
tagmanifest (signed with the archive's Ed25519 key and timestamped) covers the public key
file, so a court checks "package signed by the City -> this WACZ key -> this WACZ", and a
WACZ shared on its own still verifies in WACZ tools that know the anonymous format.

Encoding, as the spec's reference tools use it (WebCrypto: ECDSA P-384 with SHA-256 over the
ASCII ``hash`` string): ``publicKey`` is base64 of the DER SubjectPublicKeyInfo and
``signature`` is base64 of the raw r||s value (IEEE P1363). OpenSSL wants DER signatures, so
the package also carries the same signature DER-encoded for the offline ``openssl dgst``
command in VERIFY.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

CURVE: Final = ec.SECP384R1()
_COORD: Final = 48  # bytes per P-384 coordinate (r and s in the P1363 form)
SIGNED_DATA_KEYS: Final = frozenset(
    {"hash", "created", "software", "version", "signature", "publicKey"}
)


@dataclass(frozen=True, slots=True)
class WaczSignature:
    """What the export keeps of a WACZ signature (the private key is already gone)."""

    signed_data: dict[str, str]
    public_pem: str
    der_signature: bytes
    fingerprint: str  # SHA-256 of the DER SubjectPublicKeyInfo, like the archive's keys


@dataclass(frozen=True, slots=True)
class WaczCheck:
    ok: bool
    reason: str
    fingerprint: str | None = None


def sign_hash(hash_value: str, *, created: str, software: str, version: str) -> WaczSignature:
    """Sign ``hash_value`` ("sha256:<hex>" of datapackage.json) with a one-time key."""
    key = ec.generate_private_key(CURVE)
    der_sig = key.sign(hash_value.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der_sig)
    raw = r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    del key
    return WaczSignature(
        signed_data={
            "hash": hash_value,
            "created": created,
            "software": software,
            "version": version,
            "signature": base64.b64encode(raw).decode("ascii"),
            "publicKey": base64.b64encode(spki).decode("ascii"),
        },
        public_pem=pem.decode("ascii"),
        der_signature=der_sig,
        fingerprint=hashlib.sha256(spki).hexdigest(),
    )


def _raw_to_der(raw: bytes) -> bytes:
    if len(raw) != 2 * _COORD:
        raise ValueError(f"signature is {len(raw)} bytes, a P-384 r||s value is {2 * _COORD}")
    return encode_dss_signature(
        int.from_bytes(raw[:_COORD], "big"), int.from_bytes(raw[_COORD:], "big")
    )


def check_signed_data(signed: dict[str, Any], package_bytes: bytes, created: Any) -> WaczCheck:
    """Check one ``signedData`` object against the ``datapackage.json`` bytes it signs."""
    extra = set(signed) - SIGNED_DATA_KEYS
    if extra:
        return WaczCheck(False, f"signedData has keys the spec does not allow: {sorted(extra)}")
    missing = SIGNED_DATA_KEYS - set(signed)
    if missing:
        return WaczCheck(False, f"signedData lacks {sorted(missing)}")
    actual = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    if signed["hash"] != actual:
        return WaczCheck(False, "datapackage.json does not match the signed hash")
    if signed["created"] != created:
        return WaczCheck(False, "signedData.created differs from datapackage.json created")
    try:
        spki = base64.b64decode(str(signed["publicKey"]), validate=True)
        public = serialization.load_der_public_key(spki)
        der = _raw_to_der(base64.b64decode(str(signed["signature"]), validate=True))
    except ValueError as exc:
        return WaczCheck(False, f"unreadable key or signature: {exc}")
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != CURVE.name:
        return WaczCheck(False, "publicKey is not an ECDSA P-384 key")
    fp = hashlib.sha256(spki).hexdigest()
    try:
        public.verify(der, str(signed["hash"]).encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return WaczCheck(False, "the signature does not verify with its publicKey", fp)
    return WaczCheck(True, "signature verified", fp)


def verify_wacz(path: Path) -> WaczCheck:
    """Verify the anonymous signature of the WACZ at ``path`` (unsigned = not ok)."""
    try:
        with zipfile.ZipFile(path) as z:
            package_bytes = z.read("datapackage.json")
            digest = json.loads(z.read("datapackage-digest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        return WaczCheck(False, f"cannot read {path.name}: {exc}")
    actual = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    if digest.get("hash") != actual:
        return WaczCheck(False, "datapackage-digest.json hash does not match datapackage.json")
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        return WaczCheck(False, "the WACZ is not signed (no signedData)")
    try:
        created = json.loads(package_bytes).get("created")
    except json.JSONDecodeError as exc:
        return WaczCheck(False, f"datapackage.json is not JSON: {exc}")
    return check_signed_data(signed, package_bytes, created)
