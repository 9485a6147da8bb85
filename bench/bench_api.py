"""Benchmark: events per second over the HTTP API beside ``campaign-bot import``, same events.

    .venv/bin/python bench/bench_api.py [--messages 20000] [--clients 4] [--batch 5000]

Generates the demo events (3 bots) as NDJSON, then, each on a fresh SQLite store:

1. baseline: ``campaign-bot import events.ndjson`` (timed as a whole process);
2. HTTP: ``campaign-bot serve`` on a loopback port; ``--clients`` threads, each with its own
   httpx client, post the same events as NDJSON batches of ``--batch`` (one bot per batch,
   with that bot's key) until none are left. Timed from the first request to the last answer.

Both stores must end with the same KPIs for every demo flow, which the script checks.
Targets (issue #6): HTTP at least half the import rate, and 20,000 events/s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store.demo import generate_demo_events

CLI = str(Path(sys.executable).with_name("campaign-bot"))
TARGET_EVENTS_PER_S = 20_000
TARGET_RATIO = 0.5


def campaign_bot(store: Path, *args: str) -> str:
    """Run the CLI on ``store``; its stdout."""
    env = os.environ | {"DATABASE_URL": f"sqlite:///{store}"}
    run = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"campaign-bot {' '.join(args)} failed:\n{run.stderr}")
    return run.stdout


def free_port() -> int:
    """A port that was free a moment ago on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_import(events_file: Path, store: Path) -> float:
    """Seconds taken by ``campaign-bot import`` (schema created beforehand, not timed)."""
    campaign_bot(store, "db", "upgrade")
    start = time.perf_counter()
    campaign_bot(store, "import", str(events_file))
    return time.perf_counter() - start


def build_batches(events: list[dict[str, Any]], size: int) -> list[tuple[str, bytes]]:
    """``(bot_id, NDJSON body)`` batches of at most ``size`` events, each for one bot."""
    by_bot: dict[str, list[bytes]] = defaultdict(list)
    for event in events:
        by_bot[event["bot_id"]].append(json.dumps(event).encode())
    batches = []
    for bot_id, lines in by_bot.items():
        for start in range(0, len(lines), size):
            batches.append((bot_id, b"\n".join(lines[start : start + size])))
    return batches


def time_http(store: Path, batches: list[tuple[str, bytes]], clients: int) -> float:
    """Seconds for ``clients`` concurrent clients to post every batch to a fresh server."""
    campaign_bot(store, "db", "upgrade")
    keys = {bot: campaign_bot(store, "api-key", "create", bot).strip() for bot, _ in batches}
    port = free_port()
    env = os.environ | {"DATABASE_URL": f"sqlite:///{store}"}
    server = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url)
        work: queue.Queue[tuple[str, bytes]] = queue.Queue()
        for batch in batches:
            work.put(batch)
        failures: list[str] = []

        def client() -> None:
            with httpx.Client(base_url=base_url, timeout=120) as http:
                while True:
                    try:
                        bot, body = work.get_nowait()
                    except queue.Empty:
                        return
                    response = http.post(
                        "/api/v1/events",
                        content=body,
                        headers={
                            "Authorization": f"Bearer {keys[bot]}",
                            "Content-Type": "application/x-ndjson",
                        },
                    )
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:300]}")

        threads = [threading.Thread(target=client) for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        if failures:
            raise SystemExit(f"{len(failures)} request(s) failed, first: {failures[0]}")
        return elapsed
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(base_url: str) -> None:
    """Poll /healthz until the server answers (or give up after 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("campaign-bot serve did not start")


def flow_reports(store: Path, workflows: list[str]) -> dict[str, Any]:
    """Each reportable demo flow's KPI JSON, without its timestamp."""
    reports = {}
    for workflow in workflows:
        env = os.environ | {"DATABASE_URL": f"sqlite:///{store}"}
        run = subprocess.run(
            [CLI, "kpis", workflow, "--json"], env=env, capture_output=True, text=True, check=False
        )
        if run.returncode == 0:
            report = json.loads(run.stdout)
            report.pop("generated_at")
            reports[workflow] = report
    return reports


def main() -> None:
    """Run both measurements and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="demo messages to generate")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5_000, help="events per request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    """Generate the events under ``workdir``, measure both ways, print the figures."""
    events = list(generate_demo_events(args.messages, 42))
    events_file = workdir / "events.ndjson"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    batches = build_batches(events, args.batch)
    size_mb = events_file.stat().st_size / 1e6
    print(f"{len(events):,} events ({size_mb:.1f} MB NDJSON), {len(batches)} batches")

    import_s = time_import(events_file, workdir / "import.db")
    http_s = time_http(workdir / "http.db", batches, args.clients)
    import_rate = len(events) / import_s
    http_rate = len(events) / http_s
    ratio = http_rate / import_rate

    workflows = sorted({(e["bot_id"], e["workflow_id"]) for e in events})
    names = [f"{bot}/{wf}" for bot, wf in workflows]
    same = flow_reports(workdir / "import.db", names) == flow_reports(workdir / "http.db", names)

    print(f"campaign-bot import (baseline): {import_rate:>10,.0f} events/s  ({import_s:.2f} s)")
    print(
        f"HTTP, {args.clients} clients:            {http_rate:>10,.0f} events/s  ({http_s:.2f} s)"
    )
    print(f"ratio HTTP/import: {ratio:.2f} (target ≥ {TARGET_RATIO})")
    fast_enough = "yes" if http_rate >= TARGET_EVENTS_PER_S else "NO"
    print(f"HTTP ≥ {TARGET_EVENTS_PER_S:,} events/s: {fast_enough}")
    print(f"same KPIs in both stores: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
