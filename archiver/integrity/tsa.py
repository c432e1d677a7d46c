"""RFC 3161 trusted timestamps: ask a Time-Stamping Authority, check its token.

Both the request and the check run the ``openssl ts`` command (via subprocess, no shell).
Why not a Python ASN.1 library: ``openssl ts -verify`` is exactly what an examiner runs on
an export (VERIFY.md), so the archiver's own check and the court's check cannot disagree;
it checks the CMS signature, the TSA certificate's chain to the configured CA bundle and its
critical timeStamping extended key usage, which we would otherwise re-implement; and
OpenSSL is present on every server this runs on, so it adds no dependency.

The message imprint is the SHA-256 of the exact bytes of ``tagmanifest-sha256.txt`` (which
the Ed25519 signature also covers). A token for any other digest -- e.g. one obtained in the
past for a different bundle and copied into a forged one -- fails ``-verify`` and is named.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archiver.errors import ArchiverError
from archiver.settings.integrity import TsaSettings

_TIME_RE = re.compile(r"^Time stamp:\s*(.+)$", re.MULTILINE)
_IMPRINT_RE = re.compile(r"^Message data:\s*\n((?:\s+[0-9a-f]{4} - .*\n)+)", re.MULTILINE)


class TimestampError(ArchiverError):
    """The TSA could not be reached or refused; the bundle is sealed and the stamp retried."""


def _openssl() -> str:
    exe = shutil.which("openssl")
    if exe is None:
        raise TimestampError("the openssl command is not installed", hint="apt-get install openssl")
    return exe


def make_request(digest_hex: str) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest, asking the TSA to include its certificate."""
    proc = subprocess.run(
        [_openssl(), "ts", "-query", "-digest", digest_hex, "-sha256", "-cert"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise TimestampError(f"openssl ts -query failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def request_token(settings: TsaSettings, digest_hex: str) -> bytes:
    """Ask the TSA; returns the DER TimeStampResp, already verified against the CA bundle."""
    import httpx  # only when asking a TSA: checking a stored token needs no HTTP stack

    req = make_request(digest_hex)
    try:
        resp = httpx.post(
            settings.url,
            content=req,
            headers={"Content-Type": "application/timestamp-query"},
            timeout=settings.timeout,
        )
    except httpx.HTTPError as exc:
        raise TimestampError(f"TSA {settings.url} unreachable: {exc}") from exc
    if resp.status_code != 200:
        raise TimestampError(f"TSA {settings.url} answered HTTP {resp.status_code}")
    result = verify_token(resp.content, digest_hex, settings.ca_file)
    if not result.ok:
        raise TimestampError(f"TSA {settings.url} returned an unusable token: {result.reason}")
    return resp.content


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    reason: str
    time: str | None = None
    imprint: str | None = None


def token_info(token: bytes) -> tuple[str | None, str | None]:
    """(time as ISO 8601 UTC, message imprint hex) as the token states them."""
    with tempfile.NamedTemporaryFile(suffix=".tsr") as fh:
        fh.write(token)
        fh.flush()
        proc = subprocess.run(
            [_openssl(), "ts", "-reply", "-in", fh.name, "-text"],
            capture_output=True,
            check=False,
        )
    out = proc.stdout.decode("utf-8", "replace")
    when: str | None = None
    m = _TIME_RE.search(out)
    if m:
        raw = m.group(1).strip().replace(" GMT", "")
        for fmt in ("%b %d %H:%M:%S.%f %Y", "%b %d %H:%M:%S %Y"):
            try:
                when = datetime.strptime(raw, fmt).replace(tzinfo=UTC).isoformat()
                break
            except ValueError:
                continue
    imprint: str | None = None
    m2 = _IMPRINT_RE.search(out)
    if m2:
        hexes = []
        for line in m2.group(1).splitlines():
            part = line.split(" - ", 1)[1][:48]
            hexes.append(part.replace("-", " ").replace(" ", ""))
        imprint = "".join(hexes)
    return when, imprint


def verify_token(token: bytes, digest_hex: str, ca_file: Path) -> TokenCheck:
    """``openssl ts -verify -digest … -in token -CAfile ca``: imprint, CMS signature, chain."""
    when, imprint = token_info(token)
    if imprint is not None and imprint != digest_hex:
        return TokenCheck(
            False,
            f"TIMESTAMP FOR ANOTHER DIGEST: the token stamps {imprint[:16]}…, the tagmanifest "
            f"is {digest_hex[:16]}… (token copied from another bundle, or the bundle changed)",
            when,
            imprint,
        )
    with tempfile.NamedTemporaryFile(suffix=".tsr") as fh:
        fh.write(token)
        fh.flush()
        proc = subprocess.run(
            [
                _openssl(),
                "ts",
                "-verify",
                "-digest",
                digest_hex,
                "-in",
                fh.name,
                "-CAfile",
                str(ca_file),
            ],
            capture_output=True,
            check=False,
        )
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip().splitlines()
        return TokenCheck(
            False,
            "timestamp token does not verify against the TSA CA bundle: "
            + (detail[-1] if detail else "openssl ts -verify failed"),
            when,
            imprint,
        )
    return TokenCheck(True, f"timestamped {when}", when, imprint)
