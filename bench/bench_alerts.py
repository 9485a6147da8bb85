"""Benchmark: ``alerts check`` — 200 alerts over 50 live flows on a 1M-message store.

The store holds 50 live flows of 20,000 messages each (1M messages, ~3M events; built once
under var/bench/alerts.db, or in PostgreSQL database ``crb_bench_alerts``). One workspace
has 200 alerts: 180 on one flow each (delivery_rate, failure_rate, read_rate and
error:CODE, some of which fire) and 20 on ``all`` flows, so a check makes 1,180 judgements.

Measured in the same run, wall time and CPU time of the process:
- the first check (every state new, ~40% of the judgements fire: state rows, alert events
  and deliveries written), then the outbox sending its messages to the Slack stand-in —
  what ``campaign-bot alerts check`` does, in process;
- a steady check (nothing changed since the last one: no writes), the scheduler's usual job;
- the baseline: 50 KPI computations, one per live flow (``compute_kpis``), which is the
  least a check that reads every watched flow's KPIs must do.
- ``campaign-bot alerts check`` as a whole process, steady, beside ``campaign-bot --version``
  (the interpreter and the CLI's imports alone).

Target (issue #13): ``alerts check`` < 2 s. ``BENCH_BACKENDS=sqlite`` skips PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data import BENCH_BOT, bench_events, postgres_url, sqlite_url  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.wiring import build_runtime  # noqa: E402
from reports.kpis import compute_kpis  # noqa: E402
from scheduler.alerts import check_alerts  # noqa: E402
from scheduler.outbox import run_outbox_once  # noqa: E402
from store.alerts import create_alert  # noqa: E402
from store.db import create_db_engine, upgrade_database, write_transaction  # noqa: E402
from store.events import FlowEvent  # noqa: E402
from store.ingest import ingest_events  # noqa: E402
from store.models import (  # noqa: E402
    ALL_CHANNELS,
    Alert,
    AlertEvent,
    AlertState,
    Delivery,
    Flow,
    FlowStat,
    WorkspaceGrant,
    utcnow,
)
from tests.fakes.slack_api import run_fake_slack  # noqa: E402

BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
FLOWS = 50
MESSAGES_PER_FLOW = 20_000
TEAM = "T0BENCH"
TARGET_S = 2.0
REPEATS = 5
# Per flow: 180 one-flow alerts spread over the 50 flows, then 20 on all flows.
# Thresholds near the flows' values (failure rate 9.6-10.6%, delivery rate 84.3-85.8%, read
# rate 67.4-70.2%, 620-728 failures with 131049, 1,886-2,078 failed): about 1 in 5 fires.
ONE_FLOW = (
    ("failure_rate", ">", 10.4),
    ("delivery_rate", "<", 84.5),
    ("read_rate", "<", 68.0),
    ("error:131049", ">", 690.0),
)
ALL_FLOWS = (("failure_rate", ">", 10.4), ("failed", ">", 2_040.0))


def _workflow(n: int) -> str:
    return f"alerts_{n:02d}"


def ensure_store(url: str) -> None:
    """50 live flows of 20k messages each; built once, reused by later runs."""
    engine = create_db_engine(url)
    upgrade_database(engine)
    stat, flow = FlowStat.__table__, Flow.__table__
    with engine.connect() as conn:
        loaded = dict(
            conn.execute(
                sa.select(flow.c.workflow_id, stat.c.messages)
                .join(stat, stat.c.flow_id == flow.c.id)
                .where(flow.c.bot_id == BENCH_BOT, stat.c.source == ALL_CHANNELS)
            ).all()
        )
    for n in range(FLOWS):
        if loaded.get(_workflow(n)) == MESSAGES_PER_FLOW:
            continue
        start = time.perf_counter()
        events = bench_events(_workflow(n), MESSAGES_PER_FLOW, seed=n + 1)
        ingest_events(engine, ((f"bench {i}", e) for i, e in enumerate(events)))
        print(f"  loaded {_workflow(n)} in {time.perf_counter() - start:.1f} s", flush=True)
    live = [
        (f"live {n}", FlowEvent(type="flow", bot_id=BENCH_BOT, workflow_id=_workflow(n),
                                name=f"Alerts bench {n:02d}", status="live"))
        for n in range(FLOWS)
    ]  # fmt: skip
    ingest_events(engine, live)
    with Session(engine) as session:
        if session.get(WorkspaceGrant, (TEAM, BENCH_BOT)) is None:
            session.add(WorkspaceGrant(team_id=TEAM, bot_id=BENCH_BOT))
            session.commit()
    engine.dispose()


def reset_alerts(engine: sa.Engine) -> None:
    """200 fresh alerts with no state, event or delivery yet."""
    with write_transaction(engine) as conn:
        conn.execute(sa.delete(Delivery.__table__).where(Delivery.__table__.c.request_id.is_(None)))
        for model in (AlertEvent, AlertState, Alert):
            conn.execute(sa.delete(model.__table__))
    with Session(engine) as session:
        flows = session.exec(
            select(Flow).where(Flow.bot_id == BENCH_BOT, Flow.status == "live").order_by(Flow.id)  # type: ignore[arg-type]
        ).all()
        alerts: list[tuple[int | None, tuple[str, str, float]]] = []
        for n in range(180):
            alerts.append((flows[n % FLOWS].id, ONE_FLOW[(n // FLOWS) % len(ONE_FLOW)]))
        alerts += [(None, ALL_FLOWS[n % len(ALL_FLOWS)]) for n in range(20)]
        for flow_id, (metric, op, threshold) in alerts:
            create_alert(
                session, team_id=TEAM, created_by="U0BENCH", flow_id=flow_id, metric=metric,
                op=op, threshold=threshold, min_notifications=100,
                recipients=["slack_channel:C0BENCH"], now=utcnow(),
            )  # fmt: skip


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def median_of(samples: list[tuple[float, float, Any]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def bench(backend: str) -> None:
    url = sqlite_url("alerts.db") if backend == "sqlite" else postgres_url("crb_bench_alerts")
    print(f"\n## alerts check on {backend}: 200 alerts over {FLOWS} live flows, "
          f"{FLOWS * MESSAGES_PER_FLOW:,} messages", flush=True)  # fmt: skip
    start = time.perf_counter()
    ensure_store(url)
    print(f"store ready in {time.perf_counter() - start:.1f} s")
    engine = create_db_engine(url)
    with engine.connect() as conn:  # a settled store: WAL folded in, statistics fresh
        conn.exec_driver_sql(
            "PRAGMA wal_checkpoint(TRUNCATE)" if backend == "sqlite" else "ANALYZE"
        )
        conn.commit()
    with run_fake_slack() as fake:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=url, SLACK_BOT_TOKEN=fake.token, SLACK_API_URL=fake.api_url,
        )  # fmt: skip
        from bot.slack import build_web_client

        runtime = build_runtime(settings, engine, build_web_client(settings))

        firsts, sends = [], []
        for _ in range(3):
            reset_alerts(engine)
            first = timed(lambda: check_alerts(runtime, utcnow()))
            events = first[2].events
            firsts.append(first)
            send = lambda events=events: asyncio.run(run_outbox_once(runtime, only_alerts=events))  # noqa: E731
            sends.append(timed(send))
        judgements, queued = len(firsts[0][2].lines), len(firsts[0][2].events)
        assert sends[0][2].sent == queued, "a message was not sent"
        steady = [timed(lambda: check_alerts(runtime, utcnow())) for _ in range(REPEATS)]
        assert not steady[-1][2].events, "a steady check sent something"

    def kpis_of_every_flow() -> None:
        with Session(engine) as session:
            for flow in session.exec(
                select(Flow).where(Flow.bot_id == BENCH_BOT, Flow.status == "live")
            ):
                compute_kpis(session.connection(), flow, now=utcnow())

    baseline = [timed(kpis_of_every_flow) for _ in range(REPEATS)]
    env = os.environ | {"DATABASE_URL": url, "SLACK_BOT_TOKEN": ""}
    cli = str(Path(sys.executable).with_name("campaign-bot"))
    command = [cli, "alerts", "check"]
    process = [
        timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True))
        for _ in range(3)
    ]
    version = [cli, "--version"]  # the process's start-up alone: imports, no store
    startup = [
        timed(lambda: subprocess.run(version, env=env, check=True, capture_output=True))
        for _ in range(3)
    ]
    engine.dispose()

    print(f"{judgements:,} judgements per check; the first one fired {queued} and sent them")
    print(f"{'measured (median)':<60} {'wall s':>7} {'CPU s':>7}")
    rows = [
        ("first check: every state new, transitions written (of 3)", median_of(firsts)),
        (f"  then the outbox posting its {queued} messages to the stand-in", median_of(sends)),
        (f"steady check: nothing changed, nothing written (of {REPEATS})", median_of(steady)),
        (f"baseline: 50 KPI computations, one per live flow (of {REPEATS})", median_of(baseline)),
    ]
    for label, (wall, cpu) in rows:
        print(f"{label:<60} {wall:>7.3f} {cpu:>7.3f}")
    wall = statistics.median(p[0] for p in process)
    print(f"{'campaign-bot alerts check as a process, steady (of 3)':<60} {wall:>7.3f} {'-':>7}")
    wall = statistics.median(p[0] for p in startup)
    print(f"{'  baseline: campaign-bot --version as a process (of 3)':<60} {wall:>7.3f} {'-':>7}")
    worst = max(median_of(firsts)[0], median_of(steady)[0])
    verdict = "met" if worst < TARGET_S else "NOT met"
    ratio = median_of(steady)[0] / median_of(baseline)[0]
    print(
        f"target: a check < {TARGET_S:.0f} s: {verdict}; steady check = {ratio:.2f}x the baseline"
    )


if __name__ == "__main__":
    for backend in BACKENDS:
        bench(backend)
