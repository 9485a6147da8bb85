"""Benchmark of the full reports: CSV export speed and memory, PDF render time.

    .venv/bin/python bench/bench_export.py [--rebuild]

Builds (once) a migrated SQLite store under ``var/bench/`` with two flows of 100,000 and
1,000,000 messages. The export reads only ``flow`` and ``message`` rows, so the messages are
bulk-inserted directly; the flow's rollup counters (what the PDF shows) are computed from the
same generated rows and written beside them. Then, in the same run:

* ``sqlite3 -csv`` exports the same rows from the same file (the baseline), then
  ``reports.csv_export.export_csv`` does, in a fresh process each time, so its peak RSS is its
  own; rows per second are printed side by side (target: at least a third of sqlite3's);
* peak RSS at 100k and 1M rows (target under 200 MB and flat);
* the PDF render time of the 1M-message flow's report (target under 1 s).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DIR = ROOT / "var" / "bench"
DB_PATH = BENCH_DIR / "export.db"
BOT = "bench-bot"
FLOWS = {"bench_100k": 100_000, "bench_1m": 1_000_000}
CHANNELS = [("whatsapp", 60), ("sms", 25), ("email", 10), ("push", 5)]
STATUSES = [("read", 40), ("delivered", 25), ("sent", 25), ("failed", 8), ("queued", 2)]
REASONS = [("1408", "Not a WhatsApp number"), ("550", "Mailbox unavailable"), ("30007", None)]
SQLITE_QUERY = (
    "SELECT bot_id, user_id, source, status, ip_address, message_id, "
    "(SELECT workflow_id FROM flow WHERE flow.id = message.flow_id), custom_payload, "
    "template_id, sent_by, comments, created_at, scheduled_at, updated_at "
    "FROM message WHERE flow_id = {flow_id} ORDER BY message_id"
)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build_store(path: Path) -> None:
    """A migrated SQLite store holding the bench flows, their messages and rollups."""
    from store.db import create_db_engine, upgrade_database
    from store.ingest.reporting import DEFAULT_DELIVERY_CHANNELS
    from store.ingest.rules import failure_reason, message_counters

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    rng = random.Random(7)
    t0 = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
    db = sqlite3.connect(path)
    now = _stamp(datetime.now(UTC))
    db.execute("INSERT INTO bot (bot_id, created_at) VALUES (?, ?)", (BOT, now))
    for workflow_id, count in FLOWS.items():
        flow_id = db.execute(
            "INSERT INTO flow (bot_id, workflow_id, name, status, goal, channels, scheduled_at,"
            " created_at, updated_at) VALUES (?, ?, ?, 'completed', 'purchase', ?, ?, ?, ?)",
            (BOT, workflow_id, f"Bench {workflow_id}", json.dumps([c for c, _ in CHANNELS]),
             _stamp(t0), now, now),
        ).lastrowid  # fmt: skip
        stats: dict[str, Counter[str]] = {"": Counter()}
        reasons: Counter[tuple[str, str]] = Counter()
        rows = []
        for index in range(count):
            source = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
            code, comment = rng.choice(REASONS) if status == "failed" else (None, None)
            created = t0 + timedelta(seconds=index // 10, microseconds=rng.choice((0, 250_000)))
            updated = created + timedelta(seconds=rng.randint(1, 600))
            user = f"+9198{index:08d}" if source != "email" else f"user{index}@mail.example"
            rows.append((
                flow_id, BOT, f"{workflow_id}-m{index:07d}", user, source, status,
                _stamp(updated), "203.0.113.9" if index % 3 == 0 else None,
                json.dumps({"segment": "festive", "offer": f"DIWALI{index % 4}0"}),
                f"tpl-{source}", "ops@acme.example", comment, code,
                _stamp(created), _stamp(t0), _stamp(updated),
            ))  # fmt: skip
            delta = message_counters(source, status, DEFAULT_DELIVERY_CHANNELS)
            stats[""].update(delta)
            stats.setdefault(source, Counter()).update(delta)
            if status == "failed":
                reasons[(source, failure_reason(code, comment))] += 1
            if len(rows) >= 50_000:
                _insert_messages(db, rows)
                rows = []
        _insert_messages(db, rows)
        for source, counter in stats.items():
            events = counter["messages"]
            db.execute(
                "INSERT INTO flow_stat (flow_id, source, events, engagement, click_users,"
                " conversation_users, goal_users, audience_users, reach_users, entered_users,"
                " exited_users, in_flow_users, messages, notifications, impressions, sent,"
                " delivered, read, failed) VALUES (?, ?, ?, 0, 0, 0, 0, ?, ?, ?, 0, ?, ?, ?, ?,"
                " ?, ?, ?, ?)",
                (flow_id, source, events, events, counter["impressions"],
                 events if source == "" else 0, events if source == "" else 0, events,
                 counter["notifications"], counter["impressions"], counter["sent"],
                 counter["delivered"], counter["read"], counter["failed"]),
            )  # fmt: skip
        db.executemany(
            "INSERT INTO failure_reason_stat (flow_id, source, reason, count) VALUES (?, ?, ?, ?)",
            [(flow_id, source, reason, n) for (source, reason), n in reasons.items()],
        )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _insert_messages(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO message (flow_id, bot_id, message_id, user_id, source, status, status_at,"
        " ip_address, custom_payload, template_id, sent_by, comments, error_code, created_at,"
        " scheduled_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def child_export(db: Path, workflow_id: str, out: Path, zone: str) -> None:
    """Run in a fresh process: export one flow, print rows, seconds and peak RSS as JSON."""
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from reports.csv_export import export_csv
    from reports.flows import find_flow
    from store.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        flow = find_flow(session, f"{BOT}/{workflow_id}")
    start = time.perf_counter()
    rows = export_csv(engine, flow, out, ZoneInfo(zone))
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_kb / 1024}))


def run_sqlite3(db: Path, flow_id: int, out: Path) -> float:
    """Seconds ``sqlite3 -csv`` takes to export the same rows to a file."""
    start = time.perf_counter()
    with out.open("wb") as stream:
        subprocess.run(
            ["/usr/bin/sqlite3", "-csv", "-header", str(db), SQLITE_QUERY.format(flow_id=flow_id)],
            stdout=stream,
            check=True,
        )
    return time.perf_counter() - start


def run_export(db: Path, workflow_id: str, out: Path, zone: str) -> dict[str, float]:
    """Our export in a fresh interpreter; its own figures."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(db), workflow_id, str(out), zone],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def bench_pdf(db: Path, workflow_id: str, zone: str) -> tuple[float, int]:
    """Best-of-three seconds to render the flow's PDF from its KPIs, and the PDF's size."""
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from reports.flows import find_flow
    from reports.kpis import compute_kpis
    from reports.pdf import render_pdf
    from store.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        flow = find_flow(session, f"{BOT}/{workflow_id}")
        report = compute_kpis(session.connection(), flow, now=datetime.now(UTC))
    timings = []
    size = 0
    for _ in range(3):
        start = time.perf_counter()
        size = len(render_pdf(report, ZoneInfo(zone)))
        timings.append(time.perf_counter() - start)
    return min(timings), size


