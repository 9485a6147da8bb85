"""Email delivery with aiosmtplib: multipart text + HTML, the PDF (and a small CSV or XLSX)
attached.

The channel formats the report (``email_format``) once per report, off the event loop, into
the bytes of one MIME message without recipient headers; each recipient's send prepends its
own ``To`` and ``Message-ID``. Connections are pooled for the batch (the outbox sends to a
few recipients at once, each on its own connection, and a connection is reused by the next
send); a failure drops it so the next send reconnects. Every header value has CR and LF
removed (header injection), and every message gets a Message-ID derived from its delivery
row, so a receiving system can tell a resend of the same delivery from a new one.

No SMTP phase can hang a delivery: connecting (TCP, greeting, implicit TLS) is bounded by
``connect_timeout``; EHLO, STARTTLS and AUTH each by ``command_timeout``; MAIL, RCPT and
the end of DATA by ``command_timeout`` plus the time to send the message at
``MIN_DATA_RATE``; and the whole send by their sum. When the server cannot be reached or
times out, the other emails of the same pass are not tried against it again (each is put
back for a retry at once) — one hung server costs one timeout per pass, not one per email.

Last line of defence: an address outside ``INTERNAL_EMAIL_DOMAINS`` and
``ALLOWED_EMAIL_DOMAINS`` is refused for good, whatever path queued it.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr

import aiosmtplib

from reports.access import email_domain_allowed
from reports.content import AlertContent, Attachment, ReportContent
from scheduler.delivery.alert_email import alert_message_id, build_alert_message
from scheduler.delivery.base import (
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from scheduler.delivery.email_format import render_email

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 10.0
MIN_DATA_RATE = 100 * 1024  # bytes per second a server must at least take DATA at
BASE64_LINE = 76  # characters per base64 line in MIME bodies, each followed by CRLF


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
    """Where and how to send mail (the ``SMTP_*`` and ``MAIL_FROM`` settings), and to whom."""

    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    mail_from: str = "Campaign reports <reports@localhost>"
    tls_context: ssl.SSLContext | None = None  # tests pass one trusting their own CA
    # Attachments as sent (base64), PDF and CSV together; past it the CSV is linked instead.
    max_attachment_bytes: int = 10 * 1024 * 1024
    internal_domains: tuple[str, ...] = ()  # INTERNAL_EMAIL_DOMAINS
    allowed_domains: tuple[str, ...] = ()  # ALLOWED_EMAIL_DOMAINS
    connect_timeout: float = CONNECT_TIMEOUT_S
    command_timeout: float = COMMAND_TIMEOUT_S

    def data_timeout(self, size: int) -> float:
        """How long MAIL, RCPT and the end of DATA may take for a message of ``size`` bytes."""
        return self.command_timeout + size / MIN_DATA_RATE

    def send_budget(self, size: int) -> float:
        """The most one send may take: connect, four commands (EHLO, STARTTLS, EHLO, AUTH)
        and the three of the mail transaction."""
        return self.connect_timeout + 4 * self.command_timeout + 3 * self.data_timeout(size)


def encoded_size(size: int) -> int:
    """Bytes a ``size``-byte attachment takes in the message (base64, 76-character lines)."""
    characters = 4 * math.ceil(size / 3)
    return characters + 2 * math.ceil(characters / BASE64_LINE)


def csv_fits(content: ReportContent, max_attachment_bytes: int) -> bool:
    """True when the PDF and the CSV, as encoded in the message, fit ``MAX_ATTACHMENT_MB``.

    The PDF (a few pages of KPIs) always goes along; the CSV only when both fit.
    """
    if content.csv is None:
        return False
    files = [a for a in (content.pdf, content.csv) if a is not None]
    return sum(encoded_size(a.size) for a in files) <= max_attachment_bytes


def xlsx_fits(content: ReportContent, max_attachment_bytes: int, *, csv_attached: bool) -> bool:
    """True when the XLSX fits beside the PDF (and the CSV, when that goes along) within
    ``MAX_ATTACHMENT_MB``, as encoded in the message; otherwise it is linked."""
    if content.xlsx is None:
        return False
    files = [content.pdf, content.csv if csv_attached else None, content.xlsx]
    return sum(encoded_size(a.size) for a in files if a is not None) <= max_attachment_bytes


def build_message(
    content: ReportContent,
    mail_from: str,
    max_attachment_bytes: int,
    now: datetime | None = None,
) -> EmailMessage:
    """The MIME message of ``content`` without recipient headers (filled per delivery)."""
    csv_attached = csv_fits(content, max_attachment_bytes)
    xlsx_attached = xlsx_fits(content, max_attachment_bytes, csv_attached=csv_attached)
    body = render_email(content, csv_attached=csv_attached, xlsx_attached=xlsx_attached)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = clean_header(body.subject)
    message["From"] = clean_header(mail_from)
    # An aware UTC time: "+0000" (formatdate's "-0000" means "offset unknown", RFC 5322).
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message.set_content(body.text)
    message.add_alternative(body.html, subtype="html")
    attachments: list[Attachment | None] = [
        content.pdf,
        content.csv if csv_attached else None,
        content.xlsx if xlsx_attached else None,
    ]
    for attachment in attachments:
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


def render_message_bytes(content: ReportContent, config: SmtpConfig) -> bytes:
    """The message of ``content`` as it goes on the wire, recipient headers left out."""
    return build_message(content, config.mail_from, config.max_attachment_bytes).as_bytes()


def recipient_headers(address: str, message_id_value: str) -> bytes:
    """The ``To`` and ``Message-ID`` lines of one recipient's copy, folded for SMTP."""
    policy = SMTP if address.isascii() else SMTPUTF8  # sent with the SMTPUTF8 option
    lines = policy.fold("To", address) + policy.fold("Message-ID", message_id_value)
    return lines.encode("utf-8")


