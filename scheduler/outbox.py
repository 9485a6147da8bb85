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

A delivery carries a report request's files (``request_id``) or an alert's message
(``alert_event_id``, written with the alert's state change by ``store.alerts``, already
``pending``); both are claimed, sent and recorded by the same rules.

Sending never lets one recipient hold up another: Slack and email are separate *lanes*
(each claims and sends its own kind, so a hung mail server cannot delay a Slack DM), and
within a lane up to ``Runtime.parallel_sends`` recipients are sent to at once. Each send
still records its own outcome right after the channel answered. Every outcome is one log
line (``event=delivery``) with the delivery, channel, recipient, outcome and reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from reports.content import (
    AlertContent,
    Attachment,
    Content,
    DeliveryFailed,
    Digest,
    Link,
    RenderFailed,
    ReportContent,
)
from reports.kpis import FlowReport, Timeline
from scheduler.alerts import load_alert_content
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
# Deliveries of one lane never wait for another lane's (a hung mail server, a slow Slack).
LANES: dict[str, tuple[str, ...]] = {
    "slack": ("slack_user", "slack_channel"),
    "email": ("email",),
}


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
    request_id: int | None
    channel: str
    recipient: str
    owner: str | None
    attempts: int
    deadline_at: datetime
    alert_event_id: str | None = None


def recover_interrupted(runtime: Runtime) -> int:
    """Put deliveries a dead runner left in ``sending`` back to ``pending``; how many."""
    with write_transaction(runtime.engine) as conn:
        return conn.execute(
            sa.update(_table).where(_table.c.state == "sending").values(state="pending")
        ).rowcount


