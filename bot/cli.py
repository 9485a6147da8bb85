"""``campaign-bot``: the command line (DESIGN.md, CLI contract).

Every command exits non-zero on failure with a one-line reason on stderr.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
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
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.console import render_report
from bot.settings import Settings, SettingsError, load_settings
from reports.csv_export import expected_rows, export_csv, report_basename
from reports.flows import FlowLookupError, find_flow
from reports.kpis import FlowReport, compute_kpis, known_channels
from reports.pdf import save_pdf
from store.db import DatabaseUrlError, create_db_engine, is_sqlite, is_up_to_date, upgrade_database
from store.demo import DEFAULT_MESSAGES, DEFAULT_SEED, DEMO_WORKFLOW, generate_demo_events
from store.events import EventError, parse_event
from store.importer import ImportFailed, import_file
from store.ingest import ingest_events
from store.models import Bot, WorkspaceGrant, utcnow
from store.vocabulary import normalize_source

app = typer.Typer(
    help="Flow campaign reports: KPIs, channel statistics, CSV and PDF, in Slack and by email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspace_app = typer.Typer(help="Which Slack workspaces see which bots.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
api_key_app = typer.Typer(help="Keys for the ingestion HTTP API.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")

out = Console()
err = Console(stderr=True)


TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")


class CliError(Exception):
    """A failure to report as one line on stderr."""


def _say(message: str) -> None:
    """One plain line on stderr: no markup, no wrapping (scripts read it)."""
    err.print(message, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn every expected failure into ``error: <one line>`` on stderr and exit status 1."""
    try:
        yield
    except (CliError, SettingsError, FlowLookupError, EventError, DatabaseUrlError) as exc:
        message = str(exc)
    except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
        message = f"the store refused a value: {str(exc.orig).splitlines()[0]}"
    except sa.exc.OperationalError as exc:
        message = f"database unavailable: {str(exc.orig).splitlines()[0]}"
    else:
        return
    _say(f"error: {message}")
    raise typer.Exit(1)


def _settings() -> Settings:
    return load_settings()


def _engine(settings: Settings, *, upgrade: bool = True) -> Engine:
    """The store's engine; a SQLite store is brought to the newest schema by itself."""
    engine = create_db_engine(settings.DATABASE_URL)
    if is_sqlite(engine) and upgrade:
        upgrade_database(engine)
    elif not is_up_to_date(engine):
        raise CliError("the database schema is not up to date; run `campaign-bot db upgrade`")
    return engine


def _report(engine: Engine, flow_query: str, channel: str | None) -> FlowReport:
    with Session(engine) as session:
        flow = find_flow(session, flow_query)
        conn = session.connection()
        if channel is not None:
            try:
                channel = normalize_source(channel)
            except ValueError as exc:
                raise CliError(f"--channel: {exc}") from None
            channels = known_channels(conn, flow)
            if channel not in channels:
                raise CliError(
                    f"flow {flow.name!r} has no channel {channel!r}; "
                    f"its channels: {', '.join(channels) or 'none'}"
                )
        return compute_kpis(conn, flow, channel=channel, now=utcnow())


@app.command()
def kpis(
    flow: Annotated[str, typer.Argument(help="Workflow id, BOT_ID/WORKFLOW_ID or flow name.")],
    channel: Annotated[str | None, typer.Option(help="Only this channel, e.g. whatsapp.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPI JSON.")] = False,
) -> None:
    """Print a flow's KPIs and channel statistics."""
    with _errors():
        settings = _settings()
        report = _report(_engine(settings), flow, channel)
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
        else:
            out.print(render_report(report, settings.report_zone))


@app.command("import")
def import_(
    files: Annotated[
        list[Path], typer.Argument(help=".ndjson/.jsonl event files or .csv exports.")
    ],
) -> None:
    """Import events (NDJSON) and message exports (CSV); a file with errors imports nothing."""
    with _errors():
        for path in files:
            if not path.is_file():
                raise CliError(f"{path}: no such file")
        engine = _engine(_settings())
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
                        _say(str(error))
                    _say(f"error: {exc}")
                    continue
                except ValueError as exc:
                    failed += 1
                    _say(f"error: {exc}")
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


