"""An alert's message as a plain-text email (pure: content in, MIME message out).

The words are ``reports.alerts.describe_judgement``'s, the same Slack shows; the buttons of
the Slack message become the commands that do the same. Headers are cleaned of CR/LF by the
email channel's ``clean_header``; the body is plain text, so nothing in it is markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from reports.alerts import Condition, describe_judgement
from reports.content import AlertContent
from reports.formatting import fmt_moment, truncate

SUBJECT_NAME = 120  # characters of the flow name in a subject line
COMMAND = "/campaign-report"


@dataclass(frozen=True)
class AlertEmail:
    """The subject and text of an alert email."""

    subject: str
    text: str


def render_alert_email(content: AlertContent) -> AlertEmail:
    """Subject and plain text of an alert's ``firing`` or ``resolved`` message."""
    judgement = content.judgement
    words = describe_judgement(content.kind, judgement)
    flow = judgement["flow"]
    condition = Condition(
        judgement["metric"], judgement["op"], float(judgement["threshold"]),
        int(judgement["min_notifications"]),
    )  # fmt: skip
    tag = "[Campaign alert]" if content.kind == "firing" else "[Campaign alert resolved]"
    name = truncate(content.flow_name, SUBJECT_NAME)
    lines = [words.title, "", words.condition, words.notifications]
    if words.top_reason:
        lines.append(words.top_reason)
    lines += [
        "",
        f"Flow: {flow['name']} ({flow['bot_id']}/{flow['workflow_id']}), judged "
        f"{fmt_moment(content.judged_at, content.zone)}",
        f"Alert #{content.alert_id}: {condition.describe()}",
        f"In Slack: {COMMAND} {flow['workflow_id']} opens the report; "
        f"{COMMAND} alert remove {content.alert_id} removes the alert.",
    ]
    return AlertEmail(subject=f"{tag} {name} — {words.condition}", text="\n".join(lines) + "\n")


def build_alert_message(
    content: AlertContent, mail_from: str, now: datetime | None = None
) -> EmailMessage:
    """The MIME message of an alert, without recipient headers (filled per delivery)."""
    body = render_alert_email(content)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = " ".join(body.subject.split())  # no CR/LF in a header
    message["From"] = " ".join(mail_from.split())
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message.set_content(body.text)
    return message


def alert_message_id(delivery_id: int | None, event_id: str, domain: str) -> str:
    """A Message-ID naming the delivery of an alert event (the same for a resend)."""
    return f"<alert-{event_id}.delivery-{delivery_id}@{domain}>"
