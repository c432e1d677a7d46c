"""Authenticity of an export: re-read every exported version from its sealed bundle, and put
in the package what a court needs to check it offline with openssl, bagit and sha256sum.

Hooks called by ``archiver.prr.export`` (kept here so the export's own structure can change
independently):

* :func:`check_against_bundles` before anything is written: each exported version's text is
  read from the sealed ``records.sqlite`` of the bundle it cites (never from the catalog
  alone); a divergence, or a source bundle that is quarantined or fails its seal check,
  refuses the export, naming the version.
* :func:`write_evidence` before bagging: public keys, each source bundle's tag files,
  signature and timestamp token, the TSA CA, the chain of custody and ``VERIFY.md``, all as
  tag files the bag's tagmanifest covers.
* :func:`certification_section`: the FRE 902(14)-shaped certificate text.
* :func:`sign_package` after bagging: an Ed25519 signature and an RFC 3161 token over the
  package's ``tagmanifest-sha256.txt``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from archiver import audit
from archiver.bundle import RECORDS_DB
from archiver.bundle_format import open_records
from archiver.errors import ExportError, StorageError
from archiver.integrity.admit import is_quarantined, judge_token, load_trust, storage_reader
from archiver.integrity.deep import sealed_records
from archiver.integrity.documents import read_document
from archiver.integrity.keys import load_private_key
from archiver.integrity.seal import (
    SIGNATURE_FILE,
    SIGNATURE_KEY_FILE,
    TIMESTAMP_FILE,
    SealCheck,
    check_seal,
)
from archiver.integrity.sealer import late_token_name
from archiver.integrity.tsa import TimestampError, request_token
from archiver.parts import ArchiveParts
from archiver.prr.wacz_sign import WaczSignature

EVIDENCE_DIR = "authenticity"
PACKAGE_SIGNATURE = "package-signature.ed25519"
PACKAGE_SIGNATURE_KEY = "package-signature-key.txt"
PACKAGE_TIMESTAMP = "package-timestamp.tsr"
WACZ_FILE = "data/replay/export.wacz"
WACZ_PUBLIC_KEY = "wacz-public-key.pem"
WACZ_SIGNATURE = "wacz-signature.der"
WACZ_SIGNED_HASH = "wacz-signed-hash.txt"


@dataclass
class Evidence:
    """What ``write_evidence`` put in the package, for the certificate and VERIFY.md."""

    seals: dict[str, SealCheck] = field(default_factory=dict)
    stamped: dict[str, str] = field(default_factory=dict)  # bundle id -> token file in package
    key_files: dict[str, str] = field(default_factory=dict)  # fingerprint -> pem path
    tsa_ca: str | None = None
    custody: int = 0
    wacz: WaczSignature | None = None


def signing_enabled(app: ArchiveParts) -> bool:
    """Whether the archive signs (its trusted-keys file exists); exports then sign too."""
    return load_trust(app.cfg.root) is not None


def check_against_bundles(app: ArchiveParts, hits: list[dict[str, Any]]) -> dict[str, SealCheck]:
    """Refuse the export unless every version's text is the sealed text of a sound bundle."""
    trust = load_trust(app.cfg.root)
    by_bundle: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for h in hits:
        by_bundle[str(h["bundle_id"])].append(h)
    bundles = {str(b["id"]): b for b in app.catalog.bundles()}
    seals: dict[str, SealCheck] = {}
    diverging: list[str] = []
    for bid, rows in sorted(by_bundle.items()):
        b = bundles.get(bid)
        if b is None:
            raise ExportError(
                f"exported versions cite bundle {bid}, which the catalog does not list; "
                "nothing was exported",
                hint="run `archiver verify --deep` to see what changed in the catalog",
            )
        with app.catalog.begin() as conn:
            if is_quarantined(conn, b["key"]):
                raise ExportError(
                    f"source bundle {bid} is QUARANTINED; nothing was exported",
                    hint="see `archiver verify`; a quarantined bundle is never exported",
                )
        check = check_seal(storage_reader(app.storage, b["key"]), b["key"], trust)
        if not check.admissible:
            raise ExportError(
                f"source bundle {bid} failed its seal check ({check.reason}); nothing was exported",
                hint="run `archiver verify`",
            )
        seals[bid] = check
        want = app.catalog.bundle_files(bid).get(RECORDS_DB, (None, 0))[0]
        try:
            with sealed_records(app.storage, b["key"], want) as path:
                rec = open_records(path)
                try:
                    sealed = {
                        (r["platform_id"], r["content_hash"]): r["text"]
                        for r in rec.execute("SELECT platform_id, content_hash, text FROM items")
                    }
                finally:
                    rec.close()
        except (StorageError, OSError) as exc:
            raise ExportError(
                f"cannot re-read the sealed records of bundle {bid}: {exc}; nothing was exported"
            ) from exc
        for h in rows:
            text = sealed.get((str(h["platform_id"]), str(h["content_hash"])))
            if text is None or text != h["text"]:
                diverging.append(
                    f"{h['site_id']}/{h['platform_id']} v{h['version']} (bundle {bid})"
                )
    if diverging:
        raise ExportError(
            f"{len(diverging)} exported version(s) differ from their sealed bundle, first: "
            f"{diverging[0]}; the catalog was altered, nothing was exported",
            hint="run `archiver verify --deep` and restore the catalog from the bundles",
        )
    return seals


