"""The outbox runner: render pending requests, then send every due delivery once.

Exactly-once, across crashes, rests on three rules:

* a delivery is *claimed* (``pending`` → ``sending``, attempts + 1) in a committed
  transaction before anything is sent, with a conditional update so two runners can never
  both claim it;
* it is recorded ``sent`` in its own transaction right after the channel accepted it, before
  the next one is sent, and a ``sent`` row is never claimed again;
* at start-up the one elected runner puts back to ``pending`` whatever a dead process left
  in ``sending`` (``recover_interrupted``).

The only gap left is a crash in the instant between the channel accepting a message and the
``sent`` commit; that delivery is sent again after the restart. Emails carry a Message-ID
derived from the delivery row, so the receiving side can recognise such a repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from reports.kpis import FlowReport
from scheduler.content import build_report_content
from scheduler.delivery.base import (
    Attachment,
    Channel,
    DeliveryError,
    Link,
    Outgoing,
    PermanentDeliveryError,
    ReportContent,
    TransientDeliveryError,
)
from scheduler.links import expiry, link_url, make_token
from scheduler.requests import fail_request, pending_request_ids, render_request
from scheduler.runtime import Runtime
from store.db import write_transaction
from store.models import Delivery, ReportRequest, Subscription

logger = logging.getLogger("campaign_report.outbox")
_table = Delivery.__table__
MAX_ERROR = 500


@dataclass
class OutboxResult:
    """What one pass did."""

    rendered: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Claimed:
    """A delivery this runner claimed, with what it needs to send it."""

    delivery_id: int
    request_id: int
    channel: str
    recipient: str
    owner: str | None
    attempts: int
    deadline_at: datetime


def recover_interrupted(runtime: Runtime) -> int:
    """Put deliveries a dead runner left in ``sending`` back to ``pending``; how many."""
    with write_transaction(runtime.engine) as conn:
        return conn.execute(
            sa.update(_table).where(_table.c.state == "sending").values(state="pending")
        ).rowcount


def claim_due(
    runtime: Runtime, now: datetime, limit: int, only: Collection[int] | None = None
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, oldest first (committed before any send).

    ``only`` restricts the claim to the deliveries of those report requests.
    """
    claimed: list[Claimed] = []
    query = sa.select(_table).where(_table.c.state == "pending", _table.c.next_attempt_at <= now)
    if only is not None:
        query = query.where(_table.c.request_id.in_(list(only)))
    with write_transaction(runtime.engine) as conn:
        rows = conn.execute(
            query.order_by(_table.c.next_attempt_at, _table.c.id).limit(limit)
        ).all()
        for row in rows:
            taken = conn.execute(
                sa.update(_table)
                .where(_table.c.id == row.id, _table.c.state == "pending")
                .values(state="sending", attempts=_table.c.attempts + 1)
            ).rowcount
            if taken:
                claimed.append(
                    Claimed(
                        row.id,
                        row.request_id,
                        row.channel,
                        row.recipient,
                        row.owner,
                        row.attempts + 1,
                        row.deadline_at,
                    )
                )
    return claimed


def record_sent(runtime: Runtime, delivery_id: int, now: datetime) -> None:
    """Mark a claimed delivery sent (it is never sent again)."""
    with write_transaction(runtime.engine) as conn:
        conn.execute(
            sa.update(_table)
            .where(_table.c.id == delivery_id, _table.c.state == "sending")
            .values(state="sent", sent_at=now, last_error=None)
        )


def record_failure(
    runtime: Runtime, delivery_id: int, error: str, retry_at: datetime | None
) -> None:
    """Back to ``pending`` until ``retry_at``, or ``failed`` for good when it is None."""
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR]}
    if retry_at is None:
        values["state"] = "failed"
    else:
        values |= {"state": "pending", "next_attempt_at": retry_at}
    with write_transaction(runtime.engine) as conn:
        conn.execute(
            sa.update(_table)
            .where(_table.c.id == delivery_id, _table.c.state == "sending")
            .values(**values)
        )


