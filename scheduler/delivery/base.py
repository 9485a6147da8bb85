"""What every delivery channel shares: the item to send, the send interface, its errors.

A channel (``SlackChannel``, ``EmailChannel``) formats one ``Outgoing`` item — channel-neutral
content (``reports.content``) for one recipient — its own way, then sends it. It raises
``TransientDeliveryError`` when trying again later may work (connection refused, SMTP 4xx,
Slack 429/5xx) and ``PermanentDeliveryError`` when it will not (recipient refused,
``channel_not_found``); the outbox decides what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reports.content import Content


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
class Outgoing:
    """One item to send: who gets which content (``delivery_id`` None: not an outbox row)."""

    delivery_id: int | None
    channel: str  # slack_user | slack_channel | email
    recipient: str
    content: Content


class Channel(Protocol):
    """A way of delivering content; ``send`` raises one of the errors above on failure."""

    async def send(self, delivery: Outgoing) -> None:
        """Format ``delivery.content`` for this channel and deliver it to the recipient."""
        ...

    async def close(self) -> None:
        """Release connections kept for a batch."""
        ...