def _copy_bytes(data: bytes | None, dest: Path) -> bool:
    if data is None:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return True


def write_evidence(
    app: ArchiveParts,
    package: Path,
    seals: Mapping[str, SealCheck],
    *,
    source_ids: list[str],
    request_id: str,
    wacz: WaczSignature | None = None,
) -> Evidence:
    """Keys, per-bundle signatures and tokens, TSA CA, chain of custody (tag files)."""
    top = package / EVIDENCE_DIR
    top.mkdir(parents=True, exist_ok=True)
    trust = load_trust(app.cfg.root)
    bundles = {str(b["id"]): b for b in app.catalog.bundles()}
    ev = Evidence(seals=dict(seals), wacz=wacz)
    if wacz is not None:
        (top / WACZ_PUBLIC_KEY).write_text(wacz.public_pem, encoding="ascii")
        (top / WACZ_SIGNATURE).write_bytes(wacz.der_signature)
        (top / WACZ_SIGNED_HASH).write_text(wacz.signed_data["hash"], encoding="ascii")
    for bid in sorted(set(source_ids) - set(seals)):
        # Bundles holding the originals of revisit records: checked like the others.
        key = bundles[bid]["key"]
        check = check_seal(storage_reader(app.storage, key), key, trust)
        if not check.admissible:
            raise ExportError(
                f"source bundle {bid} failed its seal check ({check.reason}); nothing was exported",
                hint="run `archiver verify`",
            )
        ev.seals[bid] = check
    seals = ev.seals
    if trust is not None:
        for k in trust.keys:
            rel = f"{EVIDENCE_DIR}/keys/{k.fingerprint[:16]}.pem"
            (package / rel).parent.mkdir(parents=True, exist_ok=True)
            (package / rel).write_text(k.public_key_pem, encoding="ascii")
            ev.key_files[k.fingerprint] = rel
        (top / "keys" / "trusted-keys.json").write_text(
            json.dumps(
                {
                    "keys": [k.as_dict() for k in trust.keys],
                    "signing_enabled_at": trust.signing_enabled_at,
                },
                indent=2,
            )
            + "\n"
        )
    settings = app.cfg.integrity.tsa
    if settings is not None:
        ev.tsa_ca = f"{EVIDENCE_DIR}/tsa-ca.pem"
        shutil.copyfile(settings.ca_file, package / ev.tsa_ca)
    for bid, check in sorted(seals.items()):
        key = bundles[bid]["key"]
        read = storage_reader(app.storage, key)
        dest = top / "bundles" / bid
        for name in ("bagit.txt", "bag-info.txt", "tagmanifest-sha256.txt", "manifest-sha256.txt"):
            _copy_bytes(read(name), dest / name)
        if check.state == "signed":
            _copy_bytes(read(SIGNATURE_FILE), dest / SIGNATURE_FILE)
            _copy_bytes(read(SIGNATURE_KEY_FILE), dest / SIGNATURE_KEY_FILE)
        token = read(TIMESTAMP_FILE)
        late = token is None
        if token is None:
            token = read_document(app.storage, late_token_name(bid))
        if token is not None and settings is not None:
            verdict = judge_token(token, check, settings.ca_file, late=late)
            if not verdict.ok:
                raise ExportError(
                    f"source bundle {bid}: {verdict.reason}; nothing was exported",
                    hint="run `archiver verify`",
                )
            _copy_bytes(token, dest / TIMESTAMP_FILE)
            ev.stamped[bid] = f"{EVIDENCE_DIR}/bundles/{bid}/{TIMESTAMP_FILE}"
    custody = chain_of_custody(app, seals, request_id)
    (top / "chain-of-custody.csv").write_text(custody, encoding="utf-8")
    ev.custody = custody.count("\n") - 1
    (package / "VERIFY.md").write_text(verify_md(ev, package_signed=trust is not None))
    return ev


