"""One e-mail per evaluation with every new failure, each with its evidence and the policy.

Grouping keeps a vandal's burst of forty posts from sending forty e-mails; ``alerted_at``
keeps each finding to one alert. Delivery reuses the report's SMTP code (retries, TLS,
credentials from the environment); a failed delivery leaves the findings un-alerted so the
next evaluation tries again, and is never hidden: it raises for the caller to log.
"""

from __future__ import annotations

import json
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from archiver.compliance.engine import StoredFinding
from archiver.compliance.policy import POLICY
from archiver.report.mailer import send_report
from archiver.settings.compliance import VANDALISM_RULES
from archiver.settings.smtp import SmtpSettings


def build_alert(
    site_id: str, findings: list[StoredFinding], settings: SmtpSettings, city: str
) -> EmailMessage:
    vandal = [f for f in findings if f.rule in VANDALISM_RULES]
    kind = "possible vandalism" if vandal else "policy findings"
    msg = EmailMessage()
    msg["Subject"] = f"[{city} social media archive] {site_id}: {kind} ({len(findings)})"
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=f"compliance-{site_id}")
    msg["Auto-Submitted"] = "auto-generated"
    parts = [
        f"The archiver's compliance check of site {site_id} found {len(findings)} new "
        "failing finding(s). Close one after review with "
        "`archiver compliance ack ID --by NAME --note TEXT`.",
        "",
    ]
    for f in findings:
        parts += [
            f"#{f.id} {f.rule}{' (VANDALISM SIGNAL)' if f.rule in VANDALISM_RULES else ''}"
            + (f" — {f.subject}" if f.subject else ""),
            f"  {f.message}",
            f"  first seen {f.first_seen}",
            f'  policy: "{POLICY.get(f.rule, "")}"',
            "  evidence:",
            *(
                "    " + line
                for line in json.dumps(f.evidence, indent=2, ensure_ascii=False).splitlines()
            ),
            "",
        ]
    msg.set_content("\n".join(parts), subtype="plain", charset="utf-8")
    return msg


def send_alert(
    site_id: str,
    findings: list[StoredFinding],
    settings: SmtpSettings,
    recipients: tuple[str, ...],
    city: str,
) -> None:
    """Raises ``ReportError`` when the mail server refuses or cannot be reached."""
    to = replace(settings, recipients=list(recipients))
    send_report(build_alert(site_id, findings, to, city), to)
