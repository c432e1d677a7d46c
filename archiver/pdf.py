"""Documents people print: HTML rendered to PDF/A-2b with WeasyPrint.

Used by the public-records export (``export.pdf``) and the retention disposal record
(RM88/RM60). Both are kept for years and read by people who may not have our software, so the
PDF is archival (PDF/A-2b: embedded fonts, an sRGB output intent and XMP identification
metadata ``pdfaid:part=2``, ``pdfaid:conformance=B``).

Fonts: the text is set in DejaVu Sans (wide Unicode coverage) and anything it lacks, emoji in
particular, falls back to Noto Color Emoji. Both are system fonts found through fontconfig;
the README's set-up command and ``.ci/run`` install them (Debian ``fonts-dejavu-core`` and
``fonts-noto-color-emoji``). They are not shipped in the package because the emoji font is
about 10 MB and the distribution's copies get security and coverage updates. WeasyPrint embeds
the subset of each font that a document uses, so a PDF reads the same on any machine.
:func:`missing_fonts` says which of them this machine lacks, so a gap is reported, not hidden.

Page furniture comes from CSS paged media: :func:`page_css` gives a running header naming the
document (the request, or the disposition) and a footer "page N of M".

Speed (issue 16: printing must not become a bigger share of an export than xhtml2pdf's was).
WeasyPrint spends most of its time in Python, per box, line and glyph, so what adds nothing
to the page is cut, each change measured on ``bench/pdf_share.py`` and none changing what is
printed (tests compare the files' bytes wherever a change could):

* the cascade of WeasyPrint's full HTML user-agent stylesheet (forms, lists, tables, ``[dir]``
  and ``::marker``/footnote rules tried on every element) is replaced, for documents made only
  of the few elements in :data:`LEAN_UA_TAGS`, by :data:`LEAN_UA_CSS`: the same declarations
  the full stylesheet gives those elements, so the pages are drawn identically (a test
  rasterises both and compares them); any other element or a ``hidden``/``dir`` attribute
  gets the full stylesheet;
* content streams are deflated at zlib's default level 6 instead of pydyf's fixed level 9
  (a third of the PDF writing time for about 5 % more bytes);
* the page-margin boxes are given their width (:func:`page_css`) instead of having their
  text measured on every page, and the cycle collector is paused while a document renders
  (:func:`_without_cyclic_gc`);
* documents their caller declares XML-compatible (the export's) are parsed by expat instead
  of WeasyPrint's pure-Python HTML5 parser (:func:`render_pdf`'s ``xhtml``);
* volumes of one export are rendered in parallel worker processes that start while the
  export writes the rest of its package (:func:`start_pdfs`).

What is left is WeasyPrint's own per-line layout and per-glyph drawing, which no change to
the document's CSS or markup was found to shorten by more than a few per cent.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
import shutil
import subprocess
import threading
import types
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from markupsafe import Markup

from archiver.log import get_logger

#: fontconfig family names, in fallback order; the first sets the text.
TEXT_FONT = "DejaVu Sans"
MONO_FONT = "DejaVu Sans Mono"
EMOJI_FONT = "Noto Color Emoji"
#: Debian packages that provide them (named in messages and in the README's set-up command).
FONT_PACKAGES = {
    TEXT_FONT: "fonts-dejavu-core",
    MONO_FONT: "fonts-dejavu-core",
    EMOJI_FONT: "fonts-noto-color-emoji",
}
PDF_VARIANT = "pdf/a-2b"

log = get_logger(__name__)


class PdfRenderError(Exception):
    """WeasyPrint could not render a document; callers turn it into their own error."""


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string safe inside a ``<style>`` element.

    Everything but letters, digits, space and a few harmless marks is written as a CSS hex
    escape, so no value (a city name with a quote, ``</style>``) can end the string or the
    element.
    """
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;()")
    out = "".join(ch if ch in safe else f"\\{ord(ch):06x}" for ch in text)
    return Markup(f'"{out}"')


def font_stack(*first: str) -> str:
    """A CSS font-family list.

    The emoji font is deliberately not named: fontconfig falls back to it for any character
    the text font lacks, while naming it lets it set spaces and digits too (it has them), which
    draws each of those as a bitmap and makes rendering several times slower.
    """
    names = [*first]
    return ", ".join(f'"{n}"' for n in names) + ", sans-serif"