def verify_md(ev: Evidence, *, package_signed: bool) -> str:
    """The exact offline commands, run from the package folder (one ``sh`` block)."""
    cmds: list[str] = [
        "bagit.py --validate .",
        "sha256sum -c manifest-sha256.txt",
        "sha256sum -c tagmanifest-sha256.txt",
    ]
    for fp, rel in sorted(ev.key_files.items()):
        cmds.append(f"openssl pkey -pubin -in {rel} -outform DER | sha256sum  # = {fp}")
    pkg_key = None
    if package_signed and ev.key_files:
        # The package is signed with the archive's current key (listed last in the file).
        pkg_key = list(ev.key_files.values())[-1]
        cmds.append(
            f"openssl pkeyutl -verify -pubin -inkey {pkg_key} -rawin "
            f"-in tagmanifest-sha256.txt -sigfile {PACKAGE_SIGNATURE}"
        )
    if ev.tsa_ca is not None:
        cmds.append(
            f"openssl ts -verify -data tagmanifest-sha256.txt -in {PACKAGE_TIMESTAMP} "
            f"-CAfile {ev.tsa_ca}"
        )
    if ev.wacz is not None:
        d = EVIDENCE_DIR
        signed_hash = ev.wacz.signed_data["hash"]
        cmds += [
            f"unzip -p {WACZ_FILE} datapackage.json | sha256sum  # = "
            + signed_hash.removeprefix("sha256:"),
            f"openssl pkey -pubin -in {d}/{WACZ_PUBLIC_KEY} -outform DER | sha256sum  # = "
            + ev.wacz.fingerprint,
            f"openssl dgst -sha256 -verify {d}/{WACZ_PUBLIC_KEY} -signature {d}/{WACZ_SIGNATURE} "
            f"{d}/{WACZ_SIGNED_HASH}",
        ]
    unsigned: list[str] = []
    for bid, check in sorted(ev.seals.items()):
        d = f"{EVIDENCE_DIR}/bundles/{bid}"
        cmds.append(f"(cd {d} && sha256sum -c tagmanifest-sha256.txt)")
        if check.state == "signed" and check.fingerprint in ev.key_files:
            cmds.append(
                f"openssl pkeyutl -verify -pubin -inkey {ev.key_files[check.fingerprint]} -rawin "
                f"-in {d}/tagmanifest-sha256.txt -sigfile {d}/{SIGNATURE_FILE}"
            )
        else:
            unsigned.append(f"- {bid}: {check.reason}")
        if bid in ev.stamped and ev.tsa_ca is not None:
            cmds.append(
                f"openssl ts -verify -data {d}/tagmanifest-sha256.txt -in {ev.stamped[bid]} "
                f"-CAfile {ev.tsa_ca}"
            )
    lines = [
        "# How to verify this package offline",
        "",
        "Needs only OpenSSL 3 (for `pkeyutl -rawin` with Ed25519 keys), bagit.py",
        "(`pip install bagit`) and GNU coreutils `sha256sum`. Run every command from the",
        "package folder; each must succeed (exit status 0; openssl prints `Verified OK`,",
        "`Signature Verified Successfully`, sha256sum prints `OK` per file).",
        "",
        "What each step proves:",
        "",
        "1. `bagit.py --validate` and `sha256sum -c`: no file of the package changed since it",
        "   was made (the manifests list the SHA-256 of every file).",
        "2. `openssl pkey … | sha256sum`: the public key's fingerprint; compare it with the one",
        "   printed in `certification.txt` and in the City's monthly archive reports.",
        "3. `openssl pkeyutl -verify` on `tagmanifest-sha256.txt`: the package manifest was",
        "   signed by the archive's key; `openssl ts -verify`: it existed at the time the",
        "   Time-Stamping Authority states (`openssl ts -reply -in package-timestamp.tsr -text`).",
        "4. For each source bundle under `authenticity/bundles/<id>/`: its copied tag files match",
        "   its signed tagmanifest, the tagmanifest carries the archive's signature made at",
        "   sealing, and its RFC 3161 token stamps exactly that tagmanifest. The bundle's",
        "   `manifest-sha256.txt` lists the SHA-256 of the WARC files the exported records",
        "   were copied from (byte for byte, at the offsets in `data/index.csv`); the City can",
        "   produce the bundles themselves, which verify with the same commands.",
        "",
        "5. The replayable copy `data/replay/export.wacz` is signed per WACZ Signing and",
        "   Verification 0.1.0 (anonymous ECDSA P-384 signature in its",
        "   `datapackage-digest.json`, made with a one-time key whose public half is",
        f"   `{EVIDENCE_DIR}/{WACZ_PUBLIC_KEY}`; it is covered by the signed package manifest).",
        "   `unzip -p … | sha256sum` must print the hash in",
        f"   `{EVIDENCE_DIR}/{WACZ_SIGNED_HASH}` and `openssl dgst -verify` must print",
        "   `Verified OK` (the same signature in DER form, as OpenSSL reads it).",
        "",
        "The audit events that touched these records are in",
        "`authenticity/chain-of-custody.csv` (each with its hash in the archive's audit chain).",
        "",
        "```sh",
        *cmds,
        "```",
        "",
    ]
    if unsigned:
        lines += [
            "Source bundles WITHOUT a signature (sealed before signing was enabled, or signing",
            "is off); their integrity rests on their SHA-256 manifests only:",
            "",
            *unsigned,
            "",
        ]
    return "\n".join(lines)