@app.command()
def demo(
    messages: Annotated[int, typer.Option(min=1, max=5_000_000)] = DEFAULT_MESSAGES,
    seed: Annotated[int, typer.Option()] = DEFAULT_SEED,
) -> None:
    """Load deterministic demo data and print the demo flow's report."""
    with _errors():
        settings = _settings()
        engine = _engine(settings)
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
        _say(
            f"Demo data: {result.accepted:,} events accepted, {result.duplicates:,} already "
            f"loaded, into {store}"
        )
        out.print(render_report(_report(engine, DEMO_WORKFLOW, None), settings.report_zone))
        for path in _write_exports(settings, engine, DEMO_WORKFLOW, EXPORT_FORMATS, None):
            typer.echo(f"Wrote {path}")  # one line, never wrapped: scripts read it


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Web only: leave jobs and deliveries to others.")
    ] = False,
) -> None:
    """Run the HTTP server (health, Slack at /slack/events; Socket Mode with SLACK_APP_TOKEN)."""
    with _errors():
        import asyncio

        import uvicorn

        from bot.app import create_app
        from bot.slack import run_socket_mode, slack_enabled, socket_mode

        settings = _settings()
        if not slack_enabled(settings):
            err.print("note: SLACK_BOT_TOKEN is not set, so Slack is off", highlight=False)
        api = create_app(settings, _engine(settings), scheduler=not no_scheduler)
        server = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="info"))
        if not slack_enabled(settings) or not socket_mode(settings):
            server.run()
            return

        async def serve_with_socket_mode() -> None:
            socket = asyncio.create_task(run_socket_mode(settings, api.state.slack_app))
            try:
                await server.serve()
            finally:
                socket.cancel()

        asyncio.run(serve_with_socket_mode())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    with _errors():
        settings = _settings()
        engine = create_db_engine(settings.DATABASE_URL)
        before = upgrade_database(engine)
        out.print(f"Schema up to date (was {before or 'empty'}).", highlight=False)


@workspace_app.command("grant")
def workspace_grant(
    team_id: Annotated[str, typer.Argument(help="Slack team id, e.g. T0123ABCD.")],
    bot_id: Annotated[str, typer.Argument(help="The bot whose flows the workspace may see.")],
) -> None:
    """Let a Slack workspace see one bot's flows."""
    with _errors():
        if not TEAM_ID.match(team_id):
            raise CliError(f"TEAM_ID: {team_id[:40]!r} is not a Slack team id (like T0123ABCD)")
        engine = _engine(_settings())
        with Session(engine) as session:
            if session.get(Bot, bot_id) is None:
                raise CliError(f"unknown bot {bot_id!r}; import its flows first")
            if session.get(WorkspaceGrant, (team_id, bot_id)) is None:
                session.add(WorkspaceGrant(team_id=team_id, bot_id=bot_id))
                session.commit()
        out.print(f"Workspace {team_id} can see bot {bot_id}.", highlight=False)


EXPORT_FORMATS = ("csv", "pdf")


def _parse_formats(text: str) -> tuple[str, ...]:
    formats = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in formats if part not in EXPORT_FORMATS]
    if unknown or not formats:
        raise CliError(
            f"--format: unknown format {', '.join(unknown) or text!r}; use csv, pdf or csv,pdf"
        )
    return tuple(dict.fromkeys(formats))


