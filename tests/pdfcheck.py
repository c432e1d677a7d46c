"""Checks of printed documents with poppler's tools, as a reader's software would open them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def poppler(*args: str) -> str:
    tool = shutil.which(args[0])
    assert tool is not None, f"{args[0]} is not installed (apt-get install poppler-utils)"
    done = subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=True)
    return done.stdout


def info(path: Path) -> dict[str, str]:
    out = {}
    for line in poppler("pdfinfo", str(path)).splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def page_text(path: Path, page: int) -> str:
    return " ".join(poppler("pdftotext", "-f", str(page), "-l", str(page), str(path), "-").split())


def fonts(path: Path) -> list[dict[str, str]]:
    """pdffonts rows: name, and the emb (embedded) column."""
    rows = []
    for line in poppler("pdffonts", str(path)).splitlines()[2:]:
        cols = line.split()
        # name type... encoding emb sub uni object ID: the last six columns are fixed.
        rows.append({"name": cols[0], "emb": cols[-5]})
    return rows


def assert_pdf_a_2b(path: Path) -> int:
    """PDF/A-2b identification metadata, every font embedded; returns the page count."""
    meta = poppler("pdfinfo", "-meta", str(path))
    assert re.search(r'pdfaid:part[=>"]+2', meta), meta
    assert re.search(r'pdfaid:conformance[=>"]+B', meta), meta
    found = fonts(path)
    assert found and all(f["emb"] == "yes" for f in found), found
    pages = int(info(path)["Pages"])
    assert pages >= 1
    return pages
