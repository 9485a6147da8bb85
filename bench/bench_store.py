"""Benchmark: KPI JSON for flows of 10k / 100k / 1M messages, and NDJSON import throughput.

Every figure is printed beside a baseline measured in the same run on the same data:
- KPIs: one ``SELECT count(*)`` over the flow's messages (what a report that counted rows
  would pay at the very least);
- import: the same rows written by plain batched inserts (``sqlite3`` executemany, 5,000 a
  batch) into tables without rollups, after the same ``json.loads`` of each line.

Sizes: ``BENCH_SIZES=10000,100000`` overrides the default ``10000,100000,1000000``;
``BENCH_BACKENDS=sqlite`` skips PostgreSQL. The 1M stores are built once under var/bench/
(SQLite) and in database ``crb_bench`` (PostgreSQL) and reused by later runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import bench_events, ensure_bench_flow, postgres_url, sqlite_url
from reports.flows import find_flow
from reports.kpis import compute_kpis
from store.db import create_db_engine, upgrade_database
from store.importer import import_file
from store.models import Message, utcnow

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
REPEATS = 30
IMPORT_MESSAGES = int(os.environ.get("BENCH_IMPORT_MESSAGES", "100000"))
IMPORT_ROUNDS = 3


def _timed(fn, repeats: int = REPEATS) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median and p95 of ``repeats`` calls, in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def bench_kpis(backend: str) -> None:
    """KPI JSON time per flow size beside ``SELECT count(*)`` over the flow's messages."""
    url = sqlite_url("kpis.db") if backend == "sqlite" else postgres_url()
    print(f"\n## KPI JSON on {backend} ({REPEATS} runs each; ms)")
    print(
        f"{'messages':>10} {'load s':>8} {'kpis p50':>9} {'kpis p95':>9} "
        f"{'count(*) p50':>13} {'ratio':>7}"
    )
    loads = {}
    for size in SIZES:  # build every store first, so timing never overlaps a load
        start = time.perf_counter()
        loads[size] = (ensure_bench_flow(url, size), time.perf_counter() - start)
    engine = create_db_engine(url)
    with engine.connect() as conn:  # start from a settled store: WAL folded in, stats fresh
        conn.exec_driver_sql(
            "PRAGMA wal_checkpoint(TRUNCATE)" if backend == "sqlite" else "ANALYZE"
        )
        conn.commit()
    for size in SIZES:
        workflow_id, load = loads[size]
        with Session(engine) as session:
            flow = find_flow(session, f"bench-bot/{workflow_id}")
            flow_id = flow.id

        def kpi_json(workflow_id: str = workflow_id) -> None:
            with Session(engine) as session:
                found = find_flow(session, f"bench-bot/{workflow_id}")
                report = compute_kpis(session.connection(), found, now=utcnow())
                json.dumps(report.to_json())

        def count_rows(flow_id: int | None = flow_id) -> None:
            with engine.connect() as conn:
                table = Message.__table__
                conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.flow_id == flow_id)
                ).scalar_one()

        kpi_p50, kpi_p95 = _timed(kpi_json)
        count_p50, _ = _timed(count_rows)
        print(
            f"{size:>10,} {load:>8.1f} {kpi_p50:>9.2f} {kpi_p95:>9.2f} {count_p50:>13.2f} "
            f"{kpi_p50 / count_p50:>7.2f}"
        )
    engine.dispose()


def _plain_inserts(path: Path, db: Path) -> float:
    """Seconds to json.loads every line and insert it into a plain table, batched."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE message_plain (bot_id, workflow_id, message_id, user_id, source,"
        " status, at, template_id, custom_payload, error_code, comments, event_id)"
    )
    conn.execute(
        "CREATE TABLE user_event_plain (bot_id, workflow_id, type, user_id, source,"
        " message_id, url, at, event_id)"
    )
    start = time.perf_counter()
    messages, actions = [], []
    with path.open("rb") as handle:
        for line in handle:
            e = json.loads(line)
            if e["type"] == "message":
                messages.append(
                    (
                        e["bot_id"],
                        e["workflow_id"],
                        e["message_id"],
                        e["user_id"],
                        e["source"],
                        e["status"],
                        e["at"],
                        e.get("template_id"),
                        json.dumps(e.get("custom_payload")),
                        e.get("error_code"),
                        e.get("comments"),
                        e.get("event_id"),
                    )
                )
            elif e["type"] != "flow":
                actions.append(
                    (
                        e["bot_id"],
                        e["workflow_id"],
                        e["type"],
                        e["user_id"],
                        e.get("source"),
                        e.get("message_id"),
                        e.get("url"),
                        e["at"],
                        e.get("event_id"),
                    )
                )
            if len(messages) + len(actions) >= 5000:
                conn.executemany(
                    "INSERT INTO message_plain VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", messages
                )
                conn.executemany("INSERT INTO user_event_plain VALUES (?,?,?,?,?,?,?,?,?)", actions)
                messages, actions = [], []
    conn.executemany("INSERT INTO message_plain VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", messages)
    conn.executemany("INSERT INTO user_event_plain VALUES (?,?,?,?,?,?,?,?,?)", actions)
    conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def bench_import() -> None:
    """``import`` of an NDJSON file beside plain batched inserts of the same rows (SQLite).

    Both run ``IMPORT_ROUNDS`` times, alternating, each into a fresh database; the best and the
    median are printed, since a shared virtual machine's timings vary by ±15% run to run.
    """
    ours: list[float] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        with path.open("w") as handle:
            for event in bench_events("bench_import", IMPORT_MESSAGES):
                handle.write(event.model_dump_json(exclude_none=True) + "\n")
        events = sum(1 for _ in path.open("rb"))
        for round_ in range(IMPORT_ROUNDS):
            engine = create_db_engine(f"sqlite:///{tmp}/import{round_}.db")
            upgrade_database(engine)
            start = time.perf_counter()
            import_file(engine, path)
            ours.append(time.perf_counter() - start)
            engine.dispose()
            plain.append(_plain_inserts(path, Path(tmp) / f"plain{round_}.db"))
    print(f"\n## NDJSON import on sqlite: {events:,} events ({IMPORT_MESSAGES:,} messages), "
          f"best / median of {IMPORT_ROUNDS}")  # fmt: skip
    for label, times in (("campaign-bot import ", ours), ("plain batched insert", plain)):
        best, median = min(times), statistics.median(times)
        print(f"{label}: {events / best:>10,.0f} / {events / median:>10,.0f} events/s")
    print(f"ratio (import / plain), best: {min(plain) / min(ours):.2f}; target: 30,000 events/s")


if __name__ == "__main__":
    for backend in BACKENDS:
        bench_kpis(backend)
    bench_import()
