"""Benchmarks of issue 12: the timeline, import with the timeline rollups, the XLSX export.

    .venv/bin/python bench/bench_insight.py [timeline] [import] [xlsx]

Every figure is printed beside a baseline measured in the same run, CPU time beside wall time
(a shared 2-core machine: wall time includes waiting for the CPU, CPU time does not).

* ``timeline``: the timeline JSON (hour buckets; every bench flow spans 7 days, so 168 hours)
  beside the KPI JSON of the same flow on the same store, for 10k / 100k / 1M messages
  (targets: at most 2× the KPI JSON, and flat in flow size); then ``campaign-bot timeline
  --json`` beside ``campaign-bot kpis --json`` as whole processes. SQLite, and PostgreSQL
  unless ``BENCH_BACKENDS=sqlite``.
* ``import``: ``campaign-bot import`` of one NDJSON file (``BENCH_IMPORT_MESSAGES``, default
  100k messages ≈ 300k events) with this branch's code beside the same import with ``main``'s
  code (``git archive main`` into a temporary folder, run by the same interpreter), alternating,
  best and median of 3 (target: at least 0.85× of main's events/s).
* ``xlsx``: the XLSX export beside the CSV export of the same flows (100k and 1M messages, the
  store of ``bench_export.py``), each in a fresh process so its peak RSS is its own (targets:
  at least 0.3× the CSV's rows/s, peak RSS flat from 100k to 1M).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
IMPORT_MESSAGES = int(os.environ.get("BENCH_IMPORT_MESSAGES", "100000"))
REPEATS = 30
ROUNDS = 3


def _timed(fn, repeats: int = REPEATS) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Median and p95 wall time and median CPU time of ``repeats`` calls, in milliseconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.95) - 1], statistics.median(cpus)


# -- timeline ----------------------------------------------------------------------------------


def bench_timeline(backend: str) -> None:
    """Timeline JSON beside KPI JSON per flow size, in-process, then as CLI processes."""
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from bench.data import ensure_bench_flow, postgres_url, sqlite_url
    from reports.flows import find_flow
    from reports.kpis import compute_kpis, compute_timeline
    from store.db import create_db_engine
    from store.models import utcnow

    # Its own PostgreSQL database: the schema of this branch, not another benchmark's.
    url = sqlite_url("kpis.db") if backend == "sqlite" else postgres_url("crb_bench_insight")
    loads = {}
    for size in SIZES:  # build every store first, so timing never overlaps a load
        start = time.perf_counter()
        loads[size] = (ensure_bench_flow(url, size), time.perf_counter() - start)
    engine = create_db_engine(url)
    with engine.connect() as conn:  # a settled store: WAL folded in, statistics fresh
        conn.exec_driver_sql(
            "PRAGMA wal_checkpoint(TRUNCATE)" if backend == "sqlite" else "ANALYZE"
        )
        conn.commit()
    zone = ZoneInfo("Asia/Kolkata")
    print(f"\n## Timeline JSON beside KPI JSON on {backend} ({REPEATS} runs each; ms)")
    print(f"{'messages':>10} {'load s':>7} {'buckets':>8} {'timeline p50/p95':>17} "
          f"{'cpu':>6} {'kpis p50/p95':>13} {'cpu':>6} {'ratio':>6}")  # fmt: skip
    for size in SIZES:
        workflow_id, load = loads[size]
        query = f"bench-bot/{workflow_id}"
        buckets = []

        def timeline_json(query: str = query, buckets: list[int] = buckets) -> None:
            with Session(engine) as session:
                found = find_flow(session, query)
                line = compute_timeline(session.connection(), found, zone=zone, now=utcnow())
                json.dumps(line.to_json())
                buckets.append(len(line.series))

        def kpi_json(query: str = query) -> None:
            with Session(engine) as session:
                found = find_flow(session, query)
                json.dumps(compute_kpis(session.connection(), found, now=utcnow()).to_json())

        t50, t95, tcpu = _timed(timeline_json)
        k50, k95, kcpu = _timed(kpi_json)
        print(f"{size:>10,} {load:>7.1f} {buckets[-1]:>8} {t50:>8.2f}/{t95:<8.2f} {tcpu:>6.2f} "
              f"{k50:>6.2f}/{k95:<6.2f} {kcpu:>6.2f} {t50 / k50:>6.2f}")  # fmt: skip
    engine.dispose()
    _bench_cli(url, loads[SIZES[-1]][0])


def _bench_cli(url: str, workflow_id: str) -> None:
    """``campaign-bot timeline --json`` beside ``kpis --json``: whole processes, 5 runs each."""
    cli = str(Path(sys.executable).with_name("campaign-bot"))
    env = os.environ | {"DATABASE_URL": url, "REPORT_TIMEZONE": "Asia/Kolkata"}
    results = {}
    for command in ("timeline", "kpis"):
        walls, cpus = [], []
        for _ in range(5):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([cli, command, f"bench-bot/{workflow_id}", "--json"], env=env,
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        results[command] = (statistics.median(walls), statistics.median(cpus))
    (tw, tc), (kw, kc) = results["timeline"], results["kpis"]
    print(f"CLI, {workflow_id}: `timeline --json` {tw * 1000:.0f} ms (cpu {tc * 1000:.0f}) · "
          f"`kpis --json` {kw * 1000:.0f} ms (cpu {kc * 1000:.0f}) · ratio {tw / kw:.2f} "
          "(median of 5; mostly interpreter start-up)")  # fmt: skip
    print("targets: timeline ≤ 2× kpis, flat from 10k to 1M messages")


# -- import: this branch beside main ----------------------------------------------------------

IMPORT_CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from store.db import create_db_engine, upgrade_database
from store.importer import import_file
engine = create_db_engine(f"sqlite:///{sys.argv[2]}")
upgrade_database(engine)
start, cpu = time.perf_counter(), time.process_time()
import_file(engine, Path(sys.argv[3]))
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def _main_tree(target: Path) -> Path | None:
    """``main``'s files under ``target`` (``git archive``), or None when git cannot."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "main"], check=True,
                                 capture_output=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    target.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _import_once(tree: Path, db: Path, events: Path) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", IMPORT_CHILD, str(tree), str(db), str(events)],
                          check=True, capture_output=True, text=True)  # fmt: skip
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def bench_import() -> None:
    """NDJSON import with the timeline rollups (this tree) beside main's code, same file."""
    from bench.data import bench_events

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        main_tree = _main_tree(base / "main")
        path = base / "events.ndjson"
        with path.open("w") as handle:
            for event in bench_events("bench_import", IMPORT_MESSAGES):
                handle.write(event.model_dump_json(exclude_none=True) + "\n")
        events = sum(1 for _ in path.open("rb"))
        trees = {"this branch": ROOT} | ({"main": main_tree} if main_tree else {})
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for round_ in range(ROUNDS):
            for name, tree in trees.items():  # alternating: both see the same machine load
                runs[name].append(_import_once(tree, base / f"{name[:4]}{round_}.db", path))
    print(f"\n## NDJSON import on sqlite: {events:,} events ({IMPORT_MESSAGES:,} messages), "
          f"best / median of {ROUNDS}")  # fmt: skip
    for name, times in runs.items():
        walls = [w for w, _ in times]
        best_cpu = min(c for _, c in times)
        best, median = events / min(walls), events / statistics.median(walls)
        print(f"{name:>12}: {best:>8,.0f} / {median:>8,.0f} events/s "
              f"(cpu-bound best: {events / best_cpu:,.0f} events/s)")  # fmt: skip
    if "main" in runs:
        ours = min(w for w, _ in runs["this branch"])
        theirs = min(w for w, _ in runs["main"])
        ours_cpu = min(c for _, c in runs["this branch"])
        theirs_cpu = min(c for _, c in runs["main"])
        print(f"ratio (this branch / main), best wall: {theirs / ours:.2f}, best cpu: "
              f"{theirs_cpu / ours_cpu:.2f}; target ≥ 0.85")  # fmt: skip
    else:
        print("main's code could not be read with git archive: no baseline this run")