def _recipient_address(recipient: str, config: SmtpConfig) -> str:
    address = clean_header(recipient)
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise PermanentDeliveryError(f"{address!r} is not an email address ({exc})") from None
    if not email_domain_allowed(address, config.internal_domains, config.allowed_domains):
        domains = ", ".join(sorted({*config.internal_domains, *config.allowed_domains}))
        raise PermanentDeliveryError(
            f"{address} is outside the domains reports may be emailed to "
            f"({domains or 'none are configured'}: INTERNAL_EMAIL_DOMAINS, ALLOWED_EMAIL_DOMAINS)"
        )
    return address


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class EmailChannel:
    """Sends reports by email over a small pool of SMTP connections, reused within a batch."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._bodies: dict[int, asyncio.Future[bytes]] = {}  # by report request, for one batch
        self._unreachable: str | None = None  # why the server failed earlier in this batch
        self._domain = mail_domain(config.mail_from)
        self._sender = parseaddr(config.mail_from)[1] or config.mail_from

    def _body(self, content: ReportContent) -> asyncio.Future[bytes]:
        """The message bytes of ``content``: built once per batch, off the event loop."""
        body = self._bodies.get(content.request_id)
        if body is None:
            body = asyncio.ensure_future(
                asyncio.to_thread(render_message_bytes, content, self.config)
            )
            self._bodies[content.request_id] = body
        return body

    def _server(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _give_up_on_server(self, reason: str) -> TransientDeliveryError:
        """Remember that the server failed, so the rest of the batch does not wait for it."""
        self._unreachable = reason
        return TransientDeliveryError(reason)

    async def _connection(self) -> aiosmtplib.SMTP:
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
        if self._unreachable is not None:
            raise TransientDeliveryError(f"{self._unreachable} (earlier in this pass)")
        config = self.config
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=config.tls_context,
            username=config.username,
            password=config.password,
            timeout=config.command_timeout,
        )
        try:
            await smtp.connect(timeout=config.connect_timeout)
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials fail every recipient alike; an operator fixes them, so retry.
            raise self._give_up_on_server(f"SMTP login refused: {exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._give_up_on_server(
                f"cannot reach the mail server {self._server()}: {_describe(exc)}"
            ) from None
        return smtp

    async def send(self, delivery: Outgoing) -> None:
        """Email the report to ``delivery.recipient``."""
        address = _recipient_address(delivery.recipient, self.config)
        content = delivery.content
        if isinstance(content, AlertContent):  # a few lines of text: built right here
            body = build_alert_message(content, clean_header(self.config.mail_from)).as_bytes()
            mid = alert_message_id(
                delivery.delivery_id, content.event_id, clean_header(self._domain)
            )
        elif isinstance(content, ReportContent):
            body = await self._body(content)
            mid = message_id(delivery.delivery_id, content.request_id, self._domain)
        else:
            raise PermanentDeliveryError("only reports and alerts are sent by email")
        message = recipient_headers(address, mid) + body
        smtp: aiosmtplib.SMTP | None = None
        try:
            async with asyncio.timeout(self.config.send_budget(len(message))):
                smtp = await self._connection()
                await smtp.sendmail(
                    self._sender,
                    [address],
                    message,
                    mail_options=_utf8_options(self._sender, address),
                    timeout=self.config.data_timeout(len(message)),
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._release(smtp)  # the envelope was reset: the connection is still good
            refusal = exc.recipients[0] if exc.recipients else None
            code = refusal.code if refusal is not None else 550
            text = f"{refusal.code} {refusal.message}" if refusal is not None else str(exc)
            if 400 <= code < 500:
                raise TransientDeliveryError(f"mail server deferred {address}: {text}") from None
            raise PermanentDeliveryError(f"the mail server refused {address}: {text}") from None
        except aiosmtplib.SMTPResponseException as exc:
            self._drop(smtp)
            if 400 <= exc.code < 500:
                raise TransientDeliveryError(f"mail server busy: {exc.code} {exc.message}") from exc
            raise PermanentDeliveryError(
                f"the mail server rejected the message: {exc.code} {exc.message}"
            ) from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
            self._drop(smtp)
            raise self._give_up_on_server(
                f"the mail server {self._server()} did not answer in time: {_describe(exc)}"
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop(smtp)
            raise TransientDeliveryError(
                f"connection to the mail server lost: {_describe(exc)}"
            ) from None
        self._release(smtp)

    def _release(self, smtp: aiosmtplib.SMTP | None) -> None:
        if smtp is not None and smtp.is_connected:
            self._idle.append(smtp)

    @staticmethod
    def _drop(smtp: aiosmtplib.SMTP | None) -> None:
        if smtp is not None:
            smtp.close()

    async def close(self) -> None:
        """Say QUIT on the batch's connections; forget the batch's messages and failures."""
        for body in self._bodies.values():
            body.cancel()
        self._bodies.clear()
        self._unreachable = None
        idle, self._idle = self._idle, []
        for smtp in idle:
            if not smtp.is_connected:
                continue
            try:
                await smtp.quit(timeout=self.config.command_timeout)
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()


def _utf8_options(*addresses: str) -> list[str]:
    """``SMTPUTF8`` when an address is not ASCII (aiosmtplib's ``send_message`` does the same)."""
    return [] if all(a.isascii() for a in addresses) else ["SMTPUTF8"]