def main() -> None:
    """Build the store if needed, then print every figure beside its baseline or target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bench store")
    parser.add_argument("--zone", default="Asia/Kolkata", help="REPORT_TIMEZONE of the export")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        db, workflow_id, out, zone = args.child
        child_export(Path(db), workflow_id, Path(out), zone)
        return
    if args.rebuild or not DB_PATH.exists():
        start = time.perf_counter()
        build_store(DB_PATH)
        print(f"built {DB_PATH} in {time.perf_counter() - start:.1f} s")
    with sqlite3.connect(DB_PATH) as db:
        flow_ids = dict(db.execute("SELECT workflow_id, id FROM flow"))
    print(f"CSV export, REPORT_TIMEZONE={args.zone}, {DB_PATH}")
    print(f"{'rows':>10} {'sqlite3 -csv':>16} {'export_csv':>16} {'ratio':>7} {'peak RSS':>10}")
    peaks = []
    for workflow_id, count in FLOWS.items():
        baseline = run_sqlite3(DB_PATH, flow_ids[workflow_id], BENCH_DIR / "sqlite3.csv")
        ours = run_export(DB_PATH, workflow_id, BENCH_DIR / "export.csv", args.zone)
        assert ours["rows"] == count, ours
        base_rate, our_rate = count / baseline, count / ours["seconds"]
        peaks.append(ours["peak_mb"])
        print(
            f"{count:>10,} {base_rate:>10,.0f} rows/s {our_rate:>10,.0f} rows/s "
            f"{our_rate / base_rate:>7.2f} {ours['peak_mb']:>7.0f} MB"
        )
    print("targets: ratio >= 0.33; peak RSS < 200 MB and flat from 100k to 1M rows")
    print(f"peak RSS growth 100k → 1M: {peaks[-1] - peaks[0]:+.0f} MB")
    seconds, size = bench_pdf(DB_PATH, "bench_1m", args.zone)
    print(
        f"PDF of the 1M-message flow: {seconds:.3f} s (best of 3), {size / 1024:.0f} KiB; "
        "target < 1 s"
    )


if __name__ == "__main__":
    main()
