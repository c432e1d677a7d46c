"""Public-records requests: track a request, search for it, export a package that stands alone.

``requests`` keeps the request log (and the ``exports`` chain-of-custody table), ``deadlines``
is the only place that turns the City's own response targets into dates, ``export`` builds the
BagIt package from ``originals`` (byte-for-byte WARC subset), ``wacz`` (replayable copy),
``readable`` (HTML + PDF for people) and ``redact`` (readable copies and indexes only).
"""

from __future__ import annotations
