"""Delivery against real aiosmtpd servers on 127.0.0.1: plain, STARTTLS+AUTH, implicit TLS,
greylisting, bad password, untrusted certificate and nothing listening."""

from __future__ import annotations

import csv
import email
import io
import re
import socket
import ssl
import time
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from archiver.errors import ReportError
from archiver.report import SmtpSettings, build_message, render_chart_png, send_report
from tests.report.helpers import PNG_SIGNATURE, free_port, sample_report, smtp_server

USER = "report-bot"
PASSWORD = "s3cret-Tr0ub4dor&3"
SECRET_NAME = "ARCHIVER_TEST_SMTP_PASSWORD"
RECIPIENTS = ["clerk@bozeman.example", "it-director@bozeman.example", "pat.lee@bozeman.example"]


class Recorder:
    """Accepts messages, optionally answering 451 to the first ``fail_first`` DATA commands."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.data_attempts = 0
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.data_attempts <= self.fail_first:
            return "451 4.3.0 try again later"
        self.envelopes.append(envelope)
        return "250 2.0.0 OK"


class Authenticator:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.calls += 1
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def cafile(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv(SECRET_NAME, PASSWORD)


def settings(port: int, **overrides: Any) -> SmtpSettings:
    base = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        username=None,
        password_secret=None,
        sender="archiver@bozeman.example",
        recipients=RECIPIENTS,
        timeout=5,
        attempts=4,
        backoff_seconds=0.01,
    )
    return replace(base, **overrides)


def auth_settings(port: int, cafile: str | None, **overrides: Any) -> SmtpSettings:
    fields: dict[str, Any] = {
        "security": "starttls",
        "username": USER,
        "password_secret": SECRET_NAME,
        "cafile": cafile,
    }
    return settings(port, **(fields | overrides))


def message_for(s: SmtpSettings) -> EmailMessage:
    data = sample_report()
    return build_message(data, s, render_chart_png(data))


def parse(envelope: Envelope) -> email.message.EmailMessage:
    raw = envelope.original_content
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_plain_smtp_delivers_text_html_csv_and_chart() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        s = settings(port)
        send_report(message_for(s), s)
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "archiver@bozeman.example"
    assert envelope.rcpt_tos == RECIPIENTS
    msg = parse(envelope)
    assert msg["Subject"] == ("Monthly social media records report — 2026-10 — City of Bozeman")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/csv",
        "image/png",
    ]
    parts = {p.get_content_type(): p for p in msg.walk()}
    text = parts["text/plain"].get_content()
    assert "NEEDS ATTENTION" in text and "No IT administrator" in text
    assert "Needs attention" in parts["text/html"].get_content()

    csv_part = parts["text/csv"]
    assert csv_part.get_filename() == "report-2026-10.csv"
    assert csv_part.get_content_disposition() == "attachment"
    rows = list(csv.DictReader(io.StringIO(csv_part.get_content())))
    values = {(r["site_id"], r["figure"]): r["value"] for r in rows}
    assert values["city-mastodon", "posts_captured"] == "42"
    assert values["fire-facebook", "follower_count"] == "8400"
    assert values["ALL", "comments_captured"] == "405"
    assert len(rows) == 2 * 9 + 11

    png = parts["image/png"]
    assert png.get_filename() == "captures-2026-10.png"
    assert png.get_content_disposition() == "attachment"
    assert png.get_content().startswith(PNG_SIGNATURE)

    # The chart is also shown in the HTML body: a cid: reference to the related image part.
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    html_part, inline = list(related.iter_parts())
    assert html_part.get_content_type() == "text/html"
    cids = re.findall(r'<img src="cid:([^"]+)"', html_part.get_content())
    assert len(cids) == 1
    assert inline.get_content_type() == "image/png"
    assert str(inline["Content-ID"]).strip() == f"<{cids[0]}>"
    assert inline.get_content_disposition() == "inline"
    assert inline.get_content() == png.get_content()


def test_starttls_with_auth_and_a_private_ca(
    server_tls: ssl.SSLContext,
    cafile: str,
    password_env: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Recorder()
    auth = Authenticator()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
    ) as port:
        s = auth_settings(port, cafile)
        send_report(message_for(s), s)
    assert auth.calls == 1
    assert len(handler.envelopes) == 1
    assert parse(handler.envelopes[0])["Subject"].startswith("Monthly social media records")
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err + caplog.text


def test_implicit_tls(server_tls: ssl.SSLContext, cafile: str, password_env: None) -> None:
    handler = Recorder()
    auth = Authenticator()
    # aiosmtpd 1.4 only counts STARTTLS as TLS for auth_require_tls, so with implicit TLS it
    # would not offer AUTH at all; the whole connection is encrypted here anyway.
    with smtp_server(
        handler, ssl_context=server_tls, authenticator=auth, auth_require_tls=False
    ) as port:
        s = auth_settings(port, cafile, security="tls")
        send_report(message_for(s), s)
    assert auth.calls == 1
    assert len(handler.envelopes) == 1


def test_greylisting_451_is_retried_until_accepted() -> None:
    handler = Recorder(fail_first=2)
    with smtp_server(handler) as port:
        s = settings(port, attempts=4)
        send_report(message_for(s), s)
    assert handler.data_attempts == 3
    assert len(handler.envelopes) == 1


def test_greylisting_outlasting_the_attempts_is_a_report_error() -> None:
    handler = Recorder(fail_first=5)
    with smtp_server(handler) as port:
        s = settings(port, attempts=2)
        with pytest.raises(ReportError) as info:
            send_report(message_for(s), s)
    assert handler.data_attempts == 2
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "after 2 attempts" in str(info.value)
    assert "451 4.3.0 try again later" in str(info.value)


def test_wrong_password_535_fails_at_once_without_retry(
    server_tls: ssl.SSLContext,
    cafile: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "not-the-password-42"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv(SECRET_NAME, wrong)
    handler = Recorder()
    auth = Authenticator()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
        # One mechanism, so one login attempt is exactly one authenticator call.
        auth_exclude_mechanism=["LOGIN"],
    ) as port:
        s = auth_settings(port, cafile, attempts=4, backoff_seconds=5)
        started = time.monotonic()
        with pytest.raises(ReportError) as info:
            send_report(message_for(s), s)
        elapsed = time.monotonic() - started
    assert auth.calls == 1, "a rejected password must not be retried"
    assert elapsed < 4, "no backoff sleep for a permanent failure"
    assert handler.envelopes == []
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "535" in message
    assert "on the first attempt" in message
    assert SECRET_NAME in message  # the hint names where the password comes from
    assert wrong not in message
    out = capsys.readouterr()
    assert wrong not in out.out + out.err


def test_untrusted_certificate_fails_at_once(
    server_tls: ssl.SSLContext, password_env: None
) -> None:
    handler = Recorder()
    with smtp_server(handler, tls_context=server_tls, require_starttls=True) as port:
        s = settings(port, security="starttls", attempts=3, backoff_seconds=5)
        started = time.monotonic()
        with pytest.raises(ReportError, match="certificate not trusted") as info:
            send_report(message_for(s), s)
    assert time.monotonic() - started < 4
    assert "cafile" in str(info.value)


def test_nothing_listening_names_host_and_port_after_all_attempts() -> None:
    port = free_port()
    s = settings(port, attempts=3)
    with pytest.raises(ReportError) as info:
        send_report(message_for(s), s)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "after 3 attempts" in message
    assert "refused" in message.lower()


def test_missing_password_is_a_report_error_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv(SECRET_NAME, raising=False)
    s = auth_settings(free_port(), None)
    with pytest.raises(ReportError, match=SECRET_NAME):
        send_report(message_for(s), s)


def test_settings_refuse_a_password_over_an_unencrypted_connection() -> None:
    with pytest.raises(ReportError, match="without encryption"):
        settings(25, username=USER, password_secret=SECRET_NAME)
    with pytest.raises(ReportError, match="no recipients"):
        settings(25, recipients=[])


def test_server_without_starttls_fails_at_once(password_env: None) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        s = settings(port, security="starttls", attempts=3, backoff_seconds=5)
        started = time.monotonic()
        with pytest.raises(ReportError, match="on the first attempt") as info:
            send_report(message_for(s), s)
    assert time.monotonic() - started < 4
    assert "STARTTLS" in str(info.value)
    assert handler.envelopes == []


class RejectsOneRecipient(Recorder):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == RECIPIENTS[2]:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_partly_refused_recipients_are_reported_and_not_resent() -> None:
    handler = RejectsOneRecipient()
    with smtp_server(handler) as port:
        s = settings(port, attempts=3)
        with pytest.raises(ReportError) as info:
            send_report(message_for(s), s)
    assert len(handler.envelopes) == 1, "the accepted recipients must not get a duplicate"
    assert handler.envelopes[0].rcpt_tos == RECIPIENTS[:2]
    message = str(info.value)
    assert "delivered only in part" in message
    assert f"{RECIPIENTS[2]}: 550 5.1.1 mailbox unavailable" in message


def test_a_server_that_never_answers_times_out_and_is_retried() -> None:
    # A listening socket that never accepts: the TCP handshake completes in the backlog but no
    # SMTP banner ever arrives, which is what a hung mail server looks like.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        s = settings(port, attempts=2, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ReportError) as info:
            send_report(message_for(s), s)
        elapsed = time.monotonic() - started
    # smtplib reports a banner timeout as SMTPServerDisconnected("... timed out").
    assert "after 2 attempts" in str(info.value)
    assert "timed out" in str(info.value)
    assert elapsed >= 0.6


class BadQuit(Recorder):
    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "451 4.3.0 cannot say goodbye"


def test_a_failing_quit_after_accepted_data_does_not_resend() -> None:
    handler = BadQuit()
    with smtp_server(handler) as port:
        s = settings(port, attempts=3)
        send_report(message_for(s), s)
    assert handler.data_attempts == 1
    assert len(handler.envelopes) == 1


@pytest.fixture
def credentials_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A systemd ``$CREDENTIALS_DIRECTORY`` and no environment variable of the secret's name."""
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.delenv(SECRET_NAME, raising=False)
    return creds


