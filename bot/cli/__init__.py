"""``campaign-bot``: the command line (DESIGN.md, CLI contract). Wiring only.

Every command exits non-zero on failure with a one-line reason on stderr (``common``). One
module per command group: ``reports`` (kpis, export), ``data`` (import, demo, db),
``access`` (workspace, api-key), ``serve``, ``scheduler``, ``subscriptions``, ``insight``
(timeline, compare), ``connectors`` (connector), ``rollups`` (db rebuild-rollups),
``alerts`` (alerts list, alerts check).
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import (
    access,
    alerts,
    connectors,
    data,
    insight,
    reports,
    rollups,
    scheduler,
    serve,
    subscriptions,
)
from bot.cli.common import show_version

app = typer.Typer(
    help="Flow campaign reports: KPIs, channel statistics, CSV and PDF, in Slack and by email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # sub-commands inherit it
)


@app.callback()
def options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Options of campaign-bot itself (before any command)."""


app.command()(reports.kpis)
app.command("import")(data.import_)
app.command()(data.demo)
app.command()(serve.serve)
app.command()(scheduler.scheduler)
app.command()(reports.export)
app.command()(insight.timeline)
app.command()(insight.compare)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
db_app.command("upgrade")(data.db_upgrade)
db_app.command("rebuild-rollups")(rollups.db_rebuild_rollups)
app.add_typer(db_app, name="db")

workspace_app = typer.Typer(help="Which Slack workspaces see which bots.", no_args_is_help=True)
workspace_app.command("grant")(access.workspace_grant)
app.add_typer(workspace_app, name="workspace")

api_key_app = typer.Typer(help="Keys for the ingestion HTTP API.", no_args_is_help=True)
api_key_app.command("create")(access.api_key_create)
app.add_typer(api_key_app, name="api-key")

subscriptions_app = typer.Typer(help="Scheduled report digests.", no_args_is_help=True)
subscriptions_app.command("list")(subscriptions.subscriptions_list)
subscriptions_app.command("run-now")(subscriptions.subscriptions_run_now)
app.add_typer(subscriptions_app, name="subscriptions")

alerts_app = typer.Typer(help="Alerts on live campaigns.", no_args_is_help=True)
alerts_app.command("list")(alerts.alerts_list)
alerts_app.command("check")(alerts.alerts_check)
app.add_typer(alerts_app, name="alerts")

connector_app = typer.Typer(help="Provider webhooks (WhatsApp, Twilio, SendGrid, Mailgun).",
                            no_args_is_help=True)  # fmt: skip
connector_app.command("add")(connectors.connector_add)
connector_app.command("list")(connectors.connector_list)
connector_app.command("remove")(connectors.connector_remove)
connector_app.command("set-secret")(connectors.connector_set_secret)
app.add_typer(connector_app, name="connector")


def main() -> None:
    """Console-script entry point."""
    app()
