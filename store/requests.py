"""Report requests and their deliveries (the outbox rows): the writes that create them.

A request is the unit of rendering — one CSV and one PDF — and owns one ``delivery`` row per
recipient. A download click creates one (or reuses the same user's request for the same flow
from the last minutes); a digest creates one per flow it covers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from store.models import DEFAULT_REPORT_FORMATS, Delivery, Flow, ReportRequest

REUSE_WINDOW = timedelta(minutes=10)
DELIVERY_CHANNELS = ("slack_user", "slack_channel", "email")


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes: a Slack user (DM), a Slack channel or an email address."""

    channel: str
    address: str

    def __post_init__(self) -> None:
        if self.channel not in DELIVERY_CHANNELS:
            raise ValueError(f"channel: unknown delivery channel {self.channel!r}")

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """``slack_user:U1`` (as subscriptions store them) → ``Recipient``."""
        channel, _, address = text.partition(":")
        return cls(channel, address)

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"


@dataclass(frozen=True)
class CreatedRequest:
    """The request a click produced, and whether an earlier identical one was reused."""

    request_id: int
    reused: bool
    recipients: tuple[Recipient, ...]


def _add_deliveries(
    session: Session,
    request_id: int,
    recipients: Iterable[Recipient],
    *,
    owner: str | None,
    now: datetime,
    deadline_at: datetime,
) -> None:
    for recipient in recipients:
        session.add(
            Delivery(
                request_id=request_id,
                channel=recipient.channel,
                recipient=recipient.address,
                owner=owner,
                next_attempt_at=now,
                deadline_at=deadline_at,
                created_at=now,
            )
        )


def create_download_request(
    session: Session,
    *,
    flow: Flow,
    team_id: str,
    user_id: str,
    recipient: Recipient,
    now: datetime,
    deadline: timedelta,
    formats: str = DEFAULT_REPORT_FORMATS,
) -> CreatedRequest:
    """A request for ``flow``'s full report for ``user_id``; reuses one from the last minutes
    with the same ``formats`` (``"csv,pdf"``, ``"pdf,xlsx"``…)."""
    assert flow.id is not None
    recent = session.exec(
        select(ReportRequest)
        .where(
            ReportRequest.team_id == team_id,
            ReportRequest.requested_by == user_id,
            ReportRequest.flow_id == flow.id,
            ReportRequest.kind == "download",
            ReportRequest.formats == formats,
            ReportRequest.state != "failed",
            ReportRequest.created_at >= now - REUSE_WINDOW,
        )
        .order_by(sa.desc(ReportRequest.created_at))
    ).first()
    if recent is not None and recent.id is not None:
        existing = session.exec(select(Delivery).where(Delivery.request_id == recent.id)).all()
        recipients = tuple(Recipient(d.channel, d.recipient) for d in existing)
        return CreatedRequest(recent.id, True, recipients)
    request = ReportRequest(
        flow_id=flow.id,
        team_id=team_id,
        requested_by=user_id,
        kind="download",
        formats=formats,
        created_at=now,
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    _add_deliveries(
        session, request.id, [recipient], owner=user_id, now=now, deadline_at=now + deadline
    )
    session.commit()
    return CreatedRequest(request.id, False, (recipient,))


def add_digest_request(
    session: Session,
    *,
    flow_id: int,
    team_id: str,
    subscription_id: int,
    owner: str,
    recipients: Iterable[Recipient],
    previous_kpis: dict[str, Any] | None,
    now: datetime,
    deadline_at: datetime,
    formats: str = DEFAULT_REPORT_FORMATS,
) -> int:
    """Add (without committing) a digest request for one flow with its deliveries; its id."""
    request = ReportRequest(
        formats=formats,
        flow_id=flow_id,
        team_id=team_id,
        requested_by=owner,
        subscription_id=subscription_id,
        kind="digest",
        previous_kpis=previous_kpis,
        created_at=now,
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    _add_deliveries(session, request.id, recipients, owner=owner, now=now, deadline_at=deadline_at)
    return request.id
