"""``subscriptions list`` and ``subscriptions run-now``: scheduled digests from the terminal."""

from __future__ import annotations

import asyncio
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table
from sqlmodel import Session

from bot.cli.common import CliError, engine_for, errors, out, settings
from bot.slack import build_web_client, slack_enabled
from bot.wiring import build_runtime
from reports.schedules import next_run
from scheduler.outbox import run_outbox_once
from scheduler.subscriptions import queue_digest
from store.models import Delivery, Flow, Subscription, utcnow
from store.subscriptions import active_subscriptions


def subscriptions_list() -> None:
    """List active subscriptions: id, workspace, flow, schedule, recipients, next digest."""
    with errors():
        engine = engine_for(settings(), create=False)
        table = Table("ID", "Workspace", "Flow", "Schedule", "Recipients", "Next digest")
        with Session(engine) as session:
            for sub in active_subscriptions(session):
                flow = session.get(Flow, sub.flow_id) if sub.flow_id else None
                upcoming = next_run(sub, utcnow())
                table.add_row(
                    str(sub.id),
                    sub.team_id,
                    flow.name if flow is not None else "all flows",
                    f"{sub.schedule} ({sub.timezone})"
                    + (" if changed" if sub.skip_unchanged else ""),
                    ", ".join(sub.recipients),
                    # In the subscription's own zone, as its schedule reads, named.
                    f"{upcoming:%Y-%m-%d %H:%M} {sub.timezone}" if upcoming else "never",
                )
        if table.row_count:
            out.print(table)
        else:
            out.print("No active subscriptions.", highlight=False)


def subscriptions_run_now(
    subscription_id: Annotated[int, typer.Argument(help="The id `subscriptions list` shows.")],
) -> None:
    """Send a subscription's digest now (a test send; the next scheduled one still compares
    with the previous scheduled digest)."""
    with errors():
        config = settings()
        engine = engine_for(config, create=False)
        with Session(engine) as session:
            sub = session.get(Subscription, subscription_id)
            if sub is None or not sub.active:
                raise CliError(f"no active subscription {subscription_id}")
        client = build_web_client(config) if slack_enabled(config) else None
        runtime = build_runtime(config, engine, client)
        queued = queue_digest(runtime, subscription_id, force=True)
        if not queued:
            raise CliError(f"subscription {subscription_id} covers no reportable flow")
        asyncio.run(run_outbox_once(runtime, only=queued))
        with Session(engine) as session:
            rows = session.exec(
                sa.select(Delivery).where(Delivery.request_id.in_(queued)).order_by(Delivery.id)  # type: ignore[attr-defined]
            ).scalars()
            problems = 0
            for row in rows:
                note = f" ({row.last_error})" if row.last_error else ""
                typer.echo(f"{row.channel} {row.recipient}: {row.state}{note}")
                problems += row.state != "sent"
        if problems:
            raise CliError(f"{problems} delivery(ies) not sent yet; the scheduler retries them")
