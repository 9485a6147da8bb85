"""Job functions: module-level, taking ids only, so APScheduler can persist them.

Each looks up the process's ``Runtime`` (installed by ``SchedulerService``) at run time.
``SchedulerService`` refers to them as text (``scheduler.jobs:process_outbox``).
"""

from __future__ import annotations

import asyncio
import logging

from scheduler.alerts import check_alerts
from scheduler.outbox import outbox_pass
from scheduler.retention import delete_expired_reports
from scheduler.runtime import current_runtime
from scheduler.subscriptions import queue_digest, schedule_all
from store.ingest.waiting import drop_expired_waiting

logger = logging.getLogger("campaign_report.jobs")


async def process_outbox() -> None:
    """Start an outbox drain (or ask the running one for another pass) and return at once.

    Rendering a large report takes a while; returning at once keeps APScheduler's polls
    from piling up behind it as "skipped: maximum number of running instances" warnings.
    """
    runtime = current_runtime()
    runtime.drain.start(lambda: outbox_pass(runtime))


async def run_subscription(subscription_id: int) -> None:
    """Queue subscription ``subscription_id``'s digest, then deliver it."""
    runtime = current_runtime()
    queued = await asyncio.to_thread(queue_digest, runtime, subscription_id)
    logger.info("subscription %s: %s digest request(s) queued", subscription_id, len(queued))
    if queued:
        runtime.drain.start(lambda: outbox_pass(runtime))


async def judge_alerts() -> None:
    """Judge every alert (``ALERT_INTERVAL``); deliver the messages of what changed."""
    runtime = current_runtime()
    check = await asyncio.to_thread(check_alerts, runtime, runtime.clock())
    if check.events:
        runtime.drain.start(lambda: outbox_pass(runtime))


async def delete_old_reports() -> None:
    """Delete report files older than ``REPORT_RETENTION_DAYS``."""
    runtime = current_runtime()
    config = runtime.config
    removed = await asyncio.to_thread(
        delete_expired_reports, config.reports_dir, config.retention_days, runtime.clock()
    )
    logger.info("retention: %s report file(s) deleted", removed)
    await asyncio.to_thread(drop_expired_waiting, runtime.engine, runtime.clock())


async def sync_subscriptions() -> None:
    """Give new subscriptions their jobs and drop ended ones (made by any replica)."""
    runtime = current_runtime()
    if runtime.scheduler is not None:
        await asyncio.to_thread(schedule_all, runtime.engine, runtime.scheduler)
