"""A real RFC 3161 Time-Stamping Authority on 127.0.0.1 for tests and the demo.

``LocalTsa`` makes a throwaway CA and a TSA certificate (extendedKeyUsage critical
timeStamping) with the ``openssl`` command, and answers POSTed TimeStampReq bodies by piping
them through ``openssl ts -reply``: the tokens are exactly what a production TSA returns, so
``openssl ts -verify`` checks them the same way. ``available = False`` makes it answer 503,
to exercise the "TSA offline, stamp later" path.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

_TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

_TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa_pki(folder: Path) -> None:
    """ca.crt/ca.key (root) and tsa.crt/tsa.key (the stamping key) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/O=Test/CN=Test TSA Root CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )
    _run(
        "req",
        *ec,
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        "/O=Test/CN=Test TSA",
        cwd=folder,
    )
    (folder / "tsa.ext").write_text(_TSA_EXT)
    _run(
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tsa.crt",
        "-days",
        "365",
        "-extfile",
        "tsa.ext",
        cwd=folder,
    )
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(_TS_CONFIG.format(dir=folder))


class LocalTsa:
    """Context manager: ``url`` to POST to, ``ca_file`` to verify against."""

    def __init__(self, folder: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tsa-") if folder is None else None
        self.dir: Path = Path(self._tmp.name) if self._tmp is not None else Path(str(folder))
        make_tsa_pki(self.dir)
        self.available = True
        self.requests = 0
        self._lock = threading.Lock()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not tsa.available:
                    self.send_response(503)
                    self.end_headers()
                    return
                reply = tsa.reply(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self.ca_file = self.dir / "ca.crt"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply(self, request: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            self.requests += 1
            req = Path(tmp) / "req.tsq"
            req.write_bytes(request)
            out = Path(tmp) / "resp.tsr"
            subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.dir / "tsa.cnf"),
                    "-queryfile",
                    str(req),
                    "-out",
                    str(out),
                ],
                check=True,
                capture_output=True,
            )
            return out.read_bytes()

    def __enter__(self) -> LocalTsa:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()
