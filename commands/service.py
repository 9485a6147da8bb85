"""The store side of every answer: who may see what, which flow, which KPIs → a message.

These functions are synchronous (SQLAlchemy); listeners run them on ``CommandDeps.run``'s
thread after ``ack()`` so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.models.blocks import Block
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from commands.blocks import (
    build_flow_list_blocks,
    build_no_grants_blocks,
    build_not_reportable_blocks,
    build_notice_blocks,
    build_unknown_channel_blocks,
    lookup_failure_message,
    to_message,
)
from commands.report_blocks import (
    build_channel_stats_blocks,
    build_summary_blocks,
    summary_text,
)
from commands.requests import ListFlows, ShowReport, Target
from reports.flows import (
    FlowLookupError,
    find_flow,
    recent_flows,
)
from reports.kpis import compute_kpis, known_channels
from store.models import Flow, WorkspaceGrant, utcnow
from store.vocabulary import REPORTABLE_FLOW_STATUSES, normalize_source

View = Literal["summary", "stats", "share"]


class SlackResponseError(Exception):
    """Slack did not accept a message sent to a ``response_url``."""


@dataclass(frozen=True)
class CommandDeps:
    """What listeners need: the store, the report time zone and how to answer Slack."""

    engine: Engine
    zone: ZoneInfo
    retry_handlers: list[AsyncRetryHandler] = field(default_factory=list)
    # Few threads on purpose: report work holds the GIL, and every extra thread delays the
    # event loop that must send other users' acks within Slack's 3 seconds.
    # (Measured with bench/bench_slack.py: 1 thread gave the best ack and summary times.)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
    )

    def __deepcopy__(self, memo: dict[int, Any]) -> CommandDeps:
        # Bolt deep-copies the request context for lazy listeners; these are process-wide.
        return self

    async def run(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run blocking store work off the event loop, on the report threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def respond(self, response_url: str, message: dict[str, Any]) -> None:
        """POST ``message`` to a ``response_url``, retrying 429s and connection errors."""
        client = AsyncWebhookClient(url=response_url, retry_handlers=self.retry_handlers)
        response = await client.send_dict(message)
        if response.status_code != 200:
            raise SlackResponseError(
                f"response_url answered {response.status_code}: {response.body[:200]}"
            )


def granted_bot_ids(session: Session, team_id: str) -> set[str]:
    """The bots whose flows the Slack workspace ``team_id`` may see."""
    rows = session.exec(select(WorkspaceGrant.bot_id).where(WorkspaceGrant.team_id == team_id))
    return set(rows)


def _notice(blocks: list[Block], text: str) -> dict[str, Any]:
    return to_message(blocks, text, response_type="ephemeral")


def _channel_problem(session: Session, flow: Flow, channel: str | None) -> dict[str, Any] | None:
    """A message when ``channel`` is not a channel of ``flow``, else None."""
    if channel is None:
        return None
    try:
        normalized = normalize_source(channel)
    except ValueError:
        normalized = None
    channels = known_channels(session.connection(), flow)
    if normalized in channels:
        return None
    return _notice(build_unknown_channel_blocks(flow, channel, channels), "Unknown channel.")


def _render(
    session: Session,
    flow: Flow,
    channel: str | None,
    zone: ZoneInfo,
    now: datetime,
    view: View,
    user_id: str | None = None,
) -> dict[str, Any]:
    assert flow.id is not None
    conn = session.connection()
    if channel is not None:
        channel = normalize_source(channel)
    report = compute_kpis(conn, flow, channel=channel, now=now)
    if view == "stats":
        blocks = build_channel_stats_blocks(report, flow_id=flow.id, zone=zone)
        return to_message(blocks, summary_text(report), response_type="ephemeral")
    channels = known_channels(conn, flow)
    shared_by = user_id if view == "share" else None
    blocks = build_summary_blocks(
        report, flow_id=flow.id, channels=channels, zone=zone, shared_by=shared_by
    )
    response_type = "in_channel" if view == "share" else "ephemeral"
    return to_message(blocks, summary_text(report), response_type=response_type)


def answer_command(
    deps: CommandDeps, team_id: str, request: ListFlows | ShowReport, now: datetime | None = None
) -> dict[str, Any]:
    """The message answering a ``list`` or ``<flow> [channel:<c>]`` command."""
    now = now or utcnow()
    with Session(deps.engine) as session:
        bot_ids = granted_bot_ids(session, team_id)
        if not bot_ids:
            return _notice(build_no_grants_blocks(team_id), "No access yet.")
        if isinstance(request, ListFlows):
            flows = recent_flows(session, bot_ids=bot_ids)
            return _notice(build_flow_list_blocks(flows, now), "Recent flows")
        try:
            flow = find_flow(session, request.flow, bot_ids=bot_ids)
        except FlowLookupError as exc:
            return lookup_failure_message(exc)
        problem = _channel_problem(session, flow, request.channel)
        if problem is not None:
            return problem
        return _render(session, flow, request.channel, deps.zone, now, "summary")


def answer_target(
    deps: CommandDeps,
    team_id: str,
    target: Target,
    view: View,
    *,
    user_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The message for a button or menu choice: a summary, the channel view or a share."""
    now = now or utcnow()
    with Session(deps.engine) as session:
        bot_ids = granted_bot_ids(session, team_id)
        if not bot_ids:
            return _notice(build_no_grants_blocks(team_id), "No access yet.")
        flow = session.get(Flow, target.flow_id)
        if flow is None or flow.bot_id not in bot_ids:
            # Same answer for "gone" and "not yours": never confirm another tenant's flow.
            message = "That flow is no longer available to this workspace."
            return _notice(build_notice_blocks(message), message)
        if flow.status not in REPORTABLE_FLOW_STATUSES:
            return _notice(build_not_reportable_blocks(flow), "No report for that flow.")
        problem = _channel_problem(session, flow, target.channel)
        if problem is not None:
            return problem
        return _render(session, flow, target.channel, deps.zone, now, view, user_id)
