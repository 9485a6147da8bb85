"""``alerts list`` and ``alerts check``: alerts from the terminal (cron-less deployments, tests).

``alerts check`` does what the scheduler's alert job does every ``ALERT_INTERVAL`` seconds —
judge every alert, record what fired or resolved with its messages — then delivers those
messages now through the outbox, as ``subscriptions run-now`` does, and prints each
recipient's outcome.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
import typer
from rich.table import Table
from sqlmodel import Session

from bot.cli.common import CliError, engine_for, errors, out, settings
from bot.slack import build_web_client, slack_enabled
from bot.wiring import build_runtime
from reports.alerts import alert_summaries
from scheduler.alerts import check_alerts
from scheduler.outbox import run_outbox_once
from store.models import Delivery, utcnow


def alerts_list() -> None:
    """List active alerts: id, workspace, scope, condition, recipients, state per flow."""
    with errors():
        engine = engine_for(settings(), create=False)
        now = utcnow()
        table = Table("ID", "Workspace", "Scope", "Condition", "Recipients", "State per flow")
        with Session(engine) as session:
            for alert in alert_summaries(session):
                states = [
                    f"{s.flow} ({s.bot_id}/{s.workflow_id}): {s.state} at {s.value}"
                    + (f", since {s.changed_at:%Y-%m-%d %H:%M} UTC" if s.changed_at else "")
                    + (" (muted)" if s.muted_until is not None and s.muted_until > now else "")
                    for s in alert.states
                ]
                table.add_row(
                    str(alert.id),
                    alert.team_id,
                    alert.scope,
                    alert.condition,
                    ", ".join(alert.recipients),
                    "\n".join(states) or "not judged yet",
                )
        if table.row_count:
            out.print(table)
        else:
            out.print("No active alerts.", highlight=False)


def alerts_check() -> None:
    """Judge every alert now: one line per alert and flow, then send what fired or resolved."""
    with errors():
        config = settings()
        engine = engine_for(config)
        client = build_web_client(config) if slack_enabled(config) else None
        runtime = build_runtime(config, engine, client)
        check = check_alerts(runtime, utcnow())
        for line in check.lines:
            typer.echo(line.text())
        if not check.lines:
            typer.echo("No alert watches a live or scheduled flow.")
        if not check.events:
            return
        asyncio.run(run_outbox_once(runtime, only_alerts=check.events))
        with Session(engine) as session:
            rows = session.exec(
                sa.select(Delivery)
                .where(Delivery.alert_event_id.in_(check.events))  # type: ignore[union-attr]
                .order_by(Delivery.id)  # type: ignore[arg-type]
            ).scalars()
            failed = waiting = 0
            for row in rows:
                note = f" ({row.last_error})" if row.last_error else ""
                typer.echo(f"{row.alert_event_id} {row.channel} {row.recipient}: {row.state}{note}")
                failed += row.state == "failed"
                waiting += row.state not in ("sent", "failed")
        if failed or waiting:
            parts = [f"{failed} alert message(s) could not be delivered"] if failed else []
            if waiting:
                parts.append(f"{waiting} not sent yet (the scheduler retries them)")
            raise CliError("; ".join(parts))
