"""Subscriptions: the ``subscribe`` grammar, storing them, scheduling them, queueing digests.

Grammar (after ``/campaign-report subscribe``)::

    <flow|all> daily HH:MM | weekly MON HH:MM | cron "m h dom mon dow"
        [tz:Area/City] [to: me, #channel, @user, name@domain] [if-changed]

``if-changed`` skips a digest when no KPI moved since the previous one. Slack sends
channel and user mentions as ``<#C…|name>`` / ``<@U…|name>`` and addresses as
``<mailto:a@b|a@b>``; those are the forms accepted (pick them from Slack's autocomplete).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from reports.kpis import compute_kpis
from scheduler.content import kpis_changed
from scheduler.runtime import Runtime
from scheduler.sessions import write_session
from store.models import Delivery, Flow, ReportRequest, Subscription, WorkspaceGrant
from store.vocabulary import REPORTABLE_FLOW_STATUSES

logger = logging.getLogger("campaign_report.subscriptions")
MAX_RECIPIENTS = 20
ALL_FLOWS = "all"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_USER = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$"
)
_TOKEN = re.compile(r"\"([^\"]*)\"|(\S+)")
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


class SubscriptionError(ValueError):
    """The subscription cannot be made as written; the message says what to fix."""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A parsed ``subscribe`` command."""

    flow: str  # a flow query, or "all"
    schedule: str  # normalized, e.g. "daily 09:00"
    cron: str  # minute hour day month day_of_week
    timezone: str
    recipients: tuple[str, ...]  # "slack_user:U…", "slack_channel:C…", "email:a@b"
    skip_unchanged: bool


def parse_recipient(token: str, user_id: str) -> str:
    """One ``to:`` item as ``kind:address``; ``SubscriptionError`` names a bad one."""
    item = token.strip().rstrip(",").strip()
    if item.lower() == "me":
        return f"slack_user:{user_id}"
    if match := _USER.match(item):
        return f"slack_user:{match.group(1)}"
    if match := _CHANNEL.match(item):
        return f"slack_channel:{match.group(1)}"
    if match := _MAILTO.match(item):
        item = match.group(1)
    if _EMAIL.match(item):
        return f"email:{item.lower()}"
    if item.startswith(("#", "@")):
        raise SubscriptionError(
            f"to: pick {item[:40]} from Slack's autocomplete so Slack sends its id"
        )
    raise SubscriptionError(f"to: {item[:60]!r} is not me, a #channel, an @user or an email")


def check_email_domains(
    recipients: tuple[str, ...], internal: list[str], allowed: list[str]
) -> None:
    """Refuse email recipients outside ``INTERNAL_EMAIL_DOMAINS`` and ``ALLOWED_EMAIL_DOMAINS``."""
    permitted = {d.lower() for d in (*internal, *allowed)}
    for recipient in recipients:
        kind, _, address = recipient.partition(":")
        if kind != "email":
            continue
        domain = address.rpartition("@")[2]
        if domain not in permitted:
            shown = ", ".join(sorted(permitted)) or "none are configured"
            raise SubscriptionError(
                f"to: {address} is outside the domains reports may be emailed to ({shown})"
            )


def _cron_for(words: list[str]) -> tuple[str, str, list[str]]:
    """(schedule text, crontab, the words left over) from ``daily …``/``weekly …``/``cron …``."""
    kind = words[0].lower()
    if kind == "daily":
        if len(words) < 2 or not _TIME.match(words[1]):
            raise SubscriptionError("daily needs a time, e.g. daily 09:00")
        hour, minute = _TIME.match(words[1]).groups()  # type: ignore[union-attr]
        return f"daily {int(hour):02d}:{minute}", f"{int(minute)} {int(hour)} * * *", words[2:]
    if kind == "weekly":
        if len(words) < 3 or words[1].lower()[:3] not in _DAYS or not _TIME.match(words[2]):
            raise SubscriptionError("weekly needs a day and a time, e.g. weekly MON 09:00")
        day = words[1].lower()[:3]
        hour, minute = _TIME.match(words[2]).groups()  # type: ignore[union-attr]
        schedule = f"weekly {day.upper()} {int(hour):02d}:{minute}"
        return schedule, f"{int(minute)} {int(hour)} * * {day}", words[3:]
    if len(words) < 2:
        raise SubscriptionError('cron needs an expression in quotes, e.g. cron "0 9 * * 1-5"')
    expression = " ".join(words[1].split())
    try:
        crontab_trigger(expression, "UTC")
    except (ValueError, IndexError) as exc:
        raise SubscriptionError(
            f"cron: {expression!r} is not a crontab expression ({exc})"
        ) from None
    return f'cron "{expression}"', expression, words[2:]


def parse_subscribe(text: str, user_id: str, default_tz: str) -> SubscriptionSpec:
    """Parse the text after ``subscribe`` (raw, as Slack sends it)."""
    tokens = [q or bare for q, bare in _TOKEN.findall(text.translate(_CURLY_QUOTES))]
    position = next(
        (i for i, t in enumerate(tokens) if i > 0 and t.lower() in ("daily", "weekly", "cron")),
        None,
    )
    if not tokens or position is None:
        raise SubscriptionError(
            'Write: subscribe <flow|all> daily HH:MM | weekly MON HH:MM | cron "…" '
            "[tz:Area/City] [to: me, #channel, name@domain]"
        )
    flow = " ".join(tokens[:position])
    schedule, cron, rest = _cron_for(tokens[position:])
    timezone, recipients, skip = default_tz, [], False
    collecting = False
    for token in rest:
        lower = token.lower()
        if lower.startswith("tz:"):
            timezone, collecting = token[3:], False
        elif lower in ("if-changed", "only-changes"):
            skip, collecting = True, False
        elif lower.startswith("to:"):
            collecting = True
            recipients += [part for part in token[3:].split(",") if part.strip()]
        elif collecting:
            recipients += [part for part in token.split(",") if part.strip()]
        else:
            raise SubscriptionError(
                f"{token[:40]!r} is not understood here; use tz:, to: or if-changed"
            )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(
            f"tz: unknown time zone {timezone[:60]!r}; e.g. tz:Asia/Kolkata"
        ) from None
    parsed = tuple(dict.fromkeys(parse_recipient(r, user_id) for r in recipients or ["me"]))
    if len(parsed) > MAX_RECIPIENTS:
        raise SubscriptionError(f"to: at most {MAX_RECIPIENTS} recipients")
    return SubscriptionSpec(flow, schedule, cron, timezone, parsed, skip)


