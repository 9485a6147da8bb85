"""Benchmark: Slack acks and summaries while the store is busy ("never stalls", issue 10).

Runs ``campaign-bot serve`` (web and scheduler in one process, as a one-machine install
does) on a fresh SQLite copy of a bench store, against the Slack stand-in (tests/fakes).
``--users`` users send signed ``/campaign-report <flow>`` commands at the same moment, wave
after wave, and wait for their summaries; in each wave one of them asks for
``/campaign-report download <flow>`` instead (a store write). Three phases, one run:

* ``idle``   — nothing else touches the store;
* ``lock``   — another process holds SQLite's write lock (``BEGIN IMMEDIATE``) for
  ``--lock-seconds``;
* ``import`` — ``campaign-bot import`` of a ~300k-event NDJSON file runs beside it.

For each phase it prints p50/p95 of the ack (HTTP 200 from ``/slack/events``) and of the
summary's arrival at ``response_url``, the slowest download answer, the slowest
``GET /healthz`` of a probe sent every 100 ms (how long the event loop stalled), and the wall
time beside the CPU time of ``serve``, of the other processes (lock holder, import) and of this
process (load generator and stand-in). Targets: ack p95 < 100 ms, summary p95 < 2 s in both busy
phases. Sized for a 2-core machine: the serve flow and the imported file are built once
under ``var/bench/`` and reused.

    .venv/bin/python bench/bench_stall.py [--messages 100000] [--import-messages 100000]
                                          [--users 20] [--idle-waves 10] [--lock-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_slack import (  # noqa: E402
    SECRET,
    TEAM,
    _cli,
    _grant,
    _pct,
    _start_server,
)
from bench.data import BENCH_DIR, bench_events, ensure_bench_flow, sqlite_url  # noqa: E402
from tests.fakes.slack_api import FakeSlack, run_fake_slack  # noqa: E402
from tests.fakes.slack_requests import signed_headers, slash_command  # noqa: E402

ACK_TARGET_MS = 100.0
SUMMARY_TARGET_MS = 2000.0
DOWNLOADER = "U0BENCHDL"  # a workspace member: the report goes to them by DM
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Holds SQLite's write lock like any other writer would (a long import, a migration).
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    acks: list[float] = field(default_factory=list)
    summaries: list[float] = field(default_factory=list)
    downloads: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)  # GET /healthz every 100 ms
    pending: list[asyncio.Task[None]] = field(default_factory=list)
    failures: int = 0
    waves: int = 0
    wall: float = 0.0
    serve_cpu: float = 0.0
    others_cpu: float = 0.0
    own_cpu: float = 0.0


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fresh_store(base_url: str, run_path: Path) -> str:
    """A copy of the bench store for this run (the import phase adds a flow to it)."""
    base = sqlite3.connect(base_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{run_path}{suffix}").unlink(missing_ok=True)
    copy = sqlite3.connect(run_path)
    base.backup(copy)
    copy.close()
    base.close()
    return f"sqlite:///{run_path}"


def _import_file(messages: int) -> Path:
    """An NDJSON file of ``messages`` messages (~3 events each) for another flow, made once."""
    path = BENCH_DIR / f"stall-import-{messages}.ndjson"
    if not path.exists():
        partial = path.with_suffix(".part")
        with partial.open("w") as out:
            for event in bench_events(f"stall_import_{messages}", messages, seed=7):
                out.write(event.model_dump_json(exclude_none=True) + "\n")
        partial.rename(path)
    return path


async def _wave(
    session: aiohttp.ClientSession,
    base_url: str,
    fake: FakeSlack,
    workflow_id: str,
    users: int,
    phase: Phase,
) -> None:
    """All ``users`` at once: user 0 asks for a download, the others for the summary.

    The wave waits for the summaries only; the download's answer (a store write, which
    waits for the lock as it must) is collected in the background.
    """
    wave = phase.waves
    phase.waves += 1

    async def user(number: int) -> None:
        key = f"{phase.name}-w{wave}-u{number}"
        download = number == 0
        text = f"download {workflow_id}" if download else workflow_id
        form = slash_command(
            text,
            team_id=TEAM,
            response_url=fake.response_url(key),
            user_id=DOWNLOADER if download else f"U0USER{number:03d}",
        )
        body = urlencode(form).encode()
        started = time.perf_counter()
        try:
            async with session.post(
                f"{base_url}/slack/events", data=body, headers=signed_headers(SECRET, body)
            ) as reply:
                await reply.read()
                phase.acks.append((time.perf_counter() - started) * 1000)
                phase.failures += reply.status != 200
        except (aiohttp.ClientError, TimeoutError):
            phase.failures += 1
            return
        if download:
            phase.pending.append(asyncio.create_task(_answer(fake, key, started, phase.downloads)))
        else:
            await _answer(fake, key, started, phase.summaries)

    await asyncio.gather(*(user(n) for n in range(users)))


async def _answer(fake: FakeSlack, key: str, started: float, into: list[float]) -> None:
    try:
        answer = await asyncio.to_thread(fake.wait_for_response_call, key, 90)
    except AssertionError:
        into.append(float("inf"))
        return
    into.append((answer.at - started) * 1000)


async def _run_phase(
    phase: Phase,
    base_url: str,
    fake: FakeSlack,
    workflow_id: str,
    users: int,
    *,
    waves: int | None = None,
    while_running: subprocess.Popen[bytes] | None = None,
) -> None:
    """Waves until ``waves`` ran or ``while_running`` exited (at least one wave)."""
    # Waiting for answers takes a thread each (the stand-in's wait is blocking); downloads
    # wait for the lock up to 20 s: the default pool (6 threads on 2 cores) would run out.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=4 * users))
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        probe = asyncio.create_task(_probe_health(base_url, phase))
        while True:
            await _wave(session, base_url, fake, workflow_id, users, phase)
            if waves is not None and phase.waves >= waves:
                break
            if while_running is not None and while_running.poll() is not None:
                break
        await asyncio.gather(*phase.pending)
        probe.cancel()


async def _probe_health(base_url: str, phase: Phase) -> None:
    """``GET /healthz`` every 100 ms: how long the server's event loop leaves it waiting."""
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            started = time.perf_counter()
            async with session.get(f"{base_url}/healthz") as reply:
                await reply.read()
            phase.health.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.1)