def chain_of_custody(app: ArchiveParts, seals: Mapping[str, SealCheck], request_id: str) -> str:
    """Every audit event that touched the exported records: the harvest runs and seals of
    their bundles, quarantines, verifications, key changes, holds and dispositions, and this
    request. CSV with each entry's hash, so it can be matched against the audit log."""
    import csv
    import io

    a = audit.audit_log
    ids = sorted(seals)
    runs: set[str] = set()
    from archiver.catalog import schema as s

    with app.catalog.begin() as conn:
        for r in conn.execute(select(s.bundles.c.run_id).where(s.bundles.c.id.in_(ids))):
            runs.add(str(r[0]))
        conds = [
            a.c.subject.in_(ids),
            a.c.action.in_(("verify", "keys.init", "keys.rotate", "timestamp")),
            a.c.subject == request_id,
        ]
        conds += [a.c.details.like(f'%"{bid}"%') for bid in ids]
        conds += [a.c.details.like(f'%"{run}"%') for run in sorted(runs)]
        rows = conn.execute(select(a).where(or_(*conds)).order_by(a.c.seq)).all()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["seq", "at", "actor", "action", "subject", "details", "entry_hash"])
    for r in rows:
        w.writerow([r.seq, r.at, r.actor, r.action, r.subject, r.details, r.entry_hash])
    return buf.getvalue()