# -- xlsx beside csv ----------------------------------------------------------------------------

EXPORT_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from zoneinfo import ZoneInfo
from sqlmodel import Session
from reports.csv_export import export_csv
from reports.flows import find_flow
from reports.kpis import compute_kpis
from reports.xlsx_export import export_xlsx
from store.db import create_db_engine
from store.models import utcnow
engine = create_db_engine(f"sqlite:///{sys.argv[2]}")
with Session(engine) as session:
    flow = find_flow(session, sys.argv[3])
    report = compute_kpis(session.connection(), flow, now=utcnow())
    session.expunge(flow)
out, zone = Path(sys.argv[5]), ZoneInfo("Asia/Kolkata")
start, cpu = time.perf_counter(), time.process_time()
if sys.argv[4] == "csv":
    rows = export_csv(engine, flow, out, zone)
else:
    rows = export_xlsx(engine, flow, report, out, zone)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "peak_mb": peak,
                  "size_mb": out.stat().st_size / 2**20}))
"""


def bench_xlsx() -> None:
    """XLSX beside CSV for the 100k and 1M flows of bench_export's store, fresh processes."""
    from bench.bench_export import BENCH_DIR, BOT, DB_PATH, FLOWS, build_store

    if not DB_PATH.exists():
        start = time.perf_counter()
        build_store(DB_PATH)
        print(f"built {DB_PATH} in {time.perf_counter() - start:.1f} s")
    print("\n## XLSX export beside the CSV export of the same flow (sqlite, Asia/Kolkata)")
    print(f"{'rows':>10} {'format':>6} {'rows/s':>9} {'cpu rows/s':>11} {'seconds':>8} "
          f"{'peak RSS':>9} {'file':>8}")  # fmt: skip
    peaks: dict[str, list[float]] = {"csv": [], "xlsx": []}
    ratios = []
    for workflow_id, count in FLOWS.items():
        figures = {}
        for kind in ("csv", "xlsx"):
            out = BENCH_DIR / f"insight.{kind}"
            done = subprocess.run([sys.executable, "-c", EXPORT_CHILD, str(ROOT), str(DB_PATH),
                                   f"{BOT}/{workflow_id}", kind, str(out)],
                                  check=True, capture_output=True, text=True)  # fmt: skip
            result = json.loads(done.stdout)
            out.unlink()
            assert result["rows"] == count, result
            figures[kind] = result
            peaks[kind].append(result["peak_mb"])
            print(f"{count:>10,} {kind:>6} {count / result['seconds']:>9,.0f} "
                  f"{count / result['cpu']:>11,.0f} {result['seconds']:>8.2f} "
                  f"{result['peak_mb']:>6.0f} MB {result['size_mb']:>5.0f} MB")  # fmt: skip
        wall = figures["csv"]["seconds"] / figures["xlsx"]["seconds"]
        cpu = figures["csv"]["cpu"] / figures["xlsx"]["cpu"]
        ratios.append((count, wall, cpu))
    for count, wall, cpu in ratios:
        print(f"ratio xlsx/csv at {count:,} rows: wall {wall:.2f}, cpu {cpu:.2f}; target ≥ 0.3")
    growth = peaks["xlsx"][-1] - peaks["xlsx"][0]
    print(f"XLSX peak RSS growth 100k → 1M rows: {growth:+.0f} MB (target: flat)")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["timeline", "import", "xlsx"]
    if "timeline" in chosen:
        for backend in BACKENDS:
            bench_timeline(backend)
    if "import" in chosen:
        bench_import()
    if "xlsx" in chosen:
        bench_xlsx()
