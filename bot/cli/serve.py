"""``serve``: the HTTP server, with the scheduler unless ``--no-scheduler``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn

from bot.app import create_app
from bot.cli.common import LogFormatOption, engine_for, err, errors, settings
from bot.logs import LogFormat, configure_logging, secrets_of
from bot.slack import run_socket_mode, slack_enabled, socket_mode


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Web only: leave jobs and deliveries to others.")
    ] = False,
    log_format: LogFormatOption = LogFormat.text,
) -> None:
    """Run the HTTP server (health, Slack at /slack/events; Socket Mode with SLACK_APP_TOKEN)."""
    with errors():
        config = settings()
        configure_logging(log_format, secrets_of(config))
        if not slack_enabled(config):
            err.print("note: SLACK_BOT_TOKEN is not set, so Slack is off", highlight=False)
        api = create_app(config, engine_for(config), scheduler=not no_scheduler)
        # log_config=None: uvicorn's loggers go through ours (one format, secrets redacted).
        server = uvicorn.Server(
            uvicorn.Config(api, host=host, port=port, log_level="info", log_config=None)
        )
        if not slack_enabled(config) or not socket_mode(config):
            server.run()
            return

        async def serve_with_socket_mode() -> None:
            socket = asyncio.create_task(run_socket_mode(config, api.state.slack_app))
            try:
                await server.serve()
            finally:
                socket.cancel()

        asyncio.run(serve_with_socket_mode())