_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_trigger(expression: str, timezone: ZoneInfo | str | None = None) -> CronTrigger:
    """A trigger for a standard crontab line, where day of week 0 and 7 are Sunday.

    APScheduler 3 counts weekdays from Monday = 0 (its docs call this a historical mistake),
    so numeric weekdays are turned into names first.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if weekday in ("0-6", "1-7", "0-7"):
        weekday = "*"
    weekday = re.sub(r"(?<![/\d])\d+", lambda m: _CRONTAB_DAYS[int(m.group(0)) % 8], weekday)
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone
    )


def build_trigger(subscription: Subscription) -> CronTrigger:
    """The APScheduler trigger of a subscription."""
    return crontab_trigger(subscription.cron, ZoneInfo(subscription.timezone))


def schedule_all(engine: Engine, scheduler: BaseScheduler) -> None:
    """Give every active subscription a job and remove jobs of ended ones."""
    from scheduler import jobs
    from scheduler.service import subscription_job_id

    with Session(engine) as session:
        active = list(session.exec(select(Subscription).where(Subscription.active)))
    wanted = {subscription_job_id(s.id): s for s in active if s.id is not None}
    for job in scheduler.get_jobs():
        if job.id.startswith("subscription-") and job.id not in wanted:
            job.remove()
    for job_id, subscription in wanted.items():
        if scheduler.get_job(job_id) is None:
            scheduler.add_job(
                jobs.run_subscription,
                build_trigger(subscription),
                args=[subscription.id],
                id=job_id,
            )


def subscription_flows(session: Session, subscription: Subscription) -> list[Flow]:
    """The flows a digest covers: its flow, or every reportable flow the workspace sees.

    Grants are checked at every digest: a workspace whose grant was withdrawn gets nothing.
    """
    bots = set(
        session.exec(
            select(WorkspaceGrant.bot_id).where(WorkspaceGrant.team_id == subscription.team_id)
        )
    )
    if subscription.flow_id is not None:
        flow = session.get(Flow, subscription.flow_id)
        visible = flow is not None and flow.bot_id in bots
        return [flow] if visible and flow.status in REPORTABLE_FLOW_STATUSES else []  # type: ignore[list-item, union-attr]
    flows = session.exec(
        select(Flow).where(Flow.bot_id.in_(bots), Flow.status.in_(REPORTABLE_FLOW_STATUSES))  # type: ignore[attr-defined]
    )
    return sorted(flows, key=lambda f: f.id or 0)


def queue_digest(runtime: Runtime, subscription_id: int, *, force: bool = False) -> list[int]:
    """Queue a digest request per flow of the subscription (with its deliveries); their ids.

    ``force`` (a test send) ignores ``if-changed`` and does not move the "previous digest"
    baseline.
    """
    now = runtime.clock()
    deadline = now + runtime.retry.deadline
    queued: list[int] = []
    with write_session(runtime.engine) as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None or not subscription.active:
            return []
        baseline: dict[str, Any] = dict(subscription.last_kpis or {})
        for flow in subscription_flows(session, subscription):
            current = compute_kpis(session.connection(), flow, now=now).to_json()
            previous = baseline.get(str(flow.id))
            if subscription.skip_unchanged and not force and not kpis_changed(current, previous):
                continue
            request = ReportRequest(
                flow_id=flow.id,  # type: ignore[arg-type]
                team_id=subscription.team_id,
                requested_by=subscription.created_by,
                subscription_id=subscription.id,
                kind="digest",
                previous_kpis=previous,
                created_at=now,
            )
            session.add(request)
            session.flush()
            for recipient in subscription.recipients:
                channel, _, address = recipient.partition(":")
                session.add(
                    Delivery(
                        request_id=request.id,  # type: ignore[arg-type]
                        channel=channel,
                        recipient=address,
                        owner=subscription.created_by,
                        next_attempt_at=now,
                        deadline_at=deadline,
                        created_at=now,
                    )
                )
            queued.append(request.id)  # type: ignore[arg-type]
            if not force:
                baseline[str(flow.id)] = current
        if not force:
            subscription.last_kpis = baseline
            subscription.last_digest_at = now
            session.add(subscription)
        session.commit()
    return queued


def create_subscription(
    session: Session, spec: SubscriptionSpec, *, team_id: str, user_id: str, flow: Flow | None,
    now: datetime,
) -> Subscription:  # fmt: skip
    """Store a subscription made with ``/campaign-report subscribe``."""
    subscription = Subscription(
        team_id=team_id,
        created_by=user_id,
        flow_id=flow.id if flow is not None else None,
        schedule=spec.schedule,
        cron=spec.cron,
        timezone=spec.timezone,
        recipients=list(spec.recipients),
        skip_unchanged=spec.skip_unchanged,
        created_at=now,
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription


def next_run(subscription: Subscription, now: datetime) -> datetime | None:
    """When the subscription's next digest goes out."""
    return build_trigger(subscription).get_next_fire_time(None, now)
