"""Email delivery with aiosmtplib: multipart text + HTML, the PDF (and a small CSV or XLSX)
attached.

The channel formats the report (``email_format``) once per report and reuses the MIME
message for every recipient of the batch; one SMTP connection is opened on the first send
and reused for the rest of the batch, and a failure drops it so the next send reconnects.
Every header value has CR and LF removed (header injection), and every message gets a
Message-ID derived from its delivery row, so a receiving system can tell a resend of the
same delivery from a new one.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr

import aiosmtplib

from reports.content import ReportContent
from scheduler.delivery.base import (
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from scheduler.delivery.email_format import render_email

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TIMEOUT_S = 30.0


def clean_header(value: str) -> str:
    """``value`` without CR, LF or other control characters (no header injection)."""
    return _CONTROL.sub(" ", value).strip()


def mail_domain(mail_from: str) -> str:
    """The domain of the ``MAIL_FROM`` address, for Message-IDs."""
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(delivery_id: int | None, request_id: int, domain: str) -> str:
    """A Message-ID that names the delivery: the same delivery always gets the same one."""
    return f"<report-{request_id}.delivery-{delivery_id}@{clean_header(domain)}>"


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail (the ``SMTP_*`` and ``MAIL_FROM`` settings)."""

    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    mail_from: str = "Campaign reports <reports@localhost>"
    tls_context: ssl.SSLContext | None = None  # tests pass one trusting their own CA
    max_attachment_bytes: int = 10 * 1024 * 1024  # a larger CSV is linked, not attached


def build_message(
    content: ReportContent, mail_from: str, max_attachment_bytes: int
) -> EmailMessage:
    """The MIME message of ``content`` without recipient headers (filled per delivery)."""
    csv_attached = content.csv is not None and content.csv.size <= max_attachment_bytes
    xlsx_attached = content.xlsx is not None and content.xlsx.size <= max_attachment_bytes
    body = render_email(content, csv_attached=csv_attached, xlsx_attached=xlsx_attached)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = clean_header(body.subject)
    message["From"] = clean_header(mail_from)
    message["Date"] = formatdate(localtime=False)
    message.set_content(body.text)
    message.add_alternative(body.html, subtype="html")
    attached = (
        content.pdf,
        content.csv if csv_attached else None,
        content.xlsx if xlsx_attached else None,
    )
    for attachment in attached:
        if attachment is None:
            continue
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.path.read_bytes(),
            maintype=maintype,
            subtype=subtype,
            filename=clean_header(attachment.filename),
        )
    return message


def _recipient_address(recipient: str) -> str:
    address = clean_header(recipient)
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise PermanentDeliveryError(f"{address!r} is not an email address ({exc})") from None
    return address


class EmailChannel:
    """Sends reports by email over one reused SMTP connection."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: aiosmtplib.SMTP | None = None
        self._messages: dict[int, EmailMessage] = {}  # by report request, for one batch
        self._domain = mail_domain(config.mail_from)
        self._sender = parseaddr(config.mail_from)[1] or config.mail_from

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        config = self.config
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=config.tls_context,
            username=config.username,
            password=config.password,
            timeout=TIMEOUT_S,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials fail every recipient alike; an operator fixes them, so retry.
            raise TransientDeliveryError(f"SMTP login refused: {exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(
                f"cannot reach the mail server {config.host}:{config.port}: {exc}"
            ) from None
        self._smtp = smtp
        return smtp

    async def send(self, delivery: Outgoing) -> None:
        """Email the report to ``delivery.recipient``."""
        address = _recipient_address(delivery.recipient)
        content = delivery.content
        if not isinstance(content, ReportContent):
            raise PermanentDeliveryError("only reports are sent by email")
        message = self._messages.get(content.request_id)
        if message is None:
            message = build_message(
                content, self.config.mail_from, self.config.max_attachment_bytes
            )
            self._messages[content.request_id] = message
        # The same MIME body for every recipient; only these two headers change.
        for name, value in (
            ("To", address),
            ("Message-ID", message_id(delivery.delivery_id, content.request_id, self._domain)),
        ):
            del message[name]
            message[name] = value
        smtp = await self._connection()
        try:
            await smtp.send_message(message, sender=self._sender, recipients=[address])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            code = refusal.code if refusal is not None else 550
            text = f"{refusal.code} {refusal.message}" if refusal is not None else str(exc)
            if 400 <= code < 500:
                raise TransientDeliveryError(f"mail server deferred {address}: {text}") from None
            raise PermanentDeliveryError(f"the mail server refused {address}: {text}") from None
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            if 400 <= exc.code < 500:
                raise TransientDeliveryError(f"mail server busy: {exc.code} {exc.message}") from exc
            raise PermanentDeliveryError(
                f"the mail server rejected the message: {exc.code} {exc.message}"
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self._drop()
            raise TransientDeliveryError(f"connection to the mail server lost: {exc}") from None

    async def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def close(self) -> None:
        """Say QUIT and close the batch's connection; forget the batch's messages."""
        self._messages.clear()
        smtp, self._smtp = self._smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
