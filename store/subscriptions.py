"""Subscriptions (scheduled digests): storing, ending and listing them.

What a subscription says — its schedule as a crontab line in a time zone, its recipients as
``kind:address`` — is parsed by the Slack grammar (``commands.grammar``); this module only
keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from store.models import DEFAULT_REPORT_FORMATS, Subscription


def create_subscription(
    session: Session,
    *,
    team_id: str,
    created_by: str,
    flow_id: int | None,
    schedule: str,
    cron: str,
    timezone: str,
    recipients: Sequence[str],
    skip_unchanged: bool,
    now: datetime,
    formats: str = DEFAULT_REPORT_FORMATS,
) -> Subscription:
    """Store a subscription (``flow_id`` None: every flow the workspace may see)."""
    subscription = Subscription(
        team_id=team_id,
        created_by=created_by,
        flow_id=flow_id,
        schedule=schedule,
        cron=cron,
        timezone=timezone,
        recipients=list(recipients),
        skip_unchanged=skip_unchanged,
        formats=formats,
        created_at=now,
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription


def end_subscription(session: Session, subscription_id: int, team_id: str) -> bool:
    """End workspace ``team_id``'s subscription; False when it has no such active one."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.team_id != team_id or not subscription.active:
        return False
    subscription.active = False
    session.add(subscription)
    session.commit()
    return True


def active_subscriptions(
    session: Session, *, team_id: str | None = None, limit: int | None = None
) -> list[Subscription]:
    """Active subscriptions by id, of one workspace or of all."""
    query = select(Subscription).where(Subscription.active).order_by(Subscription.id)  # type: ignore[arg-type]
    if team_id is not None:
        query = query.where(Subscription.team_id == team_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
