"""One scheduler per database: the lock, a standby taking over, a dead holder's lock freed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from scheduler.leader import LeaderLock
from scheduler.service import SchedulerService
from tests.scheduler.conftest import make_runtime

HOLD = """
import sys, time
from store.db import create_db_engine
from scheduler.leader import LeaderLock
lock = LeaderLock(create_db_engine(sys.argv[1]))
print("held" if lock.try_acquire() else "refused", flush=True)
time.sleep(600)
"""


def test_only_one_process_holds_the_lock(store_engine: Engine) -> None:
    first, second = LeaderLock(store_engine), LeaderLock(store_engine)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_killed_holder_frees_the_lock(store_engine: Engine) -> None:
    url = store_engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE,
                              cwd=Path(__file__).parents[2])  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        standby = LeaderLock(store_engine)
        assert not standby.try_acquire()
        holder.kill()  # SIGKILL: no clean-up code runs
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not standby.try_acquire():
            assert time.monotonic() < deadline, "the dead holder's lock was never freed"
            time.sleep(0.1)
        standby.release()
    finally:
        holder.kill()


async def test_standby_scheduler_takes_over(store_engine: Engine, tmp_path: Path) -> None:
    runtime_a = make_runtime(store_engine, tmp_path)
    runtime_b = make_runtime(store_engine, tmp_path)
    leader = SchedulerService(runtime_a, standby_seconds=0.1)
    standby = SchedulerService(runtime_b, standby_seconds=0.1)
    task_a = asyncio.create_task(leader.run())
    await asyncio.wait_for(leader.leading.wait(), 10)
    task_b = asyncio.create_task(standby.run())
    await asyncio.sleep(0.5)
    assert not standby.leading.is_set() and not standby.wake()
    task_a.cancel()
    await asyncio.gather(task_a, return_exceptions=True)
    await asyncio.wait_for(standby.leading.wait(), 10)
    assert standby.wake()
    task_b.cancel()
    await asyncio.gather(task_b, return_exceptions=True)
