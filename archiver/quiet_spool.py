"""The quiet-tick spool: a fast-lane poll that found nothing costs its exchanges, not a bundle.

Why (issue 14): a tick that reveals nothing (an RSS ``304``, an empty notifications page, X
and Bluesky re-reading what they captured) sealed a bundle of its own, about 6-12 kB of
records.sqlite, bag files, warcinfo and journal rows for a few hundred bytes of exchange, each
minute, on WORM storage. Its exchanges are still evidence ("checked at 10:41, nothing new"),
so they are not dropped: each quiet tick's WARC records, byte for byte (record ids and
WARC-Dates unchanged), are written to ``<staging>/quiet/<site>/`` (one JSON file per tick and
record class, a temp file fsynced and renamed, like the stream and webhook spools). The next
bundle sealed for the site carries them (``BundleWriter.adopt``, with each tick's run id and
time in ``bundle_info.quiet_ticks``): the next tick that finds something, a tick once the
oldest spooled one is ``[fastlane] quiet_seal_every`` old, the daemon's stop and start, or a
sweep of the site.

Crash safety: before sealing, a run moves the files it adopted to ``claimed/<bundle id>/``
and deletes them only once that bundle is cataloged. A run killed in between leaves the
claim; the next run of the site (after ``Harvester.recover`` has published and cataloged
whatever was sealed) deletes claims whose bundle is cataloged and puts the others back, so a
spooled exchange is neither lost nor sealed twice.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.fsutil import fsync_dir
from archiver.model import WarcRef
from archiver.warc import RevisitTarget, WrittenRecord

SPOOL_FORMAT = 1


@dataclass(frozen=True)
class SpooledTick:
    """One quiet tick's records of one retention class, as read back from the spool."""

    path: Path
    run_id: str
    checked_at: str
    record_class: str
    bundle_id: str  # the bundle it was written under, never sealed
    records: list[tuple[WrittenRecord, bytes]]


def spool_dir(staging: Path, site_id: str) -> Path:
    return staging / "quiet" / site_id


def _encode(rec: WrittenRecord, member: bytes) -> dict[str, object]:
    r = rec.refers_to
    return {
        "id": rec.ref.record_id,
        "type": rec.ref.record_type,
        "uri": rec.ref.target_uri,
        "date": rec.warc_date,
        "digest": rec.payload_digest,
        "status": rec.http_status,
        "concurrent_to": rec.concurrent_to,
        "refers": [r.record_id, r.target_uri, r.warc_date, r.bundle_id] if r else None,
        "gz": base64.b64encode(member).decode("ascii"),
    }


def _decode(raw: dict[str, object]) -> tuple[WrittenRecord, bytes]:
    member = base64.b64decode(str(raw["gz"]))
    ref = WarcRef("", 0, len(member), str(raw["id"]), str(raw["type"]), str(raw["uri"] or ""))
    refers = raw.get("refers")
    target = None
    if isinstance(refers, list):
        target = RevisitTarget(str(refers[0]), str(refers[1]), str(refers[2]), refers[3])
    status = raw.get("status")
    return (
        WrittenRecord(
            ref,
            str(raw["date"]),
            str(raw["digest"]) if raw.get("digest") else None,
            int(status) if isinstance(status, int) else None,
            target,
            str(raw["concurrent_to"]) if raw.get("concurrent_to") else None,
        ),
        member,
    )


class QuietSpool:
    """The spool of one site. Used only while holding the site's harvest lock."""

    def __init__(self, staging: Path, site_id: str) -> None:
        self.dir = spool_dir(staging, site_id)
        self.claims = self.dir / "claimed"
        self._index: dict[tuple[str, str], RevisitTarget] | None = None

    def find_original(self, uri: str, digest: str) -> RevisitTarget | None:
        """A spooled response with this payload: the next quiet tick's identical answer is
        written as a revisit of it (its bundle id is the spooled tick's, renamed when both
        are carried into a bundle, always together)."""
        if self._index is None:
            self._index = {}
            for path in self.pending():
                tick = self.read(path)
                for rec, _ in tick.records:
                    if rec.ref.record_type == "response" and rec.payload_digest:
                        self._index.setdefault(
                            (rec.ref.target_uri, rec.payload_digest),
                            RevisitTarget(
                                rec.ref.record_id, rec.ref.target_uri, rec.warc_date, tick.bundle_id
                            ),
                        )
        return self._index.get((uri, digest))

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("[0-9]*.json")) if self.dir.is_dir() else []

    def holds_any(self) -> bool:
        """Spooled or claimed ticks: something a run of the site would seal."""
        if self.pending():
            return True
        return self.claims.is_dir() and any(self.claims.iterdir())

    def oldest(self) -> datetime | None:
        """When the oldest spooled tick checked (None: nothing spooled)."""
        for path in self.pending():
            return datetime.fromisoformat(json.loads(path.read_text("utf-8"))["checked_at"])
        return None

    def append(
        self,
        *,
        run_id: str,
        checked_at: datetime,
        record_class: str,
        bundle_id: str,
        records: Iterable[tuple[WrittenRecord, bytes]],
    ) -> Path:
        """Durably: a temp file, fsynced, renamed, the folder fsynced; a crash leaves the
        tick spooled whole or not at all (then its run never finished as succeeded)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        body = {
            "format": SPOOL_FORMAT,
            "run_id": run_id,
            "checked_at": checked_at.isoformat(),
            "record_class": record_class,
            "bundle_id": bundle_id,
            "records": [_encode(rec, member) for rec, member in records],
        }
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        tmp = self.dir / f".{name}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(body, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        final = self.dir / name
        tmp.rename(final)
        fsync_dir(self.dir)
        return final

    @staticmethod
    def read(path: Path) -> SpooledTick:
        raw = json.loads(path.read_text("utf-8"))
        return SpooledTick(
            path,
            str(raw["run_id"]),
            str(raw["checked_at"]),
            str(raw["record_class"]),
            str(raw["bundle_id"]),
            [_decode(r) for r in raw["records"]],
        )

    def claim(self, ticks: Iterable[SpooledTick], bundle_id: str) -> None:
        """Mark ``ticks`` as carried by ``bundle_id`` (before it is sealed)."""
        folder = self.claims / bundle_id
        folder.mkdir(parents=True, exist_ok=True)
        for t in ticks:
            t.path.rename(folder / t.path.name)
        fsync_dir(folder)
        fsync_dir(self.dir)

    def release(self, bundle_id: str) -> None:
        """``bundle_id`` is cataloged: what it carries leaves the spool."""
        folder = self.claims / bundle_id
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        fsync_dir(self.claims)

    def unclaim(self, bundle_id: str) -> None:
        """``bundle_id`` was not sealed: its ticks go back to the spool."""
        folder = self.claims / bundle_id
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            path.rename(self.dir / path.name)
        folder.rmdir()
        fsync_dir(self.dir)

    def settle(self, cataloged: Callable[[], Collection[str]]) -> None:
        """After a crash or a failed seal, once recovery has cataloged what was sealed:
        claims of cataloged bundles are done, the others go back to the spool."""
        if not self.claims.is_dir():
            return
        names = [p.name for p in self.claims.iterdir() if p.is_dir()]
        if not names:
            return
        done = cataloged()
        for name in names:
            if name in done:
                self.release(name)
            else:
                self.unclaim(name)
