"""The human-readable copy of an export: a small static HTML site and a PDF of the same.

A requester should not need WARC tools to read what they asked for. Posts are shown as
threads (replies nested under what they answer), every captured version side by side so an
edit is visible at a glance, and removed items are marked with how and when the archiver
noticed. Times are shown in the City's zone (America/Denver by default) with the zone name,
because the requester and a court read local time. Texts here are the redacted ones when
rules apply; the originals in ``data/originals/`` are never altered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from archiver.errors import ExportError
from archiver.timefmt import local_time

if TYPE_CHECKING:
    from archiver import pdf


@dataclass
class VersionView:
    version: int
    text: str
    captured: str
    edited: str
    content_hash: str
    current: bool
    redacted: bool
    #: Attachments: type, description, url, file (relative to data/readable/), image, note.
    media: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ItemView:
    key: str  # site/platform_id
    platform_id: str
    site_id: str
    kind: str
    author: str
    permalink: str
    posted: str
    first_captured: str
    last_seen: str
    removal: str
    parent_id: str | None
    #: The City's removal under the comment policy and the City Attorney's review, if any.
    review: list[str] = field(default_factory=list)
    versions: list[VersionView] = field(default_factory=list)
    children: list[ItemView] = field(default_factory=list)
    depth: int = 0
    orphan: bool = False
    root_id: str = ""
    posted_raw: str = ""
    #: The request's query matched this item (False: included for its conversation).
    matched: bool = True


@dataclass
class ThreadView:
    slug: str
    site_id: str
    title: str
    root: ItemView | None
    root_id: str
    flat: list[ItemView] = field(default_factory=list)
    posted: str = ""
    #: Earliest and latest posting time of the thread's items, in the City's zone with the
    #: zone named ("" when no item has a posting time).
    first_post: str = ""
    last_post: str = ""


def fmt_time(value: str | None, tz: str) -> str:
    """An ISO UTC timestamp shown in the City's zone, e.g. ``2026-11-15 14:05:18 MST``."""
    return local_time(value, tz, seconds=True)


def removal_text(row: Mapping[str, Any], tz: str) -> str:
    state = row.get("removal_state")
    if not state and not row.get("disappeared_at"):
        return ""
    when = fmt_time(row.get("disappeared_at") or row.get("last_seen_at"), tz)
    if state == "hidden_upstream":
        return f"Hidden upstream (by the account owner or platform); detected at {when}"
    return (
        f"Removed upstream; detected at {when} (last seen {fmt_time(row.get('last_seen_at'), tz)})"
    )


def review_lines(row: Mapping[str, Any], tz: str) -> list[str]:
    """The removed-comment review trail of an item, as sentences (empty if none recorded)."""
    category = row.get("city_removal_category")
    if category is None:
        return []
    name = row.get("city_removal_category_name") or "unknown category"
    by = row.get("city_removal_recorded_by") or "?"
    when = fmt_time(row.get("city_removal_recorded_at"), tz)
    note = row.get("city_removal_note") or ""
    lines = [
        f"Removed by the City under the Social Media Use Policy, prohibited-content category "
        f"{category} ({name}); recorded by {by} at {when}" + (f". Note: {note}" if note else "")
    ]
    decision = row.get("attorney_decision")
    if decision:
        verb = {"approve": "approved", "reject": "rejected"}.get(str(decision), str(decision))
        attorney = row.get("attorney") or "?"
        reviewed = fmt_time(row.get("attorney_reviewed_at"), tz)
        anote = row.get("attorney_note") or ""
        lines.append(
            f"City Attorney review: {attorney} {verb} the removal at {reviewed}"
            + (f". Note: {anote}" if anote else "")
        )
    else:
        lines.append("City Attorney review: not yet reviewed")
    return lines


