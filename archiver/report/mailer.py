"""Deliver the monthly report by SMTP, retrying only what a retry can fix.

A monthly report that silently fails to arrive is worse than one that fails loudly, so every
final failure becomes a ``ReportError`` naming the server and its reply. Transient trouble
(server down, greylisting, 4xx replies, timeouts) is retried with exponential backoff; permanent
trouble (bad password, rejected message, untrusted certificate) fails at once, because retrying
a wrong password can lock the service account.

The SMTP password is fetched with ``read_secret`` just before connecting and is never logged,
never put in an exception message, and never stored on ``SmtpSettings`` (which only names it).
"""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from archiver.errors import ReportError, SecretError
from archiver.log import get_logger
from archiver.report.model import ReportData
from archiver.report.render import render_csv, render_html, render_text, title
from archiver.secrets import read_secret
from archiver.settings.smtp import Security as Security
from archiver.settings.smtp import SmtpSettings

log = get_logger(__name__)


def build_message(
    data: ReportData, settings: SmtpSettings, chart_png: bytes | None
) -> EmailMessage:
    """Assemble multipart/mixed > (alternative(text, related(html, chart)), CSV, PNG chart).

    The chart is shown in the HTML body through a ``cid:`` reference to an inline image part
    (related to the HTML), and attached as well, so a clerk can forward or print it alone.
    ``chart_png`` may be None when the chart could not be drawn; the report still goes out.
    """
    msg = EmailMessage()
    msg["Subject"] = title(data)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = _domain_of(settings.sender)
    msg["Message-ID"] = make_msgid(idstring=f"report-{data.month}", domain=domain)
    # RFC 3834: keeps vacation responders from answering an automated report.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_text(data), subtype="plain", charset="utf-8")
    chart_cid = make_msgid(idstring="chart", domain=domain) if chart_png else None
    chart_src = f"cid:{chart_cid[1:-1]}" if chart_cid else None
    msg.add_alternative(render_html(data, chart_src=chart_src), subtype="html", charset="utf-8")
    if chart_png is not None and chart_cid is not None:
        html_part = msg.get_body(preferencelist=("html",))
        assert html_part is not None  # just added above
        html_part.add_related(
            chart_png,
            maintype="image",
            subtype="png",
            cid=chart_cid,
            filename=f"captures-{data.month}.png",
            disposition="inline",
        )
    msg.add_attachment(
        render_csv(data).encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=f"report-{data.month}.csv",
    )
    if chart_png is not None:
        msg.add_attachment(
            chart_png, maintype="image", subtype="png", filename=f"captures-{data.month}.png"
        )
    return msg


def _domain_of(address: str) -> str | None:
    try:
        return Address(addr_spec=address.strip()).domain or None
    except (ValueError, IndexError):
        return None


class _Permanent(Exception):
    """Wraps a failure that must not be retried, carrying the clerk-facing description."""


def _reply(exc: BaseException) -> str:
    """The server's reply (or the socket error) as one line, never including credentials."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [
            f"{rcpt}: {_code_text(code, text)}" for rcpt, (code, text) in exc.recipients.items()
        ]
        return "all recipients refused (" + "; ".join(parts) + ")"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _code_text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _code_text(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(body.split())}"


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, ssl.SSLError | smtplib.SMTPException):
        # Wrong TLS mode, untrusted certificate, STARTTLS/AUTH not offered: a retry gets the
        # same answer. (SMTPException subclasses OSError, so this test must come first.)
        return False
    return isinstance(exc, OSError)  # refused, reset, unreachable, DNS, timeout


def _hint(exc: BaseException, settings: SmtpSettings) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"check the SMTP username {settings.username!r} and the password in "
            f"credential/environment variable {settings.password_secret}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the server's certificate is not trusted; set cafile to the CA that signed it"
    if isinstance(exc, ssl.SSLError):
        return 'check security: "tls" is for port 465, "starttls" for port 587'
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "the server does not offer STARTTLS or AUTH; check host, port and security"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing is listening there; check the host and port and that the mail server runs"
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return "the server refused permanently; ask the mail administrator about this reply"
    return "the report files are still on disk; resend once the mail server is reachable"


def _password(settings: SmtpSettings) -> str | None:
    if settings.password_secret is None:
        return None
    try:
        return read_secret(settings.password_secret, purpose="SMTP password for the report")
    except SecretError as exc:
        raise ReportError(
            f"cannot send the report via {settings.endpoint}: {exc.message}", hint=exc.hint
        ) from exc


def _ssl_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.cafile:
        try:
            context.load_verify_locations(cafile=settings.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ReportError(
                f"cannot load the SMTP CA file {settings.cafile}: {exc}",
                hint="point cafile at a PEM file with the CA certificate",
            ) from exc
    return context


def _send_once(
    message: EmailMessage,
    settings: SmtpSettings,
    password: str | None,
    context: ssl.SSLContext,
) -> None:
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.set_debuglevel(0)  # debug output would include the base64 AUTH exchange
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username is not None and password is not None:
            smtp.login(settings.username, password)
        refused = smtp.send_message(
            message, from_addr=settings.sender, to_addrs=list(settings.recipients)
        )
    finally:
        # Not `with smtp:` -- its QUIT can raise after DATA was accepted, and a retry then
        # would send everyone a second copy. Once DATA is accepted, the report is delivered.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    if refused:
        # Some recipients got it; retrying would send them a duplicate, so report and stop.
        parts = [f"{rcpt}: {_code_text(code, text)}" for rcpt, (code, text) in refused.items()]
        raise _Permanent("some recipients were refused (" + "; ".join(parts) + ")")


def send_report(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send ``message``; raise ``ReportError`` naming host:port and the reply if it cannot."""
    password = _password(settings)
    context = _ssl_context(settings)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "report.smtp_retry",
            endpoint=settings.endpoint,
            attempt=state.attempt_number,
            of=settings.attempts,
            reply=_reply(exc) if exc else None,
            wait_seconds=round(state.upcoming_sleep, 3),
        )

    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts),
        wait=wait_exponential(multiplier=settings.backoff_seconds, min=0, max=3600),
        retry=retry_if_exception(_is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                _send_once(message, settings, password, context)
    except _Permanent as exc:
        raise ReportError(
            f"report delivered only in part via {settings.endpoint}: {exc}",
            hint="check the refused addresses; the others have already received it",
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        tries = f"after {attempts} attempts" if attempts > 1 else "on the first attempt"
        log.error(
            "report.smtp_failed", endpoint=settings.endpoint, attempts=attempts, reply=_reply(exc)
        )
        # `from None`: smtplib exceptions can carry the AUTH exchange; keep it out of tracebacks.
        raise ReportError(
            f"could not send the monthly report via {settings.endpoint} {tries}: {_reply(exc)}",
            hint=_hint(exc, settings),
        ) from None
    log.info(
        "report.sent",
        endpoint=settings.endpoint,
        attempts=attempts,
        recipients=len(settings.recipients),
        subject=str(message["Subject"]),
    )
