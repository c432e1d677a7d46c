"""Sealed segments: the pending entries stored as immutable, hash-chained objects, and read back."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

from archiver.clock import now_iso
from archiver.fsutil import atomic_write, fsync_dir
from archiver.journal.model import (
    _HEAD,
    _NAME_RE,
    _PENDING,
    FORMAT,
    GENESIS,
    Entry,
    JournalError,
    JournalIntegrityError,
    Segment,
    _canonical,
)
from archiver.log import get_logger
from archiver.storage.base import JOURNAL_PREFIX, Storage

log = get_logger(__name__)

# --- seal --------------------------------------------------------------------------------------


def _segment_names(storage: Storage) -> list[tuple[int, str, str]]:
    out = []
    for name in storage.list_journal():
        m = _NAME_RE.fullmatch(name)
        if m is None:
            raise JournalIntegrityError(
                f"journal: unexpected object {JOURNAL_PREFIX}/{name} among the segments",
                hint="remove it only if it is not part of the journal; compare with backups",
            )
        out.append((int(m.group(1)), m.group(2), name))
    return sorted(out)


def read_head(folder: Path) -> tuple[int, str] | None:
    """(seq, sha256) of the newest segment this archive root sealed, if recorded."""
    try:
        data = json.loads((folder / _HEAD).read_text("utf-8"))
        return int(data["seq"]), str(data["sha256"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JournalError(
            f"journal head file {folder / _HEAD} is unreadable: {exc}",
            hint="restore it from backup or delete it (the chain in storage is still checked)",
        ) from exc


def _write_head(folder: Path, seq: int, sha: str, name: str) -> None:
    path = folder / _HEAD
    body = _canonical({"seq": seq, "sha256": sha, "name": name, "written_at": now_iso()}) + "\n"
    atomic_write(path, body.encode("utf-8"), mode=0o640)


def _body_of(data: bytes) -> bytes:
    return data.split(b"\n", 1)[1] if b"\n" in data else b""


def _lines_of(name: str, stored: bytes) -> bytes:
    """The JSON lines of a stored segment: a ``.jsonl.gz`` one is gzip-compressed (written
    so since bundle format 4: a run's segment is mostly repeated keys and digests, and WORM
    storage keeps every one), a ``.jsonl`` one is stored as is."""
    if not name.endswith(".gz"):
        return stored
    try:
        return gzip.decompress(stored)
    except (OSError, EOFError, zlib.error) as exc:
        raise JournalIntegrityError(
            f"journal segment {JOURNAL_PREFIX}/{name} is not a whole gzip file: {exc}",
            hint="restore this segment from a backup of the storage; nothing was rebuilt",
        ) from exc


def seal(folder: Path, storage: Storage) -> str | None:
    """Store the pending entries as the next segment; return its key (None: nothing pending)."""
    pending = folder / _PENDING
    try:
        body = pending.read_bytes()
    except FileNotFoundError:
        return None
    body = body[: body.rfind(b"\n") + 1]
    if not body:
        pending.unlink(missing_ok=True)
        return None
    names = _segment_names(storage)
    seq, prev = (names[-1][0], names[-1][1]) if names else (0, GENESIS)
    head = read_head(folder)
    if head is not None and head[0] > seq:
        raise JournalIntegrityError(
            f"journal segment {head[0]} recorded in {folder / _HEAD} is missing from storage "
            f"(storage ends at segment {seq}); not sealing onto a broken chain",
            hint="restore the missing journal segments from backup",
        )
    if names and _body_of(_lines_of(names[-1][2], storage.read_journal(names[-1][2]))) == body:
        # A crash after storing the segment but before clearing the pending file.
        _write_head(folder, seq, prev, names[-1][2])
        pending.unlink()
        return None
    count = body.count(b"\n")
    header = {
        "journal": FORMAT,
        "segment": seq + 1,
        "prev_sha256": prev,
        "created_at": now_iso(),
        "entries": count,
    }
    lines = (_canonical(header) + "\n").encode("utf-8") + body
    # The name's hash is of the stored object, so a segment is checked before it is unpacked.
    data = gzip.compress(lines, compresslevel=9, mtime=0)
    sha = hashlib.sha256(data).hexdigest()
    name = f"{seq + 1:08d}-{sha}.jsonl.gz"
    key = storage.put_journal(name, data)
    _write_head(folder, seq + 1, sha, name)
    pending.unlink()
    fsync_dir(folder)
    log.info("journal_sealed", key=key, entries=count)
    return key


# --- reading and replay ------------------------------------------------------------------------


def _parse_segment(seq: int, name: str, sha: str, data: bytes, prev: str) -> Segment:
    key = f"{JOURNAL_PREFIX}/{name}"
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        raise JournalIntegrityError(
            f"journal segment {key} was altered: its content hashes to {actual}",
            hint="restore this segment from a backup of the storage; nothing was rebuilt",
        )
    lines = _lines_of(name, data).decode("utf-8").split("\n")
    try:
        header = json.loads(lines[0])
        entries = [json.loads(line) for line in lines[1:] if line]
    except ValueError as exc:
        raise JournalIntegrityError(f"journal segment {key} is not JSON lines: {exc}") from exc
    if header.get("journal") != FORMAT:
        raise JournalError(
            f"journal segment {key} has format {header.get('journal')!r}; this version reads "
            f"format {FORMAT}",
            hint="rebuild with the archiver release that wrote it, or a newer one",
        )
    if header.get("segment") != seq or header.get("prev_sha256") != prev:
        raise JournalIntegrityError(
            f"journal segment {key} does not follow segment {seq - 1} (its header names "
            f"segment {header.get('segment')} after {header.get('prev_sha256')}): the chain "
            "was reordered or a segment replaced",
            hint="restore the journal from a backup of the storage",
        )
    if header.get("entries") != len(entries):
        raise JournalIntegrityError(f"journal segment {key} lost entries")
    return Segment(
        seq=seq,
        name=name,
        sha256=sha,
        prev_sha256=prev,
        created_at=str(header.get("created_at")),
        entries=[
            Entry(e["at"], e["op"], e["table"], list(e["key"]), e.get("row")) for e in entries
        ],
    )


def read_chain(storage: Storage, *, head: tuple[int, str] | None = None) -> list[Segment]:
    """Every segment in order, each checked against its name's hash and its predecessor.

    ``head`` (from ``head.json``) is the newest segment known to have been sealed: a chain
    that ends before it lost its newest segments.
    """
    names = _segment_names(storage)
    out: list[Segment] = []
    prev = GENESIS
    expected = 1
    for seq, sha, name in names:
        if seq < expected:
            raise JournalIntegrityError(
                f"journal: two segments claim number {seq} ({JOURNAL_PREFIX}/{name} and "
                f"{out[-1].key})",
                hint="the journal was forked; restore it from a backup of the storage",
            )
        if seq > expected:
            before = out[-1].key if out else "the start"
            raise JournalIntegrityError(
                f"journal segment {expected} is missing (between {before} and "
                f"{JOURNAL_PREFIX}/{name})",
                hint="restore the missing segment from a backup of the storage",
            )
        segment = _parse_segment(seq, name, sha, storage.read_journal(name), prev)
        out.append(segment)
        prev = sha
        expected = seq + 1
    if head is not None:
        last = out[-1].seq if out else 0
        if head[0] > last:
            raise JournalIntegrityError(
                f"journal segment {last + 1} is missing: this archive sealed segments up to "
                f"{head[0]} but storage ends at segment {last}",
                hint="restore the missing segments from a backup of the storage",
            )
        if head[0] and out[head[0] - 1].sha256 != head[1]:
            raise JournalIntegrityError(
                f"journal segment {out[head[0] - 1].key} differs from the one this archive "
                "sealed (head.json)",
                hint="restore the journal from a backup of the storage",
            )
    return out