def _measured(
    phase: Phase, serve_pid: int, run: Callable[[], subprocess.Popen[bytes] | None]
) -> None:
    """Run a phase, recording wall and CPU time around it."""
    serve_before, children_before, own_before = (
        _process_cpu(serve_pid),
        _children_cpu(),
        time.process_time(),
    )
    started = time.perf_counter()
    disturber = run()
    if disturber is not None:
        disturber.wait(timeout=600)
    phase.wall = time.perf_counter() - started
    phase.serve_cpu = _process_cpu(serve_pid) - serve_before
    phase.others_cpu = _children_cpu() - children_before
    phase.own_cpu = time.process_time() - own_before


def _report(phases: list[Phase]) -> None:
    print(
        f"{'phase':<8}{'waves':>6}{'ack p50':>9}{'ack p95':>9}{'sum p50':>9}{'sum p95':>9}"
        f"{'dl max':>9}{'hz max':>9}{'fail':>6}{'wall s':>8}{'serve':>7}{'others':>8}"
        f"{'bench':>7}   (ms; CPU s)"
    )
    for p in phases:
        print(
            f"{p.name:<8}{p.waves:>6}{_pct(p.acks, 50):>9.1f}{_pct(p.acks, 95):>9.1f}"
            f"{_pct(p.summaries, 50):>9.1f}{_pct(p.summaries, 95):>9.1f}"
            f"{max(p.downloads, default=float('nan')):>9.0f}"
            f"{max(p.health, default=float('nan')):>9.0f}{p.failures:>6}"
            f"{p.wall:>8.1f}{p.serve_cpu:>7.1f}{p.others_cpu:>8.1f}{p.own_cpu:>7.1f}"
        )
    idle = phases[0]
    for p in phases[1:]:
        ack, summary = _pct(p.acks, 95), _pct(p.summaries, 95)
        verdict = "ok" if ack < ACK_TARGET_MS and summary < SUMMARY_TARGET_MS else "MISSED"
        print(
            f"{p.name}: ack p95 {ack:.1f} ms ({ack / _pct(idle.acks, 95):.1f}× idle, "
            f"target < {ACK_TARGET_MS:.0f}), summary p95 {summary:.0f} ms "
            f"({summary / _pct(idle.summaries, 95):.1f}× idle, target < "
            f"{SUMMARY_TARGET_MS:.0f}) {verdict}"
        )