def _shorten(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat[:width].rsplit(" ", 1)[0]
    return cut + "…"


def _slug(site: str, pid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{site}-{pid}")


def build_threads(
    rows: Iterable[Mapping[str, Any]],
    tz: str,
    *,
    missing_roots: set[tuple[str, str]] | None = None,
) -> list[ThreadView]:
    """Group version rows (already redacted) into items and threads, newest thread first.

    ``missing_roots`` are (site, root id) of conversations whose post was never captured:
    their title says so instead of "not in this export".
    """
    missing = missing_roots or set()
    items: dict[str, ItemView] = {}
    for r in rows:
        key = f"{r['site_id']}/{r['platform_id']}"
        view = items.get(key)
        if view is None:
            who = r.get("author_handle") or r.get("author_id") or "?"
            name = r.get("author_name") or ""
            view = ItemView(
                key=key,
                platform_id=str(r["platform_id"]),
                site_id=str(r["site_id"]),
                kind=str(r["kind"]),
                author=f"{name} (@{who})" if name else f"@{who}",
                permalink=str(r.get("permalink") or ""),
                posted=fmt_time(r.get("posted_at"), tz),
                first_captured=fmt_time(r.get("first_captured_at"), tz),
                last_seen=fmt_time(r.get("last_seen_at"), tz),
                removal=removal_text(r, tz),
                parent_id=r.get("parent_id"),
                review=review_lines(r, tz),
            )
            view.root_id = str(r.get("root_id") or r["platform_id"])
            view.matched = r.get("included_as", "match") == "match"
            view.posted_raw = str(r.get("posted_at") or "")
            items[key] = view
        view.versions.append(
            VersionView(
                version=int(r["version"]),
                text=str(r["text"] or ""),
                captured=fmt_time(r.get("captured_at"), tz),
                edited=fmt_time(r.get("edited_at"), tz),
                content_hash=str(r["content_hash"]),
                current=int(r["version"]) == int(r["current_version"]),
                redacted=bool(r.get("redacted")),
                media=list(r.get("media") or []),
            )
        )
    for v in items.values():
        v.versions.sort(key=lambda x: x.version)
    threads: dict[tuple[str, str], ThreadView] = {}
    for v in items.values():
        root_id: str = v.root_id
        if v.kind == "post" or v.platform_id == root_id:
            root_id = v.platform_id
        tkey = (v.site_id, root_id)
        if tkey not in threads:
            threads[tkey] = ThreadView(
                slug=_slug(v.site_id, root_id),
                site_id=v.site_id,
                title="",
                root=None,
                root_id=root_id,
            )
        t = threads[tkey]
        if v.platform_id == root_id:
            t.root = v
    # Nest each reply under its parent when the parent is in the export.
    for v in items.values():
        root_id = v.platform_id if v.kind == "post" else v.root_id
        t = threads[(v.site_id, root_id)]
        if t.root is v:
            continue
        parent = items.get(f"{v.site_id}/{v.parent_id}") if v.parent_id else None
        if parent is not None and parent is not v:
            parent.children.append(v)
        else:
            v.orphan = True
            if t.root is not None:
                t.root.children.append(v)
            else:
                t.flat.append(v)  # temporary holder of top-level items

    out = []
    for t in threads.values():
        tops = [t.root] if t.root is not None else list(t.flat)
        t.flat = []
        for top in tops:
            _flatten(top, 0, t.flat, set())
        first = t.root or (t.flat[0] if t.flat else None)
        t.posted = first.posted_raw if first else ""
        dated = []
        for i in t.flat:
            stamp = _utc_stamp(i.posted_raw)
            if stamp is not None:
                dated.append((stamp, i.posted))
        dated.sort()
        if dated:
            t.first_post, t.last_post = dated[0][1], dated[-1][1]
        if t.root is not None:
            text = t.root.versions[-1].text if t.root.versions else ""
            t.title = _shorten(text, 90) or f"post {t.root_id}"
        elif (t.site_id, t.root_id) in missing:
            t.title = (
                f"replies to post {t.root_id} (the post itself was never captured: "
                "see KNOWN GAPS in certification.txt)"
            )
        else:
            t.title = f"replies to post {t.root_id} (the post itself is not in this export)"
        out.append(t)
    out.sort(key=lambda t: (t.posted, t.slug), reverse=True)
    return out


def _utc_stamp(value: str) -> float | None:
    """A posting time as seconds since the epoch, for ordering (None if not a timestamp)."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _flatten(v: ItemView, depth: int, acc: list[ItemView], seen: set[str]) -> None:
    if v.key in seen:
        return
    seen.add(v.key)
    v.depth = depth
    acc.append(v)
    for c in sorted(v.children, key=lambda c: c.posted_raw):
        _flatten(c, depth + 1, acc, seen)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("archiver.prr", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_site(out_dir: Path, threads: list[ThreadView], context: Mapping[str, Any]) -> list[Path]:
    """index.html plus posts/<slug>.html; returns the files written."""
    env = _env()
    (out_dir / "posts").mkdir(parents=True, exist_ok=True)
    written = []
    index = out_dir / "index.html"
    index.write_text(env.get_template("index.html.j2").render(threads=threads, **context), "utf-8")
    written.append(index)
    thread_tpl = env.get_template("thread.html.j2")
    for t in threads:
        p = out_dir / "posts" / f"{t.slug}.html"
        p.write_text(thread_tpl.render(thread=t, **context), "utf-8")
        written.append(p)
    return written


#: Versions per PDF volume (about: cuts fall between threads). WeasyPrint lays a whole
#: document out before writing it (that is how it knows M in "page N of M"), about 100 kB of
#: memory per version, so a large export is printed as several volumes, each its own PDF/A-2b
#: file numbered "page N of M", keeping memory flat whatever the size of the request. Threads
#: are never split across volumes.
PDF_VOLUME_VERSIONS = 1500
#: A print of several volumes has a multiple of this many, of about equal size. Volumes are
#: printed in parallel, one per core (issue 16): 1,500 + 1,500 + 728 versions on two cores
#: leave one core idle for the last volume, 932 x 4 do not. A constant, not the core count,
#: so the volumes (their names and page numbers) are the same on every machine.
PDF_VOLUME_MULTIPLE = 2


def pdf_volumes(
    threads: list[ThreadView], limit: int, *, multiple: int = PDF_VOLUME_MULTIPLE
) -> list[list[ThreadView]]:
    """``threads`` in order, cut into volumes of about equal size (at least one volume).

    The number of volumes is the fewest that hold ``limit`` versions each, rounded up to a
    ``multiple``; each cut is made between the threads nearest to an equal share. Depends
    only on the threads, so the same export always gets the same volumes.
    """
    sizes = [sum(len(i.versions) for i in t.flat) or 1 for t in threads]
    total = sum(sizes)
    count = -(-total // max(1, limit))
    if count > 1:
        count = -(-count // multiple) * multiple
    if count <= 1:
        return [list(threads)]
    volumes: list[list[ThreadView]] = [[]]
    done = 0  # versions in the finished volumes and the current one
    for t, n in zip(threads, sizes, strict=True):
        boundary = total * len(volumes) / count  # where the current volume should end
        if volumes[-1] and len(volumes) < count and abs(done + n - boundary) > abs(done - boundary):
            volumes.append([])
        volumes[-1].append(t)
        done += n
    return volumes


def volume_name(out: Path, volume: int, volumes: int) -> Path:
    """``export.pdf`` for a one-volume print, else ``export-volume-02-of-05.pdf``."""
    if volumes == 1:
        return out
    return out.with_name(f"{out.stem}-volume-{volume:02d}-of-{volumes:02d}{out.suffix}")


class PdfPrint:
    """The PDF volumes of an export being printed (see :func:`start_pdf`).

    A context manager: leaving the block without :meth:`wait` (an error elsewhere in the
    export) cancels the volumes not started and waits for those being printed.
    """

    def __init__(self, printing: pdf.Printing, paths: list[Path]) -> None:
        self._printing = printing
        self.paths = paths

    def wait(self) -> list[tuple[Path, int]]:
        """Each file written and its page count, once all are printed."""
        from archiver import pdf

        try:
            pages = self._printing.wait()
        except pdf.PdfRenderError as exc:
            raise ExportError(
                str(exc), hint="the HTML copy in data/readable/ is complete; report this as a bug"
            ) from exc
        return list(zip(self.paths, pages, strict=True))

    def __enter__(self) -> PdfPrint:
        return self

    def __exit__(self, *exc: object) -> None:
        self._printing.close()


def start_pdf(
    out: Path,
    threads: list[ThreadView],
    context: Mapping[str, Any],
    *,
    volume_versions: int | None = None,
    workers: int | None = None,
) -> PdfPrint:
    """Start printing the same content as PDF/A-2b documents; :meth:`PdfPrint.wait` ends.

    One file (``out``) unless the export is larger than ``volume_versions`` versions
    (default :data:`PDF_VOLUME_VERSIONS`), then volumes named by :func:`volume_name`. Rendered with WeasyPrint (see :mod:`archiver.pdf`)
    from a lean template: plain paragraphs, no images (media files are named and are in
    data/readable/), every page headed with the request (and volume) and numbered
    "page N of M". Volumes are printed in parallel worker processes, ``workers`` at most
    (default: one per core, see :func:`archiver.pdf.start_pdfs`), which start at once so that
    the printing overlaps the caller's other work; each volume's HTML is built only when a
    worker is about to take it. ``out``'s folder must exist.
    """
    from archiver import pdf

    request = context["request"]
    rid = request["id"] if isinstance(request, Mapping) else request.id
    template = _env().get_template("document.html.j2")
    volumes = pdf_volumes(
        threads, PDF_VOLUME_VERSIONS if volume_versions is None else volume_versions
    )
    paths = [volume_name(out, k, len(volumes)) for k in range(1, len(volumes) + 1)]

    def documents() -> Iterator[tuple[str, Path]]:
        for k, part in enumerate(volumes, start=1):
            header = f"{context['city']} — public records request {rid}"
            if len(volumes) > 1:
                header += f", volume {k} of {len(volumes)}"
            html = template.render(
                threads=part,
                all_threads=threads,
                volume=k,
                volumes=len(volumes),
                pdf_css=pdf.page_css(header),
                **context,
            )
            yield html, paths[k - 1]

    printing = pdf.start_pdfs(
        documents(),
        workers=pdf.pdf_workers(len(volumes)) if workers is None else workers,
        xhtml=True,  # document.html.j2 is written so (see archiver.pdf.render_pdf)
    )
    return PdfPrint(printing, paths)


def write_pdf(
    out: Path,
    threads: list[ThreadView],
    context: Mapping[str, Any],
    *,
    volume_versions: int | None = None,
    workers: int | None = None,
) -> list[tuple[Path, int]]:
    """The same content as PDF/A-2b documents (see :func:`start_pdf`); returns each file
    written and its page count."""
    with start_pdf(
        out, threads, context, volume_versions=volume_versions, workers=workers
    ) as printing:
        return printing.wait()
