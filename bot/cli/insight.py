"""``timeline`` and ``compare``: a flow over time, and flows side by side."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from sqlmodel import Session

from bot.cli.common import CliError, engine_for, errors, out, settings
from bot.cli.console import render_comparison, render_timeline
from bot.cli.reports import FlowArgument, channel_option
from reports.buckets import BUCKETS
from reports.compare import CompareError, compare_flows
from reports.flows import find_flow
from reports.kpis import compute_timeline
from store.models import utcnow


def timeline(
    flow: FlowArgument,
    bucket: Annotated[
        str, typer.Option(help="hour or day, aligned in REPORT_TIMEZONE.", show_default=True)
    ] = "hour",
    channel: Annotated[str | None, typer.Option(help="Only this channel, e.g. whatsapp.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline JSON.")] = False,
) -> None:
    """Print a flow's sent, delivered, read, failed, clicks and goals per hour or day."""
    with errors():
        chosen = bucket.strip().lower()
        if chosen not in BUCKETS:
            raise CliError(f"--bucket: {bucket!r} is not a bucket; use hour or day")
        config = settings()
        engine = engine_for(config, create=False)  # read only: no new empty store
        with Session(engine) as session:
            found = find_flow(session, flow)
            conn = session.connection()
            checked = channel_option(conn, found, channel)
            result = compute_timeline(
                conn,
                found,
                zone=config.report_zone,
                bucket=chosen,  # type: ignore[arg-type]
                channel=checked,
                now=utcnow(),
            )
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        else:
            out.print(render_timeline(result, config.report_zone))


def compare(
    flows: Annotated[
        list[str], typer.Argument(help="2 to 5 flows: workflow ids, BOT/WORKFLOW or names.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison JSON.")] = False,
) -> None:
    """Print 2 to 5 flows' KPIs and rates side by side, with the difference to the first."""
    with errors():
        config = settings()
        engine = engine_for(config, create=False)  # read only: no new empty store
        with Session(engine) as session:
            found = [find_flow(session, query) for query in flows]
            try:
                result = compare_flows(session.connection(), found, now=utcnow())
            except CompareError as exc:
                raise CliError(str(exc)) from None
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        else:
            out.print(render_comparison(result, config.report_zone))
