"""Job functions: module-level, taking ids only, so APScheduler can persist them.

Each looks up the process's ``Runtime`` (installed by ``SchedulerService``) at run time.
"""

from __future__ import annotations

import asyncio
import logging

from scheduler.outbox import run_outbox_once
from scheduler.retention import delete_expired_reports
from scheduler.runtime import current_runtime

logger = logging.getLogger("campaign_report.jobs")
MAX_PASSES = 20  # work arriving during a pass is picked up by the next one, up to this many
_outbox = {"running": False, "again": False}


def rerun_if_running() -> bool:
    """Ask a running outbox job for one more pass; False when none is running.

    Waking the job through APScheduler while it runs would only log a skipped run.
    """
    if _outbox["running"]:
        _outbox["again"] = True
        return True
    return False


async def process_outbox() -> None:
    """Render pending report requests and send every due delivery."""
    runtime = current_runtime()
    _outbox["running"] = True
    try:
        for _ in range(MAX_PASSES):
            _outbox["again"] = False
            result = await run_outbox_once(runtime)
            if not (result.rendered or result.sent or result.failed or _outbox["again"]):
                return
    finally:
        _outbox["running"] = False


async def run_subscription(subscription_id: int) -> None:
    """Queue subscription ``subscription_id``'s digest, then deliver it."""
    from scheduler.subscriptions import queue_digest

    runtime = current_runtime()
    queued = await asyncio.to_thread(queue_digest, runtime, subscription_id)
    logger.info("subscription %s: %s digest request(s) queued", subscription_id, len(queued))
    if queued:
        await process_outbox()


async def delete_old_reports() -> None:
    """Delete report files older than ``REPORT_RETENTION_DAYS``."""
    runtime = current_runtime()
    removed = await asyncio.to_thread(
        delete_expired_reports,
        runtime.settings.REPORTS_DIR,
        runtime.settings.REPORT_RETENTION_DAYS,
        runtime.clock(),
    )
    logger.info("retention: %s report file(s) deleted", removed)


async def sync_subscriptions() -> None:
    """Give new subscriptions their jobs and drop ended ones (made by any replica)."""
    from scheduler.subscriptions import schedule_all

    runtime = current_runtime()
    if runtime.scheduler is not None:
        await asyncio.to_thread(schedule_all, runtime.engine, runtime.scheduler)