def page_css(header: str, *, size: str = "letter", margin: str = "1.8cm 1.5cm") -> Markup:
    """``@page`` rules: running ``header`` at the top left, "page N of M" at the bottom right."""
    # Each box is given the whole width: what WeasyPrint works out for a lone margin box
    # anyway, but without measuring its text's min- and max-content widths on every page.
    furniture = (
        f"width: 100%; font-family: {font_stack(TEXT_FONT)}; font-size: 7.5pt; color: #444444;"
    )
    return Markup(
        f"@page {{ size: {size}; margin: {margin};\n"
        f"  @top-left {{ content: {css_string(header)}; {furniture} }}\n"
        f'  @bottom-right {{ content: "page " counter(page) " of " counter(pages); '
        f"{furniture} }} }}\n"
        f"body {{ font-family: {font_stack(TEXT_FONT)}; }}\n"
        f"code, .mono, .x {{ font-family: {font_stack(MONO_FONT)}; }}\n"
    )


@functools.cache
def _missing_fonts() -> tuple[str, ...]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return tuple(FONT_PACKAGES)
    done = subprocess.run(
        [fc_list, "--format", "%{family}\n"], capture_output=True, text=True, check=False
    )
    have = {name.strip() for line in done.stdout.splitlines() for name in line.split(",")}
    return tuple(name for name in FONT_PACKAGES if name not in have)


def missing_fonts() -> list[str]:
    """The fonts of :data:`FONT_PACKAGES` that fontconfig cannot find (empty if all there)."""
    return list(_missing_fonts())


def font_hint(missing: list[str]) -> str:
    packages = sorted({FONT_PACKAGES[m] for m in missing})
    return f"install {' '.join(packages)} (apt-get install {' '.join(packages)})"


#: Elements the lean user-agent stylesheet covers: those of the export's document template.
LEAN_UA_TAGS = frozenset(
    {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "span", "code"}
)
#: Attributes whose full-stylesheet rules the lean one does not carry.
_LEAN_UA_UNSUPPORTED_ATTRIBUTES = frozenset({"hidden", "dir"})
#: What WeasyPrint's html5_ua.css says about :data:`LEAN_UA_TAGS` (WeasyPrint 66-70), rule
#: for rule, and its ``@page`` margin-box alignment. tests/export/test_pdf.py proves that a
#: document printed with it looks exactly as with the full stylesheet.
LEAN_UA_CSS = """
head, meta, style, title { display: none }
body, h1, h2, html, p { display: block }
p { margin-top: 1em; margin-bottom: 1em }
body { margin: 8px }
h1 { margin-top: .67em; margin-bottom: .67em }
h2 { margin-top: .83em; margin-bottom: .83em }
html { color-scheme: light }
b { font-weight: bold }
code { font-family: monospace }
h1 { font-size: 2em; font-weight: bold }
h2 { font-size: 1.5em; font-weight: bold }
h1 { bookmark-level: 1 }
h2 { bookmark-level: 2 }
h1, h2 { bookmark-label: content(text) }
h1, h2 { hyphens: manual; break-after: avoid; break-inside: avoid }
@page {
  margin: 75px;
  @top-left            { text-align: left;   vertical-align: middle }
  @bottom-right        { text-align: right;  vertical-align: middle }
}
"""
#: zlib level for the PDF's streams (pydyf always uses 9).
DEFLATE_LEVEL = 6


#: Page-margin boxes the lean stylesheet aligns (those :func:`page_css` fills).
_LEAN_UA_MARGIN_BOXES = frozenset({"@top-left", "@bottom-right"})
_MARGIN_BOX = re.compile(
    r"@(?:footnote|(?:top|bottom)-(?:left|center|right)(?:-corner)?|(?:left|right)-(?:top|middle|bottom))\b"
)


def lean_ua_applies(root: Any) -> bool:
    """True if the parsed document (an ElementTree root) is covered by :data:`LEAN_UA_CSS`.

    Every element must be one of :data:`LEAN_UA_TAGS` without a ``hidden`` or ``dir``
    attribute, and its style sheets may fill only the page-margin boxes the lean sheet aligns.
    """
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):  # comments and processing instructions draw nothing
            continue
        if tag not in LEAN_UA_TAGS or _LEAN_UA_UNSUPPORTED_ATTRIBUTES & set(element.attrib):
            return False
        if tag == "style" and not set(_MARGIN_BOX.findall(element.text or "")) <= (
            _LEAN_UA_MARGIN_BOXES
        ):
            return False
    return True


