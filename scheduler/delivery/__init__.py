"""Delivery channels: one small interface (``send``), one module per channel."""

from scheduler.delivery.base import (
    Attachment,
    Channel,
    DeliveryError,
    Outgoing,
    PermanentDeliveryError,
    ReportContent,
    TransientDeliveryError,
)

__all__ = [
    "Attachment",
    "Channel",
    "DeliveryError",
    "Outgoing",
    "PermanentDeliveryError",
    "ReportContent",
    "TransientDeliveryError",
]
