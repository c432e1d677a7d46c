"""CSV files a spreadsheet can open safely: one rule for every CSV the product writes.

Comment text, handles and account names come from the public. A cell such as
``=HYPERLINK("http://evil","x")`` opened in a spreadsheet runs as a formula (CSV injection).
OWASP's rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading single quote, so it is read as text. Only the CSV copies change;
``index.json`` and the WARC originals keep the exact text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Final

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` with a formula-looking string neutralised; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeDictWriter:
    """``csv.DictWriter`` whose every cell goes through :func:`cell`."""

    def __init__(self, fh: IO[str], fieldnames: Sequence[str], **kw: Any) -> None:
        self._w = csv.DictWriter(fh, fieldnames=list(fieldnames), **kw)

    def writeheader(self) -> None:
        self._w.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._w.writerow({k: cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`cell`."""

    def __init__(self, fh: IO[str], **kw: Any) -> None:
        self._w = csv.writer(fh, **kw)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([cell(v) for v in row])