@functools.cache
def _weasy() -> Any:
    """WeasyPrint, its HTML class with the lean user-agent stylesheet, and a font config.

    Imported on first use: the module pulls in Pango through cffi, which most commands never
    need. One FontConfiguration serves every document of a process (fontconfig is set up once).
    """
    try:
        import cssselect2  # type: ignore[import-untyped]
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends are not installed
        raise PdfRenderError(f"WeasyPrint cannot be loaded ({exc})") from exc
    lean = weasyprint.CSS(string=LEAN_UA_CSS)

    class LeanHTML(weasyprint.HTML):  # type: ignore[misc]
        """HTML whose user-agent stylesheet is the lean one when the document allows it, and
        which can be parsed as XML (:meth:`from_xml`)."""

        lean_ua = False

        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            if self.lean_ua and not forms:
                return [lean]
            return list(super()._ua_stylesheets(forms))

        @classmethod
        def from_xml(cls, text: str, base_url: str | None) -> LeanHTML:
            """The document parsed by expat (see :func:`render_pdf`'s ``xhtml``)."""
            root = ElementTree.fromstring(text)
            document = cls(string="<html></html>", base_url=base_url)
            document.wrapper_element = cssselect2.ElementWrapper.from_html_root(root)
            document.etree_element = document.wrapper_element.etree_element
            return document

    return types.SimpleNamespace(HTML=LeanHTML, font_config=FontConfiguration())


@contextlib.contextmanager
def _deflate_level(level: int) -> Iterator[None]:
    """pydyf's streams deflated at ``level`` while the block runs.

    pydyf calls ``zlib.compressobj(level=9)`` with no way to choose; its module's ``zlib`` is
    swapped for one whose compressors use ``level``, and put back afterwards. Level 9 spends a
    third of WeasyPrint's PDF writing for about 5 % fewer bytes than the default 6. If pydyf
    no longer uses a module-level ``zlib`` the swap is skipped and nothing changes but speed.
    """
    import pydyf

    real = getattr(pydyf, "zlib", None)
    if real is not zlib:
        yield
        return
    shim = types.SimpleNamespace(
        compressobj=lambda *args, **kwargs: zlib.compressobj(level),
        compress=lambda data, *args, **kwargs: zlib.compress(data, level),
    )
    pydyf.zlib = shim
    try:
        yield
    finally:
        pydyf.zlib = real


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Python's cycle collector paused while the block runs (reference counting goes on).

    WeasyPrint builds some 10^5 boxes, styles and text layouts per volume that all live until
    the document is written; every full collection walks them all again and finds almost no
    garbage. Pausing it saves 5-8 % of a volume's CPU for the same peak memory (measured on a
    932-version volume: 133 and 136 MB); whatever cycles the render leaves are collected after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse(weasy: Any, html: str, base_url: str | None, xhtml: bool) -> Any:
    if xhtml:
        try:
            return weasy.HTML.from_xml(html, base_url)
        except (ElementTree.ParseError, ValueError):  # not XML: a control character in a post
            pass
    return weasy.HTML(string=html, base_url=base_url)


def render_pdf(
    html: str,
    out: Path,
    *,
    base_url: str | None = None,
    lean: bool = True,
    xhtml: bool = False,
) -> int:
    """Render ``html`` to ``out`` as PDF/A-2b and return the page count; no logging.

    ``xhtml=True`` is the caller's word that ``html`` is also well-formed XML whose XML tree
    is the one an HTML parser builds (void elements closed with ``/>``, no named entities,
    every element closed, no ``<base>``, nothing an HTML parser would move, as the export's
    template is):
    it is then parsed by expat, in C, instead of WeasyPrint's pure-Python HTML5 parser (6%
    of a volume's CPU; the same tree, so the same bytes). Text that is not XML (a control
    character in a post) is parsed as HTML, as without the flag. ``lean=False`` forces
    WeasyPrint's full user-agent stylesheet (for comparisons). Raises
    :class:`PdfRenderError`, never a bare WeasyPrint exception.
    """
    weasy = _weasy()
    try:
        with _without_cyclic_gc():
            document_html = _parse(weasy, html, base_url, xhtml)
            document_html.lean_ua = lean and lean_ua_applies(document_html.etree_element)
            document = document_html.render(font_config=weasy.font_config)
            pages = len(document.pages)
            with _deflate_level(DEFLATE_LEVEL):
                document.write_pdf(out, pdf_variant=PDF_VARIANT)
    except (ValueError, OSError, AssertionError) as exc:
        raise PdfRenderError(f"could not render {out.name}: {exc}") from exc
    return pages


def _warn_missing_fonts(out: Path) -> None:
    missing = missing_fonts()
    if missing:
        log.warning("pdf_fonts_missing", fonts=missing, file=out.name, fix=font_hint(missing))


def write_pdf(html: str, out: Path, *, base_url: str | None = None) -> int:
    """Render ``html`` to ``out`` as PDF/A-2b; returns the number of pages.

    Raises :class:`PdfRenderError` (never a bare WeasyPrint exception) when the document cannot
    be laid out or written.
    """
    _weasy()  # a missing WeasyPrint is reported before a missing font
    _warn_missing_fonts(out)
    return render_pdf(html, out, base_url=base_url)


