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
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

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
    furniture = f"font-family: {font_stack(TEXT_FONT)}; font-size: 7.5pt; color: #444444;"
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


def write_pdf(html: str, out: Path, *, base_url: str | None = None) -> int:
    """Render ``html`` to ``out`` as PDF/A-2b; returns the number of pages.

    Raises :class:`PdfRenderError` (never a bare WeasyPrint exception) when the document cannot
    be laid out or written.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends are not installed
        raise PdfRenderError(f"WeasyPrint cannot be loaded ({exc})") from exc
    missing = missing_fonts()
    if missing:
        log.warning("pdf_fonts_missing", fonts=missing, file=out.name, fix=font_hint(missing))
    try:
        document = weasyprint.HTML(string=html, base_url=base_url).render()
        pages = len(document.pages)
        document.write_pdf(out, pdf_variant=PDF_VARIANT)
    except (ValueError, OSError, AssertionError) as exc:
        raise PdfRenderError(f"could not render {out.name}: {exc}") from exc
    return pages
