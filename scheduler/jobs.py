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
_drains: set[asyncio.Task[None]] = set()


def rerun_if_running() -> bool:
    """Ask a running outbox drain for one more pass; False when none is running."""
    if _outbox["running"]:
        _outbox["again"] = True
        return True
    return False


async def drain_outbox() -> None:
    """Render pending requests and send due deliveries, pass after pass, until none is left."""
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


def cancel_drains() -> None:
    """Stop outbox passes in flight (this process is no longer the leader)."""
    for task in list(_drains):
        task.cancel()


def _drain_done(task: asyncio.Task[None]) -> None:
    _drains.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("the outbox pass failed", exc_info=task.exception())


async def process_outbox() -> None:
    """Start an outbox drain (or ask the running one for another pass) and return at once.

    Rendering a large report takes a while; returning at once keeps APScheduler's polls
    from piling up behind it as "skipped: maximum number of running instances" warnings.
    """
    if rerun_if_running():
        return
    _outbox["running"] = True  # claimed before the task starts: no second drain in between
    task = asyncio.create_task(drain_outbox(), name="outbox")
    _drains.add(task)
    task.add_done_callback(_drain_done)


async def run_subscription(subscription_id: int) -> None:
    """Queue subscription ``subscription_id``'s digest, then deliver it."""
    from scheduler.subscriptions import queue_digest

    runtime = current_runtime()
    queued = await asyncio.to_thread(queue_digest, runtime, subscription_id)
    logger.info("subscription %s: %s digest request(s) queued", subscription_id, len(queued))
    if queued and not rerun_if_running():
        await drain_outbox()


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
