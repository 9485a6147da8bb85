"""The scheduler of ``serve`` and ``campaign-bot scheduler``: elect a leader, run the jobs.

Jobs live in ``SQLAlchemyJobStore`` on ``DATABASE_URL`` (table ``apscheduler_jobs``), so
subscriptions survive restarts and any replica that becomes leader sees the same jobs.
Until it wins the election a replica stays on standby and tries again every
``standby_seconds``; the web side of every replica keeps serving either way.

Nothing here waits for the database on the event loop: the scheduler is a ``LoopScheduler``
(job store in its own thread, see ``scheduler.threaded``), and every call that reaches the
job store — start, adding the standing jobs, a wake, shutdown — runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.leader import LeaderLock
from scheduler.outbox import recover_interrupted
from scheduler.runtime import Runtime, install_runtime
from scheduler.threaded import LoopScheduler
from store.db import immediate

logger = logging.getLogger("campaign_report.scheduler")
OUTBOX_JOB = "outbox"
RETENTION_JOB = "report-retention"
SYNC_JOB = "subscriptions-sync"
ALERTS_JOB = "alerts"
JOB_DEFAULTS = {
    "coalesce": True,  # a job that missed several runs (downtime) runs once, not N times
    "misfire_grace_time": 3600,
    "max_instances": 1,
}


class SchedulerService:
    """Leader election plus a ``LoopScheduler``; run it as a task beside the web server."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll_seconds: float = 5.0,
        standby_seconds: float = 5.0,
        stop_grace_seconds: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.standby_seconds = standby_seconds
        self.stop_grace_seconds = stop_grace_seconds  # a clean stop lets the pass end
        self.lock = LeaderLock(runtime.engine)
        self.scheduler: LoopScheduler | None = None
        self.leading = asyncio.Event()
        # Wakes move two jobs' next run time (job store writes): on this thread, one at a time.
        self._waker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scheduler-wake")
        self._wake_queued = threading.Lock()
        self._starting: asyncio.Future[None] | None = None

    def _build_scheduler(self, loop: asyncio.AbstractEventLoop) -> LoopScheduler:
        # APScheduler reads then writes its job rows: take SQLite's write lock up front.
        store = SQLAlchemyJobStore(engine=immediate(self.runtime.engine))
        return LoopScheduler(
            loop,
            quiet=frozenset({OUTBOX_JOB}),
            jobstores={"default": store},
            job_defaults=JOB_DEFAULTS,
            timezone="UTC",
        )

    async def _become_leader(self) -> None:
        while not await asyncio.to_thread(self.lock.try_acquire):
            await asyncio.sleep(self.standby_seconds)
        install_runtime(self.runtime)
        self.runtime.drain.resume()
        recovered = await asyncio.to_thread(recover_interrupted, self.runtime)
        if recovered:
            logger.warning("%s interrupted deliveries put back in the outbox", recovered)
        scheduler = self._build_scheduler(asyncio.get_running_loop())
        self.scheduler = scheduler
        self.runtime.scheduler = scheduler
        # Shielded: cancelled mid-start, the start still ends before _shutdown stops it.
        self._starting = asyncio.ensure_future(asyncio.to_thread(self._start, scheduler))
        await asyncio.shield(self._starting)
        self.leading.set()
        logger.info("this process runs the scheduler")

    def _start(self, scheduler: LoopScheduler) -> None:
        """Start the scheduler and (re)place the standing jobs (job store calls: a thread)."""
        scheduler.start()
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
            "scheduler.jobs:judge_alerts",
            IntervalTrigger(seconds=self.runtime.alert_interval),
            id=ALERTS_JOB,
            replace_existing=True,
        )
        scheduler.add_job(
            "scheduler.jobs:sync_subscriptions",
            IntervalTrigger(seconds=30),
            id=SYNC_JOB,
            replace_existing=True,
            next_run_time=now,
        )

    async def run(self) -> None:
        """Wait for leadership, run the jobs, step down if the lock is lost; until cancelled."""
        try:
            while True:
                await self._become_leader()
                while await asyncio.to_thread(self.lock.still_held):
                    await asyncio.sleep(self.standby_seconds)
                logger.warning("scheduler lock lost; back to standby")
                # A new leader puts rows left "sending" back in the queue: stop at once.
                self.runtime.drain.cancel()
                await self._shutdown()
        finally:
            # Stopped (SIGTERM, the server shutting down): still the leader, so let the
            # pass in flight record what the servers accepted before letting go.
            await self.runtime.drain.finish(self.stop_grace_seconds)
            await self._shutdown()
            await asyncio.to_thread(self.lock.release)
            self._waker.shutdown(wait=False, cancel_futures=True)

    async def _shutdown(self) -> None:
        self.leading.clear()
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(Exception):
                await starting
        scheduler, self.scheduler = self.scheduler, None
        self.runtime.scheduler = None
        if scheduler is not None and scheduler.running:
            # Joins the scheduler's thread, which may be waiting for a busy store: a thread.
            await asyncio.to_thread(scheduler.shutdown, wait=False)

    def wake(self, now: datetime | None = None) -> bool:
        """Ask for the outbox and the subscription sync now; False when not the leader.

        Returns at once from any thread (the Slack answers call it from theirs): the job
        store writes happen on the service's wake thread, and a wake already waiting there
        covers this one too.
        """
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return False
        if self._wake_queued.acquire(blocking=False):
            moment = now or self.runtime.clock()
            try:
                self._waker.submit(self._move_jobs, scheduler, moment)
            except RuntimeError:  # the service is stopping
                self._wake_queued.release()
                return False
        return True

    def _move_jobs(self, scheduler: LoopScheduler, moment: datetime) -> None:
        self._wake_queued.release()  # a wake from now on needs another move
        try:
            for job_id in (SYNC_JOB, OUTBOX_JOB):
                scheduler.modify_job(job_id, next_run_time=moment)
        except JobLookupError:
            logger.warning("wake: the standing jobs are gone (the scheduler is stopping)")
        except Exception:
            logger.exception("wake: could not move the outbox job")
