"""APScheduler with its job store off the event loop: jobs still run on the loop.

Why not ``AsyncIOScheduler``: it runs ``_process_jobs`` — ``SQLAlchemyJobStore``'s
``get_due_jobs``, ``update_job`` and ``get_next_run_time``, each a database transaction
(on SQLite one that takes the write lock) — on the event loop, from ``wakeup`` and its timer,
and ``add_job`` / ``modify_job`` write the store in the caller's thread. While another
process holds the write lock, or PostgreSQL is slow, the loop that answers ``/healthz``,
Slack's acks and the API waits with it (DESIGN.md, "Processes").

``LoopScheduler`` is APScheduler's own ``BackgroundScheduler``: job processing — every job
store call it makes — runs in its thread, and ``wakeup()`` only sets a ``threading.Event``,
so it costs nothing wherever it is called from. Its one executor, ``LoopExecutor``, hands
each due job to the event loop with ``asyncio.run_coroutine_threadsafe``: the jobs are
coroutines that share the loop's Slack client and SMTP connections, as before. A locked
store now delays job processing alone.

Every other call that reaches the job store (``start``, ``add_job``, ``modify_job``,
``get_jobs``, ``shutdown``) must be made off the loop too; ``SchedulerService`` runs them in
threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.executors.base import BaseExecutor, run_coroutine_job, run_job
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import iscoroutinefunction_partial

logger = logging.getLogger("campaign_report.jobs")


class LoopExecutor(BaseExecutor):
    """Runs jobs on ``loop`` (coroutines) or on its default thread pool (plain functions).

    ``quiet`` names jobs whose runs are logged at DEBUG (a poll every few seconds would
    drown the log; what it starts logs its own lines).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, quiet: frozenset[str] = frozenset()):
        super().__init__()
        self.loop = loop
        self.quiet = quiet
        self._futures: set[Future[Any]] = set()

    def shutdown(self, wait: bool = True) -> None:
        """Cancel the runs still in flight (APScheduler cannot wait on the loop from here)."""
        for future in list(self._futures):
            future.cancel()
        self._futures.clear()

    def _do_submit_job(self, job: Job, run_times: list[Any]) -> None:
        future = asyncio.run_coroutine_threadsafe(self._run(job, run_times), self.loop)
        self._futures.add(future)

        def done(f: Future[Any]) -> None:
            self._futures.discard(f)
            if f.cancelled():
                self._run_job_error(job.id, asyncio.CancelledError())
                return
            error = f.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        future.add_done_callback(done)

    async def _run(self, job: Job, run_times: list[Any]) -> list[Any]:
        started = time.perf_counter()
        alias = job._jobstore_alias
        if iscoroutinefunction_partial(job.func):
            events = await run_coroutine_job(job, alias, run_times, self._logger.name)
        else:
            events = await asyncio.get_running_loop().run_in_executor(
                None, run_job, job, alias, run_times, self._logger.name
            )
        _log_run(job, events, time.perf_counter() - started, self.quiet)
        return events


def _log_run(job: Job, events: list[Any], seconds: float, quiet: frozenset[str]) -> None:
    """One line per job run: its id, outcome and duration."""
    codes = {event.code for event in events}
    if EVENT_JOB_ERROR in codes:
        outcome, level = "error", logging.ERROR
        error = next(str(e.exception) for e in events if e.code == EVENT_JOB_ERROR)
    elif codes == {EVENT_JOB_MISSED}:
        outcome, level, error = "missed", logging.WARNING, None
    else:
        outcome, error = "ok", None
        level = logging.DEBUG if job.id in quiet else logging.INFO
    logger.log(
        level,
        "job %s: %s in %.0f ms",
        job.id,
        outcome,
        seconds * 1000,
        extra={
            "event": "job",
            "job_id": job.id,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 1),
            "error": error,
        },
    )


class LoopScheduler(BackgroundScheduler):
    """A ``BackgroundScheduler`` whose jobs run on ``loop`` (see the module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        quiet: frozenset[str] = frozenset(),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.add_executor(LoopExecutor(loop, quiet), "default")
