"""``kpis`` and ``export``: a flow's report on the terminal, as JSON, or as files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.cli.common import CliError, engine_for, err, errors, out, settings
from bot.cli.console import render_report
from bot.settings import Settings
from reports import files
from reports.access import InvalidChannel, check_channel
from reports.csv_export import expected_rows
from reports.files import render_report_files, report_basename
from reports.flows import find_flow
from reports.kpis import FlowReport, compute_kpis
from store.models import Flow, utcnow

FlowArgument = Annotated[str, typer.Argument(help="Workflow id, BOT_ID/WORKFLOW_ID or flow name.")]


def channel_option(conn: Connection, flow: Flow, channel: str | None) -> str | None:
    """``--channel``, normalized; a ``CliError`` naming the option when it is no channel."""
    try:
        return check_channel(conn, flow, channel)
    except InvalidChannel as exc:
        raise CliError(f"--channel: {exc.reason}") from None


def flow_report(engine: Engine, flow_query: str, channel: str | None) -> FlowReport:
    """The KPI report of the flow ``flow_query`` names, optionally for one channel."""
    with Session(engine) as session:
        flow = find_flow(session, flow_query)
        conn = session.connection()
        checked = channel_option(conn, flow, channel)
        return compute_kpis(conn, flow, channel=checked, now=utcnow())


def kpis(
    flow: FlowArgument,
    channel: Annotated[str | None, typer.Option(help="Only this channel, e.g. whatsapp.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPI JSON.")] = False,
) -> None:
    """Print a flow's KPIs and channel statistics."""
    with errors():
        config = settings()
        report = flow_report(engine_for(config, create=False), flow, channel)
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
        else:
            out.print(render_report(report, config.report_zone))


def parse_formats(text: str) -> tuple[str, ...]:
    """``csv,pdf,xlsx`` → ``("csv", "pdf", "xlsx")``; an unknown format is a ``CliError``."""
    try:
        return files.parse_formats(text)
    except ValueError as exc:
        raise CliError(f"--format: {exc}") from None


def write_exports(
    config: Settings,
    engine: Engine,
    flow_query: str,
    formats: tuple[str, ...],
    out_dir: Path | None,
) -> list[Path]:
    """Write the flow's CSV, PDF and/or XLSX into ``out_dir`` (default REPORTS_DIR); their
    paths."""
    directory = out_dir if out_dir is not None else config.REPORTS_DIR
    if directory.exists() and not directory.is_dir():
        raise CliError(f"--out: {directory} is not a directory")
    now = utcnow()
    with Session(engine) as session:
        flow = find_flow(session, flow_query)
        report = compute_kpis(session.connection(), flow, now=now)
        total = expected_rows(session.connection(), flow)
    progress = Progress(
        TextColumn("Exporting messages"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    try:
        with progress:
            tables = sum(f in formats for f in ("csv", "xlsx"))  # each streams every message
            task = progress.add_task("rows", total=total * tables or None, visible=bool(tables))
            files = render_report_files(
                engine,
                flow,
                report,
                directory,
                report_basename(flow, now),
                zone=config.report_zone,
                page_size=config.REPORT_PAGE_SIZE,
                formats=formats,
                progress=lambda n: progress.advance(task, n),
            )
    except OSError as exc:
        raise CliError(f"cannot write the report to {directory}: {exc.strerror or exc}") from None
    return files.paths


def export(
    flow: FlowArgument,
    formats: Annotated[
        str,
        typer.Option(
            "--format", help="csv, pdf, xlsx, or a list: csv,pdf,xlsx.", show_default=True
        ),
    ] = "csv,pdf",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Directory for the files [default: REPORTS_DIR].")
    ] = None,
) -> None:
    """Write a flow's full report: the CSV and/or XLSX of every message, the PDF with charts."""
    with errors():
        chosen = parse_formats(formats)
        config = settings()
        for path in write_exports(config, engine_for(config, create=False), flow, chosen, out_dir):
            typer.echo(f"Wrote {path}")  # one line, never wrapped: scripts read it