def main() -> None:
    """Build the stores, run the three phases, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="the served flow")
    parser.add_argument("--import-messages", type=int, default=100_000, help="~3 events each")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--idle-waves", type=int, default=10)
    parser.add_argument("--lock-seconds", type=float, default=20.0)
    args = parser.parse_args()

    base_url = sqlite_url(f"stall-base-{args.messages}.db")
    print(f"loading the {args.messages:,}-message flow (once) …", flush=True)
    workflow_id = ensure_bench_flow(base_url, args.messages)
    import_file = _import_file(args.import_messages)
    lines = sum(1 for _ in import_file.open())
    run_path = BENCH_DIR / "stall-run.db"
    database_url = _fresh_store(base_url, run_path)
    reports = BENCH_DIR / "stall-reports"  # the download's files, removed after the run
    os.environ["REPORTS_DIR"] = str(reports)  # serve inherits it
    flow, _, _, notifications = _grant(database_url, workflow_id)

    users = {DOWNLOADER: {"id": DOWNLOADER, "is_restricted": False, "profile": {}}}
    phases = [Phase("idle"), Phase("lock"), Phase("import")]
    with run_fake_slack(users=users) as fake:
        server, url = _start_server(database_url, fake)
        try:
            # Warm-up: Bolt's first auth.test, pools, imports, and the first download
            # (rendered and uploaded now, so later ones reuse it as Slack users would).
            asyncio.run(_run_phase(Phase("warm"), url, fake, workflow_id, args.users, waves=2))
            fake.wait_for("files.completeUploadExternal", 1, timeout=120)
            idle, lock, imports = phases

            def no_disturbance() -> None:
                asyncio.run(
                    _run_phase(idle, url, fake, workflow_id, args.users, waves=args.idle_waves)
                )

            def hold_lock() -> subprocess.Popen[bytes]:
                holder = subprocess.Popen(
                    [sys.executable, "-c", HOLD_LOCK, str(run_path), str(args.lock_seconds)],
                    stdout=subprocess.PIPE,
                )
                assert holder.stdout is not None
                holder.stdout.readline()  # "locked"
                asyncio.run(
                    _run_phase(lock, url, fake, workflow_id, args.users, while_running=holder)
                )
                return holder

            def run_import() -> subprocess.Popen[bytes]:
                env = os.environ | {"DATABASE_URL": database_url}
                importer = subprocess.Popen(
                    [_cli(), "import", str(import_file)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                asyncio.run(
                    _run_phase(imports, url, fake, workflow_id, args.users, while_running=importer)
                )
                return importer

            _measured(idle, server.pid, no_disturbance)
            _measured(lock, server.pid, hold_lock)
            _measured(imports, server.pid, run_import)
        finally:
            server.terminate()
            server.wait(timeout=30)
            shutil.rmtree(reports, ignore_errors=True)

    print(
        f"flow {flow.bot_id}/{flow.workflow_id}: {notifications:,} notifications; "
        f"{args.users} concurrent users per wave (one asks for a download); import: "
        f"{lines:,} events; lock held {args.lock_seconds:.0f} s; {os.cpu_count()} CPUs"
    )
    _report(phases)


if __name__ == "__main__":
    main()
