"""Benchmark: signed ``/campaign-report`` → ack, and → summary posted to ``response_url``.

Runs ``campaign-bot serve`` in a subprocess against the Slack stand-in (tests/fakes), with
``--users`` concurrent users each sending signed slash commands for the big flow, and prints
p50/p95 of the ack (HTTP response) and of the summary (arrival at the stand-in's
``response_url``), beside the KPI engine call alone measured in the same run.

Targets (issue #3): ack p95 < 100 ms, summary p95 < 1 s.

    .venv/bin/python bench/bench_slack.py [--messages 1000000] [--users 20] [--waves 20]
                                          [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from bench.data import ensure_bench_flow, postgres_url, sqlite_url  # noqa: E402
from reports.kpis import compute_kpis  # noqa: E402
from store.db import create_db_engine  # noqa: E402
from store.models import Flow, WorkspaceGrant, utcnow  # noqa: E402
from tests.fakes.slack_api import FakeSlack, run_fake_slack  # noqa: E402
from tests.fakes.slack_requests import signed_headers, slash_command  # noqa: E402

SECRET = "bench-signing-secret"  # noqa: S105 (signs requests to our own local server)
TEAM = "T0BENCH"
ACK_TARGET_MS = 100.0
SUMMARY_TARGET_MS = 1000.0


def _cli() -> str:
    return str(Path(sys.executable).with_name("campaign-bot"))


def _grant(database_url: str, workflow_id: str) -> tuple[Flow, float, float, int]:
    """Grant the bench workspace; time the KPI engine alone (p50, p95 in ms, messages)."""
    engine = create_db_engine(database_url)
    with Session(engine) as session:
        flow = session.exec(select(Flow).where(Flow.workflow_id == workflow_id)).one()
        if session.get(WorkspaceGrant, (TEAM, flow.bot_id)) is None:
            session.add(WorkspaceGrant(team_id=TEAM, bot_id=flow.bot_id))
            session.commit()
        session.refresh(flow)
        session.expunge(flow)  # keep its loaded fields through the rollbacks below
        timings = []
        for _ in range(200):
            started = time.perf_counter()
            report = compute_kpis(session.connection(), flow, now=utcnow())
            timings.append((time.perf_counter() - started) * 1000)
            session.rollback()
    engine.dispose()
    notifications = report.total_notifications
    return flow, _pct(timings, 50), _pct(timings, 95), notifications


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(database_url: str, fake: FakeSlack) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "SLACK_APP_TOKEN": "",
    }
    process = subprocess.Popen(
        [_cli(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("campaign-bot serve did not start")


async def _load(
    base_url: str, fake: FakeSlack, query: str, users: int, waves: int
) -> tuple[list[float], list[float], int]:
    """``waves`` times, all ``users`` send the command at once and wait for their summaries.

    That is what "20 concurrent users" means in Slack: people who each type the command and
    read the answer before asking again — not clients firing without pause.
    """
    acks: list[float] = []
    summaries: list[float] = []
    failures = 0

    async def user(session: aiohttp.ClientSession, key: str) -> None:
        nonlocal failures
        form = slash_command(query, team_id=TEAM, response_url=fake.response_url(key))
        body = urlencode(form).encode()
        headers = signed_headers(SECRET, body)
        started = time.perf_counter()
        async with session.post(f"{base_url}/slack/events", data=body, headers=headers) as reply:
            await reply.read()
            acks.append((time.perf_counter() - started) * 1000)
            failures += reply.status != 200
        answer = await asyncio.to_thread(fake.wait_for_response_call, key, 60)
        summaries.append((answer.at - started) * 1000)

    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector) as session:
        for wave in range(waves):
            await asyncio.gather(*(user(session, f"w{wave}-u{n}") for n in range(users)))
    return acks, summaries, failures


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="use the local PostgreSQL")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--waves", type=int, default=20, help="rounds of --users commands")
    args = parser.parse_args()

    # Shared with bench_store.py: the 1M-message flow is loaded once per database.
    database_url = postgres_url() if args.postgres else sqlite_url("kpis.db")
    print(f"loading the {args.messages:,}-message flow (once per database) …", flush=True)
    workflow_id = ensure_bench_flow(database_url, args.messages)
    flow, kpi_p50, kpi_p95, notifications = _grant(database_url, workflow_id)
    with run_fake_slack() as fake:
        process, base_url = _start_server(database_url, fake)
        try:
            # Warm-up: Bolt's first auth.test, connection pools, imports.
            asyncio.run(_load(base_url, fake, flow.workflow_id, args.users, 2))
            acks, summaries, failures = asyncio.run(
                _load(base_url, fake, flow.workflow_id, args.users, args.waves)
            )
        finally:
            process.terminate()
            process.wait(timeout=10)

    print(f"flow {flow.bot_id}/{flow.workflow_id} “{flow.name}”: {notifications:,} notifications")
    print(f"data: bench.data.ensure_bench_flow({args.messages:,}) in {database_url}")
    print(
        f"{args.waves} waves of {args.users} concurrent users, {len(acks)} signed commands, "
        f"failures: {failures}"
    )
    print(f"{'measure':<38}{'p50 ms':>10}{'p95 ms':>10}  target p95")
    print(f"{'KPI engine alone (compute_kpis)':<38}{kpi_p50:>10.1f}{kpi_p95:>10.1f}  —")
    ack_p95 = _pct(acks, 95)
    summary_p95 = _pct(summaries, 95)
    ack_ok = "ok" if ack_p95 < ACK_TARGET_MS else "MISSED"
    summary_ok = "ok" if summary_p95 < SUMMARY_TARGET_MS else "MISSED"
    print(f"{'ack (HTTP 200 from /slack/events)':<38}{_pct(acks, 50):>10.1f}{ack_p95:>10.1f}"
          f"  < {ACK_TARGET_MS:.0f} {ack_ok}")  # fmt: skip
    print(f"{'summary at response_url':<38}{_pct(summaries, 50):>10.1f}{summary_p95:>10.1f}"
          f"  < {SUMMARY_TARGET_MS:.0f} {summary_ok}")  # fmt: skip


if __name__ == "__main__":
    main()