def pdf_workers(documents: int) -> int:
    """How many processes print ``documents`` documents: one per usable core, at most one each.

    Each worker holds one document's layout at a time, so memory is bounded by the cores
    times the largest document (export volumes are capped for that reason).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, documents))


class Printing:
    """Independent documents being printed while the caller goes on with other work.

    Made by :func:`start_pdfs`. With more than one worker, a pool of that many processes
    starts printing at once: a feeder thread renders nothing itself, it only takes the
    documents (HTML, output path) from the iterable as workers are about to need them (at
    most two per worker wait or print at once, so memory stays bounded however many volumes
    there are) and hands them over. The processes are started fresh (``spawn``): the caller
    may hold database connections and threads that a forked child must not inherit. With one
    worker nothing runs until :meth:`wait`, which then prints in this process.

    Use it as a context manager: leaving the block stops the feeder, cancels what has not
    started and waits for the documents being printed, so no worker writes into a folder
    that an aborted caller is removing.
    """

    def __init__(
        self,
        documents: Iterable[tuple[str, Path]],
        *,
        workers: int,
        base_url: str | None,
        xhtml: bool,
    ) -> None:
        self._documents = iter(documents)
        self._options: dict[str, Any] = {"base_url": base_url, "xhtml": xhtml}
        self._workers = workers
        self._futures: list[Future[int]] = []
        self._error: Exception | None = None
        self._stop = threading.Event()
        self._slots = threading.Semaphore(2 * workers)
        self._pool: ProcessPoolExecutor | None = None
        self._feeder: threading.Thread | None = None
        if workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
            self._feeder = threading.Thread(target=self._feed, name="pdf-feeder", daemon=True)
            self._feeder.start()

    def _feed(self) -> None:
        assert self._pool is not None
        try:
            for html, out in self._documents:
                self._slots.acquire()
                if self._stop.is_set():
                    return
                _warn_missing_fonts(out)
                future = self._pool.submit(render_pdf, html, out, **self._options)
                future.add_done_callback(lambda _done: self._slots.release())
                self._futures.append(future)
        except Exception as exc:  # a bug building a document: raised again by wait()
            self._error = exc

    def wait(self) -> list[int]:
        """The page count of each document, in order, once all are written.

        Raises :class:`PdfRenderError` (never a bare WeasyPrint exception) when a document
        cannot be laid out or written, or a worker process died.
        """
        if self._feeder is None:
            _weasy()  # a missing WeasyPrint is reported before a missing font
            pages = []
            for html, out in self._documents:
                _warn_missing_fonts(out)
                pages.append(render_pdf(html, out, **self._options))
            return pages
        self._feeder.join()
        try:
            if self._error is not None:
                raise self._error
            return [future.result() for future in self._futures]
        except BrokenProcessPool as exc:
            printed = sum(
                1 for f in self._futures if f.done() and not f.cancelled() and not f.exception()
            )
            raise PdfRenderError(
                f"a PDF worker process died (out of memory?) after {printed} of "
                f"{len(self._futures)} volume(s) were printed: {exc}"
            ) from exc

    def close(self) -> None:
        """Stop handing out documents, cancel those not started, wait for the workers."""
        self._stop.set()
        self._slots.release()  # a feeder waiting for a slot sees the stop
        if self._feeder is not None:
            self._feeder.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Printing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_pdfs(
    documents: Iterable[tuple[str, Path]],
    *,
    workers: int,
    base_url: str | None = None,
    xhtml: bool = False,
) -> Printing:
    """Start rendering independent documents (HTML, output path) as PDF/A-2b.

    WeasyPrint runs on one core, and an export's volumes do not depend on one another, so
    they are printed by a pool of ``workers`` processes (see :func:`pdf_workers`; 1 renders
    in this process, when :meth:`Printing.wait` is called). Started before the caller's
    other work, the pool's start-up (each worker imports WeasyPrint and loads its fonts) and
    the printing itself overlap that work. Each file is the same, byte for byte, as
    :func:`write_pdf` writes alone. ``xhtml``: see :func:`render_pdf`.
    """
    return Printing(documents, workers=workers, base_url=base_url, xhtml=xhtml)


def write_pdfs(
    documents: Iterable[tuple[str, Path]],
    *,
    workers: int,
    base_url: str | None = None,
    xhtml: bool = False,
) -> list[int]:
    """Render independent documents as PDF/A-2b (see :func:`start_pdfs`); page counts in
    order."""
    with start_pdfs(documents, workers=workers, base_url=base_url, xhtml=xhtml) as printing:
        return printing.wait()
