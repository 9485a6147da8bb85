"""One outbox drain at a time: passes while there is work, one more pass when asked."""

from __future__ import annotations

import asyncio

from scheduler.drain import MAX_PASSES, OutboxDrain


async def test_a_drain_runs_passes_until_one_finds_nothing() -> None:
    drain = OutboxDrain()
    work = [True, True, False, True]
    passes: list[int] = []

    async def one_pass() -> bool:
        passes.append(len(passes))
        return work[len(passes) - 1]

    await drain.run(one_pass)
    assert passes == [0, 1, 2]  # the third pass found nothing: the fourth never ran
    assert not drain.running


async def test_a_wake_during_a_pass_asks_for_one_more_instead_of_a_second_drain() -> None:
    drain = OutboxDrain()
    started, release = asyncio.Event(), asyncio.Event()
    passes = 0

    async def one_pass() -> bool:
        nonlocal passes
        passes += 1
        if passes == 1:
            started.set()
            await release.wait()
        return False  # no work found by either pass

    drain.start(one_pass)
    await started.wait()
    drain.start(one_pass)  # while running: a request, not a second task
    assert drain.rerun_if_running()
    release.set()
    for _ in range(100):
        if not drain.running:
            break
        await asyncio.sleep(0.01)
    assert passes == 2 and not drain.running


async def test_passes_stop_after_the_limit_and_cancel_stops_them() -> None:
    drain = OutboxDrain()
    passes = 0

    async def busy_pass() -> bool:
        nonlocal passes
        passes += 1
        return True

    await drain.run(busy_pass)
    assert passes == MAX_PASSES

    blocked = asyncio.Event()

    async def stuck_pass() -> bool:
        blocked.set()
        await asyncio.sleep(60)
        return True

    drain.start(stuck_pass)
    await blocked.wait()
    drain.cancel()
    await asyncio.sleep(0.05)
    assert not drain.running


async def test_a_clean_stop_lets_the_pass_in_flight_end_and_starts_no_other() -> None:
    drain = OutboxDrain()
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def one_pass() -> bool:
        started.set()
        await release.wait()
        finished.append(len(finished))
        return True  # there would be more to do

    drain.start(one_pass)
    await started.wait()
    stopping = asyncio.create_task(drain.finish(grace=10))
    await asyncio.sleep(0.05)
    drain.start(one_pass)  # a poll after the stop began: ignored
    release.set()
    await stopping
    assert finished == [0]  # the pass in flight ended; no second pass ran
    assert not drain.running