def _footer(session: Session, request: ReportRequest, family: str) -> tuple[str, str, str | None]:
    """(heading, subject label, footer) of a request: a download or a digest."""
    if request.kind != "digest" or request.subscription_id is None:
        return "Full report you asked for in Slack", "full report", None
    sub = session.get(Subscription, request.subscription_id)
    schedule = sub.schedule if sub is not None else "digest"
    label = schedule.split()[0] if schedule else "digest"
    creator = sub.created_by if sub is not None else "someone"
    # In Slack a mention shows the person's name; an email can only give the user id.
    who = f"<@{creator}>" if family == "slack" else f"Slack user {creator}"
    footer = (
        f"Digest {schedule} subscribed in Slack by {who}. "
        f"To stop it: /campaign-report unsubscribe {request.subscription_id}"
    )
    return f"Digest ({schedule})", label, footer


def load_content(runtime: Runtime, request_id: int, family: str) -> ReportContent:
    """The content of a rendered request for ``family`` (``email`` or ``slack``)."""
    settings = runtime.settings
    now = runtime.clock()
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id)
        if request is None or request.state != "rendered" or not request.kpis:
            raise PermanentDeliveryError("the report was never rendered")
        heading, label, footer = _footer(session, request, family)
    directory = settings.REPORTS_DIR
    pdf = Attachment(directory / request.pdf_file, "application/pdf") if request.pdf_file else None
    csv = Attachment(directory / request.csv_file, "text/csv") if request.csv_file else None
    for attachment in (pdf, csv):
        if attachment is not None and not attachment.path.is_file():
            raise PermanentDeliveryError(f"the report file {attachment.filename} is gone")
    csv_link = None
    if csv is not None and family == "email":
        # Email gets a signed link to the CSV (DESIGN: external users get one), and the file
        # itself only while it is under MAX_ATTACHMENT_MB.
        secret = runtime.secret
        if secret is not None:
            url = link_url(settings.PUBLIC_BASE_URL, make_token(secret, csv.filename))
            until = expiry(now, settings.REPORT_LINK_TTL).astimezone(settings.report_zone)
            csv_link = Link(csv.filename, url, f"{until.day} {until:%b %Y %H:%M %Z}")
        if csv.size > settings.MAX_ATTACHMENT_MB * 1024 * 1024:
            csv = None
    return build_report_content(
        FlowReport.model_validate(request.kpis),
        request_id=request_id,
        heading=heading,
        subject_label=label,
        zone=settings.report_zone,
        now=now,
        previous=request.previous_kpis,
        pdf=pdf,
        csv=csv,
        csv_link=csv_link,
        footer=footer,
    )


def _flow_name(runtime: Runtime, request_id: int) -> str:
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id)
        if request is not None and request.kpis:
            return str(request.kpis["flow"]["name"])
    return "a flow"


async def notify_owner(runtime: Runtime, owner: str | None, text: str) -> None:
    """Tell the owner of a delivery in Slack that it failed (logged if Slack is off)."""
    slack = runtime.slack_channel()
    if owner is None or slack is None:
        logger.warning("delivery failure not told to anyone: %s", text)
        return
    try:
        await slack.notify(owner, text)
    except Exception:
        logger.exception("could not tell %s about a failed delivery", owner)


def _describe(claimed: Claimed) -> str:
    if claimed.channel == "email":
        return claimed.recipient
    prefix = "#" if claimed.channel == "slack_channel" else "@"
    return f"<{prefix}{claimed.recipient}>"


