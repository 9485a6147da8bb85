"""What every delivery channel shares: the content object, the send interface, its errors.

A channel (``SlackChannel``, ``EmailChannel``) turns one ``Outgoing`` item — a rendered
report for one recipient — into a Slack DM or an email. It raises
``TransientDeliveryError`` when trying again later may work (connection refused, SMTP 4xx,
Slack 429/5xx) and ``PermanentDeliveryError`` when it will not (recipient refused,
``channel_not_found``); the outbox decides what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class DeliveryError(Exception):
    """A delivery did not happen; the message says why, in words fit for the owner."""


class TransientDeliveryError(DeliveryError):
    """The recipient could not be reached now; a later attempt may work."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The delivery can never succeed as addressed (refused recipient, unknown channel)."""


@dataclass(frozen=True)
class Attachment:
    """A rendered report file in ``REPORTS_DIR``."""

    path: Path
    content_type: str  # e.g. application/pdf

    @property
    def filename(self) -> str:
        """The name shown to recipients."""
        return self.path.name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.path.stat().st_size


@dataclass(frozen=True)
class Link:
    """A signed download link standing in for a file too large to attach."""

    filename: str
    url: str
    expires_text: str  # "5 Dec 2026 09:00 UTC"


@dataclass
class ReportContent:
    """A channel-neutral report: the texts, the files and the links, for every recipient.

    ``slack_text`` is mrkdwn; ``email_text`` / ``email_html`` are the two parts of an email.
    ``cache`` lets a channel keep what it prepared for this content (a built MIME message)
    while it sends the same report to many recipients.
    """

    request_id: int
    subject: str
    slack_text: str
    email_text: str
    email_html: str
    pdf: Attachment | None = None
    csv: Attachment | None = None
    csv_link: Link | None = None
    cache: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One outbox row ready to send: who gets which content."""

    delivery_id: int
    channel: str  # slack_user | slack_channel | email
    recipient: str
    content: ReportContent


class Channel(Protocol):
    """A way of delivering reports; ``send`` raises one of the errors above on failure."""

    async def send(self, delivery: Outgoing) -> None:
        """Deliver ``delivery.content`` to ``delivery.recipient``."""
        ...

    async def close(self) -> None:
        """Release connections kept for a batch."""
        ...
