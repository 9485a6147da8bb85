"""``import``, ``demo`` and ``db upgrade``: getting data and the schema into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from bot.cli.common import CliError, engine_for, err, errors, out, say, settings
from bot.cli.console import render_report
from bot.cli.reports import flow_report, write_exports
from reports.files import REPORT_FORMATS
from store.db import create_db_engine, describe_open_error, upgrade_database
from store.demo import DEFAULT_MESSAGES, DEFAULT_SEED, DEMO_WORKFLOW, generate_demo_events
from store.events import parse_event
from store.importer import ImportFailed, import_file
from store.ingest import ingest_events


def import_(
    files: Annotated[
        list[Path], typer.Argument(help=".ndjson/.jsonl event files or .csv exports.")
    ],
) -> None:
    """Import events (NDJSON) and message exports (CSV); a file with errors imports nothing."""
    with errors():
        for path in files:
            if not path.is_file():
                raise CliError(f"{path}: no such file")
        engine = engine_for(settings())
        summary = Table("File", "Accepted", "Duplicates", "Flows created", title="Imported")
        failed = 0
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                try:
                    report = import_file(
                        engine, path, progress=lambda n, t=task: progress.advance(t, n)
                    )
                except ImportFailed as exc:
                    failed += 1
                    for error in exc.errors:
                        say(str(error))
                    say(f"error: {exc}")
                    continue
                except ValueError as exc:
                    failed += 1
                    say(f"error: {exc}")
                    continue
                result = report.result
                summary.add_row(
                    path.name,
                    f"{result.accepted:,}",
                    f"{result.duplicates:,}",
                    f"{result.flows_created:,}",
                )
        if summary.row_count:
            out.print(summary)
        if failed:
            raise CliError(f"{failed} of {len(files)} file(s) had errors and were not imported")


def demo(
    messages: Annotated[int, typer.Option(min=1, max=5_000_000)] = DEFAULT_MESSAGES,
    seed: Annotated[int, typer.Option()] = DEFAULT_SEED,
) -> None:
    """Load deterministic demo data and print the demo flow's report."""
    with errors():
        config = settings()
        engine = engine_for(config)
        events = (
            (f"demo event {number}", parse_event(data, f"demo event {number}"))
            for number, data in enumerate(generate_demo_events(messages, seed), start=1)
        )
        with Progress(
            TextColumn("Loading demo data"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("demo", total=None)
            result = ingest_events(engine, events, on_batch=lambda n: progress.advance(task, n))
        store = sa.engine.make_url(engine.url).render_as_string(hide_password=True)
        say(
            f"Demo data: {result.accepted:,} events accepted, {result.duplicates:,} already "
            f"loaded, into {store}"
        )
        out.print(render_report(flow_report(engine, DEMO_WORKFLOW, None), config.report_zone))
        for path in write_exports(config, engine, DEMO_WORKFLOW, REPORT_FORMATS, None):
            typer.echo(f"Wrote {path}")  # one line, never wrapped: scripts read it


def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    with errors():
        engine = create_db_engine(settings().DATABASE_URL)
        try:
            before = upgrade_database(engine)
        except sa.exc.DBAPIError as exc:
            raise CliError(f"DATABASE_URL: {describe_open_error(engine, exc)}") from None
        out.print(f"Schema up to date (was {before or 'empty'}).", highlight=False)
