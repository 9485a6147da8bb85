"""Digests: giving subscriptions their jobs, and queueing a digest when one fires.

Subscriptions are made in Slack (``commands``) and stored by ``store.subscriptions``; their
schedule rules are ``reports.schedules``. Jobs name their function as text
(``scheduler.jobs:run_subscription``), as APScheduler stores it.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.access import subscription_flows
from reports.content import kpis_changed
from reports.kpis import compute_kpis
from reports.schedules import build_trigger
from scheduler.runtime import Runtime
from store.db import write_session
from store.models import Subscription
from store.requests import Recipient, add_digest_request
from store.subscriptions import active_subscriptions

logger = logging.getLogger("campaign_report.subscriptions")
JOB_PREFIX = "subscription-"
RUN_SUBSCRIPTION = "scheduler.jobs:run_subscription"


def subscription_job_id(subscription_id: int) -> str:
    """The APScheduler job id of a subscription's digest."""
    return f"{JOB_PREFIX}{subscription_id}"


def schedule_all(engine: Engine, scheduler: BaseScheduler) -> None:
    """Give every active subscription a job and remove jobs of ended ones."""
    with Session(engine) as session:
        active = active_subscriptions(session)
    wanted = {subscription_job_id(s.id): s for s in active if s.id is not None}
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            job.remove()
    for job_id, subscription in wanted.items():
        if scheduler.get_job(job_id) is None:
            scheduler.add_job(
                RUN_SUBSCRIPTION, build_trigger(subscription), args=[subscription.id], id=job_id
            )


def queue_digest(runtime: Runtime, subscription_id: int, *, force: bool = False) -> list[int]:
    """Queue a digest request per flow of the subscription (with its deliveries); their ids.

    ``force`` (a test send) ignores ``if-changed`` and does not move the "previous digest"
    baseline.
    """
    now = runtime.clock()
    deadline_at = now + runtime.retry.deadline
    queued: list[int] = []
    with write_session(runtime.engine) as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None or not subscription.active:
            return []
        assert subscription.id is not None
        baseline: dict[str, Any] = dict(subscription.last_kpis or {})
        recipients = [Recipient.parse(r) for r in subscription.recipients]
        for flow in subscription_flows(session, subscription):
            assert flow.id is not None
            current = compute_kpis(session.connection(), flow, now=now).to_json()
            previous = baseline.get(str(flow.id))
            if subscription.skip_unchanged and not force and not kpis_changed(current, previous):
                continue
            queued.append(
                add_digest_request(
                    session,
                    flow_id=flow.id,
                    team_id=subscription.team_id,
                    subscription_id=subscription.id,
                    owner=subscription.created_by,
                    recipients=recipients,
                    previous_kpis=previous,
                    now=now,
                    deadline_at=deadline_at,
                    formats=subscription.formats,
                )
            )
            if not force:
                baseline[str(flow.id)] = current
        if not force:
            subscription.last_kpis = baseline
            subscription.last_digest_at = now
            session.add(subscription)
        session.commit()
    return queued
