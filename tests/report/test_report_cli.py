"""``archiver report --send`` against a real SMTP server, and what happens when it is down."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from pathlib import Path

from tests.report.helpers import (
    Inbox,
    free_port,
    harvested_archive,
    smtp_server,
    smtp_toml,
    this_month,
)

REPO = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_send_delivers_text_html_csv_and_chart(tmp_path: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        archive = harvested_archive(tmp_path, smtp=smtp_toml(port))
        month = this_month()
        result = cli(archive.config, "report", "--month", month, "--send", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["sent"] is True and out["send_error"] is None
    assert out["report"]["sites"][0]["posts_captured"] == 5
    [envelope] = inbox.envelopes
    assert sorted(envelope.rcpt_tos) == ["clerk@bozeman.net", "it-director@bozeman.net"]
    assert isinstance(envelope.content, bytes)
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    types = [part.get_content_type() for part in msg.walk() if not part.is_multipart()]
    assert types == ["text/plain", "text/html", "image/png", "text/csv", "image/png"]
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    assert '<img src="cid:' in html  # the chart shown in the body (details: test_mailer)
    assert month in str(msg["Subject"])
    status = json.loads(cli(archive.config, "status", "--json").stdout)
    assert status["report_deliveries"][0]["ok"] is True
    assert not [n for n in status["notes"] if "NOT delivered" in n]


def test_smtp_down_keeps_the_report_on_disk_and_shows_the_failure_in_status(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens here
    archive = harvested_archive(tmp_path, smtp=smtp_toml(port))
    month = this_month()
    result = cli(archive.config, "report", "--month", month, "--send")
    assert result.returncode != 0
    error_lines = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(error_lines) == 1 and f"127.0.0.1:{port}" in error_lines[0]
    assert "Traceback" not in result.stderr
    kept = archive.config.parent / "archive" / "reports" / month
    for ext in ("html", "txt", "csv", "png"):
        assert (kept / f"report-{month}.{ext}").stat().st_size > 0

    status = cli(archive.config, "status", "--json")
    data = json.loads(status.stdout)
    [delivery] = data["report_deliveries"]
    assert delivery["month"] == month and delivery["ok"] is False
    assert f"127.0.0.1:{port}" in delivery["error"]
    assert any(f"report {month} was NOT delivered" in n for n in data["notes"])

    # Once the server is back, a resend succeeds and the status clears.
    inbox = Inbox()
    with smtp_server(inbox) as new_port:
        text = archive.config.read_text().replace(f"port = {port}", f"port = {new_port}")
        archive.config.write_text(text)
        assert cli(archive.config, "report", "--month", month, "--send").returncode == 0
    assert len(inbox.envelopes) == 1
    data = json.loads(cli(archive.config, "status", "--json").stdout)
    assert data["report_deliveries"][0]["ok"] is True
    assert not [n for n in data["notes"] if "NOT delivered" in n]


def test_send_without_smtp_config_names_the_missing_section(tmp_path: Path) -> None:
    archive = harvested_archive(tmp_path)
    result = cli(archive.config, "report", "--month", this_month(), "--send")
    assert result.returncode != 0
    assert "[smtp]" in result.stderr or "smtp" in result.stderr
    assert (archive.config.parent / "archive" / "reports" / this_month()).is_dir()