def claim_due(
    runtime: Runtime,
    now: datetime,
    limit: int,
    only: Collection[int] | None = None,
    kinds: Collection[str] | None = None,
    only_alerts: Collection[str] | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, oldest first (committed before any send).

    ``only`` / ``only_alerts`` restrict the claim to the deliveries of those report requests
    / alert events (either given: nothing else), ``kinds`` to those channel kinds (a lane).
    """
    claimed: list[Claimed] = []
    query = sa.select(_table).where(_table.c.state == "pending", _table.c.next_attempt_at <= now)
    if only is not None or only_alerts is not None:
        query = query.where(
            sa.or_(
                _table.c.request_id.in_(list(only or ())),
                _table.c.alert_event_id.in_(list(only_alerts or ())),
            )
        )
    if kinds is not None:
        query = query.where(_table.c.channel.in_(list(kinds)))
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
                        row.alert_event_id,
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
        try:
            token = make_token(config.secret, attachment.filename)
        except ValueError as exc:  # no retry will make another name: say so at once
            raise PermanentDeliveryError(f"no download link can be made: {exc}") from None
        url = link_url(config.public_base_url, token)
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


def _flow_name(runtime: Runtime, request_id: int | None) -> str:
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id) if request_id is not None else None
        if request is not None and request.kpis:
            return str(request.kpis["flow"]["name"])
    return "a flow"


def _notice_flow_name(runtime: Runtime, claimed: Claimed) -> str:
    """The flow a failed delivery was about, for its owner's notice."""
    if claimed.alert_event_id is None:
        return _flow_name(runtime, claimed.request_id)
    try:
        return load_alert_content(runtime, claimed.alert_event_id).flow_name
    except PermanentDeliveryError:
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


Contents = dict[int | str, "asyncio.Future[ReportContent | AlertContent]"]


def _content(
    runtime: Runtime, claimed: Claimed, contents: Contents
) -> asyncio.Future[ReportContent | AlertContent]:
    """The content of a request (or alert event), loaded once per pass however many sends
    wait for it."""
    key: int | str | None = claimed.alert_event_id or claimed.request_id
    assert key is not None, "a delivery names a report request or an alert event"
    if key not in contents:
        load: Any = load_content if isinstance(key, int) else load_alert_content
        contents[key] = asyncio.ensure_future(asyncio.to_thread(load, runtime, key))
    return contents[key]


def _log_outcome(claimed: Claimed, outcome: str, level: int, error: str | None = None,
                 **fields: Any) -> None:  # fmt: skip
    """One structured line per delivery outcome (``sent``, ``retry``, ``failed``)."""
    logger.log(
        level,
        "delivery %s %s: %s to %s%s",
        claimed.delivery_id,
        outcome,
        claimed.channel,
        claimed.recipient,
        f" ({error})" if error else "",
        extra={
            "event": "delivery",
            "outcome": outcome,
            "delivery_id": claimed.delivery_id,
            "request_id": claimed.request_id,
            "alert_event_id": claimed.alert_event_id,
            "channel": claimed.channel,
            "recipient": claimed.recipient,
            "attempts": claimed.attempts,
            "error": error,
            **fields,
        },
    )


async def _send_one(
    runtime: Runtime, claimed: Claimed, contents: Contents, result: OutboxResult
) -> None:
    try:
        channel = runtime.channel_for(claimed.channel)
        if channel is None:
            raise TransientDeliveryError("Slack is not configured (SLACK_BOT_TOKEN)")
        content = await _content(runtime, claimed, contents)
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
    _log_outcome(claimed, "sent", logging.INFO)


async def _after_failure(
    runtime: Runtime, claimed: Claimed, exc: DeliveryError, result: OutboxResult
) -> None:
    """Schedule a retry of a transient failure within the deadline; give up otherwise."""
    if isinstance(exc, TransientDeliveryError):
        now = runtime.clock()
        retry_at = now + runtime.retry.delay(claimed.attempts, exc.retry_after)
        if retry_at <= claimed.deadline_at:
            await asyncio.to_thread(
                record_failure, runtime, claimed.delivery_id, str(exc), retry_at
            )
            result.retried += 1
            _log_outcome(claimed, "retry", logging.INFO, str(exc), retry_at=retry_at.isoformat())
            return
        reason = f"{exc} (gave up after {claimed.attempts} attempts)"
    else:
        reason = str(exc)
    await _give_up(runtime, claimed, reason)
    result.failed += 1


async def _give_up(runtime: Runtime, claimed: Claimed, reason: str) -> None:
    await asyncio.to_thread(record_failure, runtime, claimed.delivery_id, reason, None)
    _log_outcome(claimed, "failed", logging.WARNING, reason)
    name = await asyncio.to_thread(_notice_flow_name, runtime, claimed)
    what = "campaign report" if claimed.alert_event_id is None else "alert"
    notice = DeliveryFailed(name, claimed.channel, claimed.recipient, reason, what)
    await notify_owner(runtime, claimed.owner, notice)


async def _run_lane(
    runtime: Runtime,
    kinds: tuple[str, ...],
    only: Collection[int] | None,
    contents: Contents,
    result: OutboxResult,
    only_alerts: Collection[str] | None = None,
) -> None:
    """Claim and send the due deliveries of ``kinds``, ``parallel_sends`` at a time."""
    slots = asyncio.Semaphore(max(1, runtime.parallel_sends))

    async def send(claimed: Claimed) -> None:
        async with slots:
            await _send_one(runtime, claimed, contents, result)

    # What is due when the lane starts: a delivery put back for a retry during this pass
    # waits for a later pass instead of being tried again at once.
    due_by = runtime.clock()
    while not runtime.drain.stopping:
        batch = await asyncio.to_thread(
            claim_due, runtime, due_by, runtime.batch_size, only, kinds, only_alerts
        )
        if not batch:
            return
        # One recipient's failure is recorded and the others go on.
        async with asyncio.TaskGroup() as group:
            for claimed in batch:
                group.create_task(send(claimed))


async def run_outbox_once(
    runtime: Runtime,
    only: Collection[int] | None = None,
    only_alerts: Collection[str] | None = None,
) -> OutboxResult:
    """Render pending requests, then send every delivery that is due now.

    ``only`` limits the pass to those report requests (a test send from the CLI), and
    ``only_alerts`` to those alert events (``alerts check``): given either, it renders and
    sends nothing else.
    """
    result = OutboxResult()
    restricted = only is not None or only_alerts is not None
    await _render_pending(runtime, result, (only or ()) if restricted else None)
    contents: Contents = {}
    try:
        # Each lane runs to its end even when the other fails (its sends are in flight).
        outcomes = await asyncio.gather(
            *(
                _run_lane(runtime, kinds, only, contents, result, only_alerts)
                for kinds in LANES.values()
            ),
            return_exceptions=True,
        )
    finally:
        for pending in contents.values():
            if not pending.done():
                pending.cancel()
        channels: list[Channel] = list({id(c): c for c in runtime.channels.values()}.values())
        for channel in channels:
            await channel.close()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    if result.rendered or result.sent or result.retried or result.failed:
        logger.info(
            "outbox pass: %s rendered, %s sent, %s to retry, %s failed",
            result.rendered,
            result.sent,
            result.retried,
            result.failed,
            extra={"event": "outbox", **asdict(result)},
        )
    return result


async def outbox_pass(runtime: Runtime) -> bool:
    """One pass of the outbox; True when it did something (the drain goes on)."""
    result = await run_outbox_once(runtime)
    return bool(result.rendered or result.sent or result.failed)
