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
from sqlmodel import Session

from reports.content import (
    Attachment,
    Content,
    DeliveryFailed,
    Digest,
    Link,
    RenderFailed,
    ReportContent,
)
from reports.kpis import FlowReport, Timeline
from scheduler.delivery.base import (
    Channel,
    DeliveryError,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from scheduler.links import expiry, link_url, make_token
from scheduler.requests import fail_request, pending_request_ids, render_request, request_owners
from scheduler.runtime import Runtime
from store.db import write_transaction
from store.models import Delivery, ReportRequest, Subscription

logger = logging.getLogger("campaign_report.outbox")
_table = Delivery.__table__
MAX_ERROR = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def load_content(runtime: Runtime, request_id: int) -> ReportContent:
    """The channel-neutral content of a rendered request: KPIs, files, the CSV's link."""
    config = runtime.config
    now = runtime.clock()
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id)
        if request is None or request.state != "rendered" or not request.kpis:
            raise PermanentDeliveryError("the report was never rendered")
        digest = None
        if request.kind == "digest" and request.subscription_id is not None:
            sub = session.get(Subscription, request.subscription_id)
            digest = Digest(
                subscription_id=request.subscription_id,
                schedule=sub.schedule if sub is not None else "digest",
                created_by=sub.created_by if sub is not None else "someone",
            )
    directory = config.reports_dir
    pdf = Attachment(directory / request.pdf_file, "application/pdf") if request.pdf_file else None
    csv = Attachment(directory / request.csv_file, "text/csv") if request.csv_file else None
    xlsx = Attachment(directory / request.xlsx_file, XLSX_TYPE) if request.xlsx_file else None
    for attachment in (pdf, csv, xlsx):
        if attachment is not None and not attachment.path.is_file():
            raise PermanentDeliveryError(f"the report file {attachment.filename} is gone")

    def link(attachment: Attachment | None) -> Link | None:
        if attachment is None or config.secret is None:
            return None
        url = link_url(config.public_base_url, make_token(config.secret, attachment.filename))
        return Link(attachment.filename, url, expiry(now, config.link_ttl))

    return ReportContent(
        request_id=request_id,
        report=FlowReport.model_validate(request.kpis),
        generated_at=now,
        zone=config.zone,
        digest=digest,
        previous=request.previous_kpis,
        pdf=pdf,
        csv=csv,
        csv_link=link(csv),
        xlsx=xlsx,
        xlsx_link=link(xlsx),
        timeline=Timeline.model_validate(request.timeline) if request.timeline else None,
    )


def _flow_name(runtime: Runtime, request_id: int) -> str:
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id)
        if request is not None and request.kpis:
            return str(request.kpis["flow"]["name"])
    return "a flow"


async def notify_owner(runtime: Runtime, owner: str | None, notice: Content) -> None:
    """Tell the owner of a delivery by Slack DM that it failed (logged if Slack is off)."""
    slack = runtime.channel_for("slack_user")
    if owner is None or slack is None:
        logger.warning("delivery failure not told to anyone: %s", notice)
        return
    try:
        await slack.send(Outgoing(None, "slack_user", owner, notice))
    except Exception:
        logger.exception("could not tell %s about a failed delivery", owner)


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
            owners = await asyncio.to_thread(request_owners, runtime, request_id)
            name = await asyncio.to_thread(_flow_name, runtime, request_id)
            for owner in sorted(owners) or [None]:
                await notify_owner(runtime, owner, RenderFailed(name))


async def _send_one(
    runtime: Runtime,
    claimed: Claimed,
    contents: dict[int, ReportContent],
    result: OutboxResult,
) -> None:
    try:
        channel = runtime.channel_for(claimed.channel)
        if channel is None:
            raise TransientDeliveryError("Slack is not configured (SLACK_BOT_TOKEN)")
        if claimed.request_id not in contents:
            contents[claimed.request_id] = await asyncio.to_thread(
                load_content, runtime, claimed.request_id
            )
        content = contents[claimed.request_id]
        await channel.send(
            Outgoing(claimed.delivery_id, claimed.channel, claimed.recipient, content)
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
    notice = DeliveryFailed(name, claimed.channel, claimed.recipient, reason)
    await notify_owner(runtime, claimed.owner, notice)


async def run_outbox_once(runtime: Runtime, only: Collection[int] | None = None) -> OutboxResult:
    """Render pending requests, then send every delivery that is due now.

    ``only`` limits the pass to those report requests (a test send from the CLI).
    """
    result = OutboxResult()
    await _render_pending(runtime, result, only)
    contents: dict[int, ReportContent] = {}
    try:
        while True:
            batch = await asyncio.to_thread(claim_due, runtime, runtime.clock(), runtime.batch_size)
            if not batch:
                break
            # One recipient's failure is recorded and the loop goes on to the next.
            for claimed in batch:
                await _send_one(runtime, claimed, contents, result)
    finally:
        channels: list[Channel] = list({id(c): c for c in runtime.channels.values()}.values())
        for channel in channels:
            await channel.close()
    return result


async def outbox_pass(runtime: Runtime) -> bool:
    """One pass of the outbox; True when it did something (the drain goes on)."""
    result = await run_outbox_once(runtime)
    return bool(result.rendered or result.sent or result.failed)
