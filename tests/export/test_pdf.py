"""The printed copy of an export: PDF/A-2b, page numbers, running header, embedded fonts.

Checked with poppler's own tools (``pdfinfo``, ``pdftotext``, ``pdffonts``), as a records
officer or a court would open the file, not with the library that wrote it.
"""

from __future__ import annotations

import html
import multiprocessing
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from archiver import pdf
from archiver.app import open_app
from archiver.catalog.store import Catalog
from archiver.errors import ExportError
from archiver.prr import readable
from archiver.prr.export import ExportOptions, run_export
from archiver.search import SearchFilters, search
from tests.export.conftest import SITE, Archive
from tests.export.helpers import catalog, cli, open_request
from tests.pdfcheck import assert_pdf_a_2b, fonts, info, page_text, poppler


@pytest.fixture(scope="module")
def exported(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    rid = open_request(archive)
    out = tmp_path_factory.mktemp("pdf") / "package"
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    return rid, out


def test_export_pdf_is_pdf_a_2b_with_page_numbers_and_header(
    exported: tuple[str, Path],
) -> None:
    rid, out = exported
    path = out / "data" / "readable" / "export.pdf"
    pages = assert_pdf_a_2b(path)
    assert info(path)["Title"] == f"City of Bozeman — public records request {rid}"
    first = page_text(path, 1)
    assert f"page 1 of {pages}" in first
    assert f"City of Bozeman — public records request {rid}" in first
    last = page_text(path, pages)
    assert f"page {pages} of {pages}" in last
    assert f"public records request {rid}" in last  # the running header, on every page
    names = " ".join(f["name"] for f in fonts(path))
    assert "DejaVu" in names


def test_emoji_are_drawn_from_an_embedded_emoji_font(archive: Archive, tmp_path: Path) -> None:
    """A comment full of emoji prints them, not black boxes: the emoji font is embedded."""
    assert pdf.missing_fonts() == [], pdf.font_hint(pdf.missing_fonts())
    cat = Catalog(f"sqlite:///{archive.root / 'catalog.sqlite'}")
    try:
        hits = search(cat, "", SearchFilters(site=SITE, all_versions=True), limit=None)
    finally:
        cat.close()
    hits = [dict(h) for h in hits]
    hits[0]["text"] = "Snow day ❄️🚧 thanks crews 👍🎉 café"
    threads = readable.build_threads(hits, "America/Denver")
    context = {
        "city": 'City of "Bozeman" </style>', "request": {"id": "PRR-EMOJI", "requester": "x",
        "received": "2026-11-20", "description": "d"}, "query_text": "q", "exported_at": "now",
        "actor": "me", "tz": "America/Denver", "counts": {"items": 1, "versions": len(hits)},
        "redacted": False, "rules": "",
    }  # fmt: skip
    out = tmp_path / "export.pdf"
    [(path, pages)] = readable.write_pdf(out, threads, context)
    assert path == out and assert_pdf_a_2b(out) == pages
    names = [f["name"] for f in fonts(out)]
    assert any("Noto-Color-Emoji" in n for n in names), names
    text = " ".join(poppler("pdftotext", str(out), "-").split())
    assert "❄" in text and "🚧" in text and "👍" in text and "café" in text
    # A hostile city name cannot end the header's CSS string or the style element.
    assert 'City of "Bozeman" </style> — public records request PRR-EMOJI' in page_text(out, 1)
    compact = "".join(text.split())
    for h in hits:  # every version is in the document, whole
        assert str(h["content_hash"]) in compact


def test_css_string_escapes_everything_that_could_end_it() -> None:
    s = str(pdf.css_string('a"b\\c</style>\n{x}'))
    assert s.startswith('"') and s.endswith('"')
    inner = s[1:-1]
    assert not any(ch in inner for ch in '"<>{}\n') and "\\" in inner
    assert inner.count("\\") == 8  # " \ < / > \n { } written as hex escapes


def test_index_lists_each_thread_with_its_dates(
    archive: Archive, exported: tuple[str, Path]
) -> None:
    """Each thread in index.html shows its first and last posting time, City zone named."""
    _rid, out = exported
    index = html.unescape((out / "data" / "readable" / "index.html").read_text("utf-8"))
    entries = re.findall(r"<li><a href=\"posts/[^\"]+\.html\">.*?</li>", index, re.S)
    assert len(entries) > 3
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d M[SD]T"
    for entry in entries:
        dated = re.search(rf"posted {stamp}( to {stamp})?</span>", entry)
        undated = re.search(rf"no posting date from the platform; first captured {stamp}<", entry)
        assert dated or (undated and "profile" in entry), entry
    # The edited post's thread: its dates are those of the post and its replies, in Denver.
    posted = sorted(
        r["posted_at"]
        for r in catalog(
            archive,
            "SELECT posted_at FROM items WHERE site_id = ? AND (platform_id = ? OR root_id = ?)"
            " AND posted_at IS NOT NULL",
            (SITE, archive.edited_id, archive.edited_id),
        )
    )
    assert len(posted) > 1
    first = readable.fmt_time(posted[0], "America/Denver")
    last = readable.fmt_time(posted[-1], "America/Denver")
    assert first != last and first.endswith(("MST", "MDT"))
    (entry,) = [e for e in entries if f'href="posts/{SITE}-{archive.edited_id}.html"' in e]
    assert f"posted {first} to {last}" in entry


def _every_branch_threads(archive: Archive) -> tuple[list[readable.ThreadView], dict[str, object]]:
    """Threads and context that use every part of the document template."""
    cat = Catalog(f"sqlite:///{archive.root / 'catalog.sqlite'}")
    try:
        hits = [dict(h) for h in search(cat, "", SearchFilters(site=SITE, all_versions=True))]
    finally:
        cat.close()
    hits[0]["text"] = "Snow day ❄️🚧 thanks crews 👍 café <b>not bold</b> & ‘quotes’"
    hits[0]["redacted"] = True
    hits[0]["media"] = [{"type": "photo", "description": "plow", "file": "m/1.jpg", "note": "n"}]
    hits[1]["removal_state"] = "hidden_upstream"
    hits[1]["disappeared_at"] = "2026-11-20T10:00:00Z"
    hits[2]["city_removal_category"] = 3
    hits[2]["city_removal_note"] = "threat"
    hits[3]["parent_id"] = "not-exported"  # an orphan reply
    threads = readable.build_threads(hits, "America/Denver")
    context: dict[str, object] = {
        "city": "City of Bozeman", "request": {"id": "PRR-LEAN", "requester": "x",
        "received": "2026-11-20", "description": "d"}, "query_text": "q", "exported_at": "now",
        "actor": "me", "tz": "America/Denver", "counts": {"items": 1, "versions": len(hits)},
        "redacted": True, "rules": "ssn", "gaps": ["a known gap"],
        "followers": [{"site_id": SITE, "taken": "now", "count": 3, "statement": "s",
                       "note": "count only"}],
    }  # fmt: skip
    return threads, context


#: fontTools stamps the emoji font's subset with the time it was made unless this is set; the
#: byte comparisons below fix it so that a second ticking over between two renders is no diff.
REPRODUCIBLE = "1700000000"


def test_lean_user_agent_stylesheet_prints_the_same_bytes(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lean stylesheet is a speed-up only: each volume is byte for byte what WeasyPrint's
    full HTML stylesheet prints (cover page, later volume, emoji, every kind of paragraph)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", REPRODUCIBLE)
    threads, context = _every_branch_threads(archive)
    template = readable._env().get_template("document.html.j2")
    volumes = readable.pdf_volumes(threads, 7)
    assert len(volumes) > 1
    for k in (1, 2):
        html_text = template.render(
            threads=volumes[k - 1], all_threads=threads, volume=k, volumes=len(volumes),
            pdf_css=pdf.page_css(f"header of volume {k}"), **context,
        )  # fmt: skip
        weasy = pdf._weasy()
        assert pdf.lean_ua_applies(weasy.HTML(string=html_text).etree_element)
        lean, full = tmp_path / f"lean-{k}.pdf", tmp_path / f"full-{k}.pdf"
        assert pdf.render_pdf(html_text, lean) == pdf.render_pdf(html_text, full, lean=False)
        assert lean.read_bytes() == full.read_bytes()
        assert_pdf_a_2b(lean)
    weasy = pdf._weasy()
    for other in (
        "<table><tr><td>x</td></tr></table>",
        "<p hidden>x</p>",
        '<p dir="rtl">x</p>',
        '<a href="https://example.org">x</a>',
        "<style>@page { @top-center { content: 'x' } }</style><p>x</p>",
    ):
        assert not pdf.lean_ua_applies(weasy.HTML(string=other).etree_element), other


def test_volumes_printed_in_parallel_are_those_printed_one_by_one(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes change only the speed: same files, same bytes, same page counts."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", REPRODUCIBLE)  # the workers inherit it
    threads, context = _every_branch_threads(archive)
    (tmp_path / "one").mkdir()
    (tmp_path / "pool").mkdir()
    serial = readable.write_pdf(tmp_path / "one" / "export.pdf", threads, context,
                                volume_versions=7, workers=1)  # fmt: skip
    parallel = readable.write_pdf(tmp_path / "pool" / "export.pdf", threads, context,
                                  volume_versions=7, workers=2)  # fmt: skip
    assert len(serial) > 2
    assert [(p.name, n) for p, n in serial] == [(p.name, n) for p, n in parallel]
    for (a, _), (b, _) in zip(serial, parallel, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_export_failing_while_its_volumes_print_leaves_no_worker_and_no_file(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF prints in worker processes while the WACZ and index are written; an error
    there stops the printing before the staging folder is removed (no worker writes into
    it, none is left running), and the next export in the same place is whole."""
    monkeypatch.setattr(readable, "PDF_VOLUME_VERSIONS", 4)  # several volumes, so a pool
    rid = open_request(archive)
    out = tmp_path / "package"
    seen: list[str] = []

    def full_disk_at_the_index(step: str) -> None:
        seen.append(step)
        if step == "writing index":
            raise OSError(28, "No space left on device")

    app = open_app(str(archive.config))
    try:
        opts = ExportOptions(
            request_id=rid, query="", filters=SearchFilters(site=SITE, all_versions=True), out=out
        )
        with pytest.raises(ExportError, match="No space left on device"):
            run_export(app, opts, on_step=full_disk_at_the_index)
        assert seen.index("rendering readable copy") < seen.index("writing index")
        assert "rendering PDF" not in seen
        assert multiprocessing.active_children() == []
        assert not list(tmp_path.iterdir())
        result = run_export(app, opts)
    finally:
        app.close()
    printed = sorted((result.path / "data" / "readable").glob("export-volume-*.pdf"))
    assert len(printed) > 1
    for path in printed:
        assert_pdf_a_2b(path)


def test_export_template_parsed_as_xml_is_the_html_tree_and_prints_the_same_bytes(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export's volumes are parsed by expat (``xhtml=True``), a speed-up only: the tree
    is element for element, text for text, the one WeasyPrint's HTML parser builds, and the
    file the same bytes. A post with a character XML forbids is parsed as HTML."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", REPRODUCIBLE)
    threads, context = _every_branch_threads(archive)
    template = readable._env().get_template("document.html.j2")
    volumes = readable.pdf_volumes(threads, 7)
    weasy = pdf._weasy()

    def tree(root: Any) -> list[tuple[object, ...]]:
        return [(e.tag, dict(e.attrib), e.text, e.tail) for e in root.iter()]

    for k in (1, 2):
        html_text = template.render(
            threads=volumes[k - 1], all_threads=threads, volume=k, volumes=len(volumes),
            pdf_css=pdf.page_css(f"header of volume {k}"), **context,
        )  # fmt: skip
        as_xml = weasy.HTML.from_xml(html_text, None).etree_element
        assert tree(as_xml) == tree(weasy.HTML(string=html_text).etree_element)
        xml, parsed = tmp_path / f"xml-{k}.pdf", tmp_path / f"html-{k}.pdf"
        assert pdf.render_pdf(html_text, xml, xhtml=True) == pdf.render_pdf(html_text, parsed)
        assert xml.read_bytes() == parsed.read_bytes()
    threads[0].flat[0].versions[0].text = "form\x0cfeed and a bell\x07"
    html_text = template.render(
        threads=threads, all_threads=threads, volume=1, volumes=1,
        pdf_css=pdf.page_css("header"), **context,
    )  # fmt: skip
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(html_text)
    out = tmp_path / "control.pdf"
    pdf.render_pdf(html_text, out, xhtml=True)
    assert "form" in " ".join(poppler("pdftotext", str(out), "-").split())


def test_margin_boxes_given_their_width_print_the_same_bytes(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """page_css gives the header and footer boxes the whole width, a speed-up only: the file
    is byte for byte the one printed when WeasyPrint measures the boxes itself."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", REPRODUCIBLE)
    threads, context = _every_branch_threads(archive)
    template = readable._env().get_template("document.html.j2")
    for header in ("a short header", "a header long enough to wrap? " * 8):
        css = pdf.page_css(header)
        assert str(css).count("width: 100%;") == 2
        html_text = template.render(
            threads=threads, all_threads=threads, volume=1, volumes=1, pdf_css=css, **context
        )
        given, measured = tmp_path / "given.pdf", tmp_path / "measured.pdf"
        pdf.render_pdf(html_text, given)
        pdf.render_pdf(html_text.replace("width: 100%;", ""), measured)
        assert given.read_bytes() == measured.read_bytes(), header
