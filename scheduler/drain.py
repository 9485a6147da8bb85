"""One outbox drain at a time: passes until nothing is left, and "one more pass" requests.

A drain belongs to the scheduler process's ``Runtime``; jobs start it, a wake during a
running drain asks it for another pass instead of starting a second one, and losing
leadership cancels it. A clean stop (SIGTERM) lets the pass in flight end first: a send the
server already accepted is then recorded ``sent``, not sent again by the next leader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("campaign_report.jobs")
MAX_PASSES = 20  # work arriving during a pass is picked up by the next one, up to this many

Pass = Callable[[], Awaitable[bool]]  # one outbox pass; True when it did something


class OutboxDrain:
    """Runs outbox passes one after another while there is work, never two drains at once."""

    def __init__(self) -> None:
        self.running = False
        self.stopping = False  # no new pass (or batch) starts; the outbox checks it too
        self._again = False
        self._tasks: set[asyncio.Task[None]] = set()

    def rerun_if_running(self) -> bool:
        """Ask the running drain for one more pass; False when none is running."""
        if self.running:
            self._again = True
            return True
        return False

    async def run(self, one_pass: Pass) -> None:
        """Run passes until one finds nothing to do and nobody asked for another."""
        self.running = True
        try:
            for _ in range(MAX_PASSES):
                if self.stopping:
                    return
                self._again = False
                did_work = await one_pass()
                if not (did_work or self._again):
                    return
        finally:
            self.running = False

    def start(self, one_pass: Pass) -> None:
        """Start a drain in the background (or ask the running one for another pass)."""
        if self.stopping or self.rerun_if_running():
            return
        self.running = True  # claimed before the task starts: no second drain in between
        task = asyncio.create_task(self.run(one_pass), name="outbox")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def cancel(self) -> None:
        """Stop the passes in flight (this process is no longer the leader)."""
        for task in list(self._tasks):
            task.cancel()

    async def finish(self, grace: float) -> None:
        """Start nothing new, let the pass in flight end for up to ``grace`` s, cancel the rest."""
        self.stopping = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        self.cancel()

    def resume(self) -> None:
        """Accept new passes again (this process leads again)."""
        self.stopping = False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("the outbox pass failed", exc_info=task.exception())