def certification_section(app: ArchiveParts, ev: Evidence, *, actor: str) -> str:
    """A certificate of authenticity shaped to Federal Rule of Evidence 902(14)."""
    states: dict[str, int] = defaultdict(int)
    for c in ev.seals.values():
        states[c.state] += 1
    lines = [
        "",
        "CERTIFICATE OF AUTHENTICITY (Federal Rule of Evidence 902(14): data copied from an",
        "electronic device, storage medium or file, authenticated by a process of digital",
        "identification)",
        "",
        "1. WHO CERTIFIES",
        f"   {actor}, for {app.cfg.city}, custodian of the City's social media archive (or",
        "   another qualified person), certifies the following on the basis of the process",
        "   below. Signature of the qualified person: ______________________  Date: __________",
        "",
        "2. THE PROCESS OF DIGITAL IDENTIFICATION",
        "   Each record was captured into WARC files, sealed into a BagIt bundle whose",
        "   SHA-256 manifests cover every byte, and the bundle's tagmanifest-sha256.txt was",
        "   signed at sealing with the archive's Ed25519 key and, where a Time-Stamping",
        "   Authority was configured, timestamped under RFC 3161. Before this export every",
        "   source bundle was re-hashed, its signature and timestamp were checked, and each",
        "   exported version's text was re-read from the sealed bundle and found identical.",
        "   The package's own tagmanifest-sha256.txt is signed (package-signature.ed25519)",
        "   and timestamped (package-timestamp.tsr, when a TSA is configured).",
        "",
        "   Source bundles: "
        + ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(states.items())),
    ]
    if states.get("legacy_unsigned"):
        lines.append(
            "   Bundles marked 'legacy unsigned' were sealed before signing was enabled; their"
        )
        lines.append(
            "   integrity rests on their SHA-256 manifests and the catalog's digests, not on a"
        )
        lines.append("   signature, and they are NOT certified as signature-verified.")
    if states.get("unsigned_signing_off"):
        lines.append("   Signing is not enabled on this archive: NO source bundle is signed.")
    for fp, rel in sorted(ev.key_files.items()):
        lines.append(f"   Archive public key: ed25519 {fp} ({rel})")
    if ev.wacz is not None:
        lines += [
            "   The replayable copy data/replay/export.wacz carries a WACZ signature",
            "   (WACZ Signing 0.1.0, anonymous ECDSA P-384) by a one-time key made for this",
            f"   export: {ev.wacz.fingerprint} ({EVIDENCE_DIR}/{WACZ_PUBLIC_KEY});",
            "   its private half was discarded after signing.",
        ]
    lines += [
        f"   Timestamp tokens included: {len(ev.stamped)} of {len(ev.seals)} source bundle(s)",
        f"   Chain of custody: {ev.custody} audit event(s) in {EVIDENCE_DIR}/chain-of-custody.csv",
        "",
        "3. HOW TO VERIFY",
        "   VERIFY.md in this package lists the exact offline commands (openssl, bagit.py,",
        "   sha256sum); no software from the City is needed.",
        "",
    ]
    return "\n".join(lines)


def sign_package(app: ArchiveParts, package: Path) -> list[str]:
    """Sign (and timestamp) the package's tagmanifest; returns the files written."""
    tag = (package / "tagmanifest-sha256.txt").read_bytes()
    written: list[str] = []
    if load_trust(app.cfg.root) is not None:
        from archiver.integrity.keys import fingerprint

        key = load_private_key(app.cfg.root)
        (package / PACKAGE_SIGNATURE).write_bytes(key.sign(tag))
        (package / PACKAGE_SIGNATURE_KEY).write_text(
            f"ed25519 {fingerprint(key.public_key())}\n", encoding="ascii"
        )
        written += [PACKAGE_SIGNATURE, PACKAGE_SIGNATURE_KEY]
    settings = app.cfg.integrity.tsa
    if settings is not None:
        try:
            token = request_token(settings, hashlib.sha256(tag).hexdigest())
        except TimestampError as exc:
            raise ExportError(
                f"the Time-Stamping Authority did not stamp the package: {exc}",
                hint="retry the export when the TSA answers (the package was not published)",
            ) from exc
        (package / PACKAGE_TIMESTAMP).write_bytes(token)
        written.append(PACKAGE_TIMESTAMP)
    return written