def _write_exports(
    settings: Settings,
    engine: Engine,
    flow_query: str,
    formats: tuple[str, ...],
    out_dir: Path | None,
) -> list[Path]:
    """Write the flow's CSV and/or PDF into ``out_dir`` (default REPORTS_DIR); their paths."""
    directory = out_dir if out_dir is not None else settings.REPORTS_DIR
    if directory.exists() and not directory.is_dir():
        raise CliError(f"--out: {directory} is not a directory")
    zone, now = settings.report_zone, utcnow()
    with Session(engine) as session:
        flow = find_flow(session, flow_query)
        report = compute_kpis(session.connection(), flow, now=now)
        total = expected_rows(session.connection(), flow)
    base = report_basename(flow, now)
    written: list[Path] = []
    try:
        if "csv" in formats:
            path = directory / f"{base}.csv"
            with Progress(
                TextColumn("Exporting CSV"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task("csv", total=total or None)
                export_csv(engine, flow, path, zone, progress=lambda n: progress.advance(task, n))
            written.append(path)
        if "pdf" in formats:
            path = directory / f"{base}.pdf"
            save_pdf(report, path, zone, settings.REPORT_PAGE_SIZE)
            written.append(path)
    except OSError as exc:
        raise CliError(f"cannot write the report to {directory}: {exc.strerror or exc}") from None
    return written


@app.command()
def export(
    flow: Annotated[str, typer.Argument(help="Workflow id, BOT_ID/WORKFLOW_ID or flow name.")],
    formats: Annotated[
        str, typer.Option("--format", help="csv, pdf or csv,pdf.", show_default=True)
    ] = "csv,pdf",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Directory for the files [default: REPORTS_DIR].")
    ] = None,
) -> None:
    """Write a flow's full report: the CSV of every message and/or the PDF with charts."""
    with _errors():
        chosen = _parse_formats(formats)
        settings = _settings()
        for path in _write_exports(settings, _engine(settings), flow, chosen, out_dir):
            typer.echo(f"Wrote {path}")  # one line, never wrapped: scripts read it


@api_key_app.command("create")
def api_key_create(
    bot_id: Annotated[str, typer.Argument(help="The bot the key may push events for.")],
) -> None:
    """Create an API key for one bot; it is printed once, on stdout, and stored hashed."""
    from store.api_keys import create_api_key

    with _errors():
        try:
            created = create_api_key(_engine(_settings()), bot_id)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        sys.stdout.write(created.token + "\n")
        new = " (new bot)" if created.bot_created else ""
        _say(
            f"API key {created.prefix}… for bot {created.bot_id!r}{new}. It is shown only "
            "this once: store it now. Send it as 'Authorization: Bearer <key>'."
        )


def main() -> None:
    """Console-script entry point."""
    app()


subscriptions_app = typer.Typer(help="Scheduled report digests.", no_args_is_help=True)
app.add_typer(subscriptions_app, name="subscriptions")


@subscriptions_app.command("list")
def subscriptions_list() -> None:
    """List active subscriptions: id, workspace, flow, schedule, recipients, next digest."""
    with _errors():
        from scheduler.subscriptions import next_run
        from store.models import Flow, Subscription

        engine = _engine(_settings())
        table = Table("ID", "Workspace", "Flow", "Schedule", "Recipients", "Next digest (UTC)")
        with Session(engine) as session:
            rows = session.exec(
                sa.select(Subscription).where(Subscription.active).order_by(Subscription.id)
            ).scalars()
            for sub in rows:
                flow = session.get(Flow, sub.flow_id) if sub.flow_id else None
                upcoming = next_run(sub, utcnow())
                table.add_row(
                    str(sub.id),
                    sub.team_id,
                    flow.name if flow is not None else "all flows",
                    f"{sub.schedule} ({sub.timezone})"
                    + (" if changed" if sub.skip_unchanged else ""),
                    ", ".join(sub.recipients),
                    f"{upcoming:%Y-%m-%d %H:%M}" if upcoming else "never",
                )
        if table.row_count:
            out.print(table)
        else:
            out.print("No active subscriptions.", highlight=False)


@subscriptions_app.command("run-now")
def subscriptions_run_now(
    subscription_id: Annotated[int, typer.Argument(help="The id `subscriptions list` shows.")],
) -> None:
    """Send a subscription's digest now (a test send; the next scheduled one still compares
    with the previous scheduled digest)."""
    with _errors():
        import asyncio

        from scheduler.outbox import run_outbox_once
        from scheduler.runtime import build_runtime
        from scheduler.subscriptions import queue_digest
        from store.models import Delivery, Subscription

        settings = _settings()
        engine = _engine(settings)
        with Session(engine) as session:
            sub = session.get(Subscription, subscription_id)
            if sub is None or not sub.active:
                raise CliError(f"no active subscription {subscription_id}")
        runtime = build_runtime(settings, engine)
        queued = queue_digest(runtime, subscription_id, force=True)
        if not queued:
            raise CliError(f"subscription {subscription_id} covers no reportable flow")
        asyncio.run(run_outbox_once(runtime, only=queued))
        with Session(engine) as session:
            rows = session.exec(
                sa.select(Delivery).where(Delivery.request_id.in_(queued)).order_by(Delivery.id)
            ).scalars()
            problems = 0
            for row in rows:
                note = f" ({row.last_error})" if row.last_error else ""
                typer.echo(f"{row.channel} {row.recipient}: {row.state}{note}")
                problems += row.state != "sent"
        if problems:
            raise CliError(f"{problems} delivery(ies) not sent yet; the scheduler retries them")