async def _render_pending(
    runtime: Runtime, result: OutboxResult, only: Collection[int] | None
) -> None:
    for request_id in await asyncio.to_thread(pending_request_ids, runtime):
        if only is not None and request_id not in only:
            continue
        try:
            if await asyncio.to_thread(render_request, runtime, request_id):
                result.rendered += 1
        except Exception as exc:
            logger.exception("rendering report request %s failed", request_id)
            await asyncio.to_thread(fail_request, runtime, request_id, f"rendering failed: {exc}")
            with Session(runtime.engine) as session:
                owners = set(
                    session.exec(
                        select(Delivery.owner).where(Delivery.request_id == request_id)
                    ).all()
                )
            for owner in owners:
                await notify_owner(
                    runtime, owner, "Sorry, your campaign report could not be produced."
                )


async def _send_one(
    runtime: Runtime,
    claimed: Claimed,
    channels: dict[str, Channel | None],
    contents: dict[tuple[int, str], ReportContent],
    result: OutboxResult,
) -> None:
    family = "email" if claimed.channel == "email" else "slack"
    try:
        channel = channels[family]
        if channel is None:
            raise TransientDeliveryError("Slack is not configured (SLACK_BOT_TOKEN)")
        key = (claimed.request_id, family)
        if key not in contents:
            contents[key] = await asyncio.to_thread(
                load_content, runtime, claimed.request_id, family
            )
        await channel.send(
            Outgoing(claimed.delivery_id, claimed.channel, claimed.recipient, contents[key])
        )
    except DeliveryError as exc:
        await _after_failure(runtime, claimed, exc, result)
        return
    except Exception as exc:
        # A bug or an unreadable file must not strand the row in "sending": retry it.
        logger.exception("delivery %s failed unexpectedly", claimed.delivery_id)
        await _after_failure(
            runtime, claimed, TransientDeliveryError(f"internal error: {exc}"), result
        )
        return
    await asyncio.to_thread(record_sent, runtime, claimed.delivery_id, runtime.clock())
    result.sent += 1


async def _after_failure(
    runtime: Runtime, claimed: Claimed, exc: DeliveryError, result: OutboxResult
) -> None:
    """Schedule a retry of a transient failure within the deadline; give up otherwise."""
    if isinstance(exc, TransientDeliveryError):
        now = runtime.clock()
        retry_at = now + runtime.retry.delay(claimed.attempts, exc.retry_after)
        if retry_at <= claimed.deadline_at:
            logger.info("delivery %s will be retried: %s", claimed.delivery_id, exc)
            await asyncio.to_thread(
                record_failure, runtime, claimed.delivery_id, str(exc), retry_at
            )
            result.retried += 1
            return
        reason = f"{exc} (gave up after {claimed.attempts} attempts)"
    else:
        reason = str(exc)
    await _give_up(runtime, claimed, reason)
    result.failed += 1


async def _give_up(runtime: Runtime, claimed: Claimed, reason: str) -> None:
    logger.warning("delivery %s failed: %s", claimed.delivery_id, reason)
    await asyncio.to_thread(record_failure, runtime, claimed.delivery_id, reason, None)
    name = await asyncio.to_thread(_flow_name, runtime, claimed.request_id)
    await notify_owner(
        runtime,
        claimed.owner,
        f"The campaign report for “{name}” could not be delivered to "
        f"{_describe(claimed)}: {reason}",
    )


async def run_outbox_once(runtime: Runtime, only: Collection[int] | None = None) -> OutboxResult:
    """Render pending requests, then send every delivery that is due now.

    ``only`` limits the pass to those report requests (a test send from the CLI).
    """
    result = OutboxResult()
    await _render_pending(runtime, result, only)
    email = runtime.email_channel()
    channels: dict[str, Channel | None] = {"email": email, "slack": runtime.slack_channel()}
    contents: dict[tuple[int, str], ReportContent] = {}
    try:
        while True:
            batch = await asyncio.to_thread(claim_due, runtime, runtime.clock(), runtime.batch_size)
            if not batch:
                break
            # One recipient's failure is recorded and the loop goes on to the next.
            for claimed in batch:
                await _send_one(runtime, claimed, channels, contents, result)
    finally:
        await email.close()
    return result
