"""``scheduler``: the scheduler and the delivery outbox alone, without the web server.

The process a production deployment runs once, beside any number of ``serve
--no-scheduler`` web replicas (DESIGN.md, "Processes"). More than one may run: the same
database lock that elects one ``serve`` elects one of them, and the others stand by. It
stops on SIGTERM or Ctrl-C and lets go of the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from bot.cli.common import LogFormatOption, engine_for, err, errors, settings
from bot.logs import LogFormat, configure_logging, secrets_of
from bot.slack import build_web_client, slack_enabled
from bot.wiring import build_runtime
from scheduler.service import SchedulerService


def scheduler(
    log_format: LogFormatOption = LogFormat.text,
) -> None:
    """Run the scheduler and the delivery outbox, without HTTP (one per deployment)."""
    with errors():
        config = settings()
        configure_logging(log_format, secrets_of(config))
        if not slack_enabled(config):
            err.print("note: SLACK_BOT_TOKEN is not set, so Slack deliveries wait", highlight=False)
        engine = engine_for(config)
        client = build_web_client(config) if slack_enabled(config) else None
        service = SchedulerService(build_runtime(config, engine, client))
        asyncio.run(run_until_stopped(service))


async def run_until_stopped(service: SchedulerService) -> None:
    """Run ``service`` until SIGTERM or SIGINT, then shut it down cleanly."""
    task = asyncio.create_task(service.run(), name="scheduler")
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