def test_password_from_a_systemd_credential_file_only(
    server_tls: ssl.SSLContext,
    cafile: str,
    credentials_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # LoadCredential= files often end in a newline; it is not part of the password.
    (credentials_dir / SECRET_NAME).write_text(PASSWORD + "\n", encoding="utf-8")
    handler = Recorder()
    auth = Authenticator()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    ) as port:
        s = auth_settings(port, cafile)
        send_report(message_for(s), s)
    assert auth.calls == 1
    assert len(handler.envelopes) == 1
    assert handler.envelopes[0].rcpt_tos == RECIPIENTS
    assert parse(handler.envelopes[0])["Subject"].startswith("Monthly social media records")
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err + caplog.text


def test_wrong_password_in_the_credential_file_fails_without_revealing_it(
    server_tls: ssl.SSLContext,
    cafile: str,
    credentials_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "credential-file-Wr0ng-pass"
    (credentials_dir / SECRET_NAME).write_text(wrong + "\n", encoding="utf-8")
    handler = Recorder()
    auth = Authenticator()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    ) as port:
        s = auth_settings(port, cafile, attempts=3, backoff_seconds=5)
        with pytest.raises(ReportError) as info:
            send_report(message_for(s), s)
    assert auth.calls == 1, "the credential file's password was offered once, not retried"
    assert handler.envelopes == []
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "535" in message and "on the first attempt" in message
    assert SECRET_NAME in message
    assert wrong not in message
    assert wrong not in repr(info.value) and wrong not in (info.value.hint or "")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    out = capsys.readouterr()
    assert wrong not in out.out + out.err + caplog.text
