"""The scheduler inside ``serve``: elect a leader, then run APScheduler's jobs.

Jobs live in ``SQLAlchemyJobStore`` on ``DATABASE_URL`` (table ``apscheduler_jobs``), so
subscriptions survive restarts and any replica that becomes leader sees the same jobs.
Until it wins the election a replica stays on standby and tries again every
``standby_seconds``; the web side of every replica keeps serving either way.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.leader import LeaderLock
from scheduler.outbox import recover_interrupted
from scheduler.runtime import Runtime, install_runtime
from store.db import immediate

logger = logging.getLogger("campaign_report.scheduler")
OUTBOX_JOB = "outbox"
RETENTION_JOB = "report-retention"
SYNC_JOB = "subscriptions-sync"
JOB_DEFAULTS = {
    "coalesce": True,  # a job that missed several runs (downtime) runs once, not N times
    "misfire_grace_time": 3600,
    "max_instances": 1,
}


class SchedulerService:
    """Leader election plus an ``AsyncIOScheduler``; run it as a task beside the web server."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll_seconds: float = 5.0,
        standby_seconds: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.standby_seconds = standby_seconds
        self.lock = LeaderLock(runtime.engine)
        self.scheduler: AsyncIOScheduler | None = None
        self.leading = asyncio.Event()

    def _build_scheduler(self) -> AsyncIOScheduler:
        # APScheduler reads then writes its job rows: take SQLite's write lock up front.
        store = SQLAlchemyJobStore(engine=immediate(self.runtime.engine))
        return AsyncIOScheduler(
            jobstores={"default": store}, job_defaults=JOB_DEFAULTS, timezone="UTC"
        )

    async def _become_leader(self) -> None:
        while not await asyncio.to_thread(self.lock.try_acquire):
            await asyncio.sleep(self.standby_seconds)
        install_runtime(self.runtime)
        recovered = await asyncio.to_thread(recover_interrupted, self.runtime)
        if recovered:
            logger.warning("%s interrupted deliveries put back in the outbox", recovered)
        scheduler = self._build_scheduler()
        scheduler.start()
        self.scheduler = scheduler
        self.runtime.scheduler = scheduler
        now = self.runtime.clock()
        scheduler.add_job(
            "scheduler.jobs:process_outbox",
            IntervalTrigger(seconds=self.poll_seconds),
            id=OUTBOX_JOB,
            replace_existing=True,
            next_run_time=now,  # catch up at once after a restart
        )
        scheduler.add_job(
            "scheduler.jobs:delete_old_reports",
            CronTrigger(hour=3, minute=17, timezone="UTC"),
            id=RETENTION_JOB,
            replace_existing=True,
        )
        scheduler.add_job(
            "scheduler.jobs:sync_subscriptions",
            IntervalTrigger(seconds=30),
            id=SYNC_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        self.leading.set()
        logger.info("this process runs the scheduler")

    async def run(self) -> None:
        """Wait for leadership, run the jobs, step down if the lock is lost; until cancelled."""
        try:
            while True:
                await self._become_leader()
                while await asyncio.to_thread(self.lock.still_held):
                    await asyncio.sleep(self.standby_seconds)
                logger.warning("scheduler lock lost; back to standby")
                self._shutdown()
        finally:
            self._shutdown()
            await asyncio.to_thread(self.lock.release)

    def _shutdown(self) -> None:
        self.leading.clear()
        # A new leader puts rows left "sending" back in the queue: stop sending them here.
        self.runtime.drain.cancel()
        scheduler, self.scheduler = self.scheduler, None
        self.runtime.scheduler = None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def wake(self, now: datetime | None = None) -> bool:
        """Run the outbox and the subscription sync now; False when not the leader."""
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return False
        moment = now or self.runtime.clock()
        try:
            for job_id in (SYNC_JOB, OUTBOX_JOB):
                scheduler.modify_job(job_id, next_run_time=moment)
        except JobLookupError:
            return False
        return True
