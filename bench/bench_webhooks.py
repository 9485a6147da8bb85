"""Benchmark: provider webhooks beside ``POST /api/v1/events`` carrying the same statuses.

    .venv/bin/python bench/bench_webhooks.py [--payloads 40] [--single 600] [--clients 2]

On a fresh SQLite store holding the messages the statuses are about (stored first, as a
sender's own system would push them), the app runs under uvicorn in this process on a
loopback port. Then:

1. latency: WhatsApp payloads of 100 statuses each, one at a time — p50/p95 of the answer
   (target: p95 < 200 ms);
2. throughput per provider, ``--clients`` concurrent senders, each provider in its natural
   size: WhatsApp and SendGrid 100 statuses per delivery, Twilio and Mailgun one per
   request; beside it the same statuses for other messages of the same flow, in our own
   event format, posted to ``/api/v1/events`` in the same batch sizes (target: webhooks at
   least 0.7x the API's statuses/s).

Every request must answer 200 having applied every status (``accepted``), and the statuses
must all be applied, which the script checks. Wall time and process CPU time (client and
server share the process) are printed side by side. Sized for a 2-core shared machine.
"""

from __future__ import annotations

import argparse
import json
import queue
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app
from bot.settings import Settings
from store.api_keys import create_api_key
from store.connectors.records import create_connector
from store.connectors.secrets import ConnectorSecret, SecretBox
from store.db import create_db_engine, upgrade_database
from store.events import parse_event
from store.ingest import ingest_events
from store.models import utcnow
from tests.fakes.provider_webhooks import (
    mailgun_event,
    mailgun_signed,
    sendgrid_event,
    sendgrid_keys,
    sendgrid_signed,
    twilio_callback,
    twilio_signed,
    whatsapp_payload,
    whatsapp_signed,
    whatsapp_status,
)
from tests.live_server import serve_app

BOT = "bench"
PUBLIC = "https://reports.bench.example"
SECRET_KEY, APP_SECRET, AUTH_TOKEN, MAILGUN_KEY = (secrets.token_hex(16) for _ in range(4))
SG_PRIVATE, SG_PUBLIC = sendgrid_keys()
FLOWS = {
    "whatsapp": ("wf_wa", "whatsapp"),
    "twilio": ("wf_sms", "sms"),
    "sendgrid": ("wf_email", "email"),
    "mailgun": ("wf_email", "email"),
}
TARGET_P95_MS = 200
TARGET_RATIO = 0.7


@dataclass
class Request:
    """One HTTP request to send, and how many statuses it carries."""

    path: str
    body: bytes
    headers: dict[str, str]
    statuses: int


@dataclass
class Run:
    """What a run took: wall and CPU seconds, and each request's answer time."""

    wall: float
    cpu: float
    latencies: list[float]
    statuses: int
    requests: int


def user(kind: str, n: int) -> str:
    return f"user{n}@bench.example" if FLOWS[kind][1] == "email" else f"+9198{n:08d}"


def message_id(kind: str, side: str, n: int) -> str:
    return f"{kind}-{side}-{n}"


def seed_messages(engine: Any, kind: str, side: str, count: int) -> None:
    """``count`` stored messages (status sent) for ``kind``'s flow, for one side of the race."""
    workflow, source = FLOWS[kind]
    events = [
        {
            "type": "message",
            "bot_id": BOT,
            "workflow_id": workflow,
            "message_id": message_id(kind, side, n),
            "user_id": user(kind, n),
            "source": source,
            "status": "sent",
            "at": "2026-11-01T09:00:00Z",
        }
        for n in range(count)
    ]
    ingest_events(engine, [(str(i), parse_event(e, str(i))) for i, e in enumerate(events)])


def webhook_requests(
    kind: str, ids: dict[str, str], side: str, first: int, count: int, per_request: int
) -> list[Request]:
    """Signed deliveries of ``delivered`` statuses for messages ``first…first+count``."""
    path = f"/webhooks/{kind}/{ids[kind]}"
    out = []
    for start in range(first, first + count, per_request):
        numbers = range(start, min(start + per_request, first + count))
        if kind == "whatsapp":
            payload = whatsapp_payload(
                *(
                    whatsapp_status(
                        message_id(kind, side, n), "delivered", recipient=user(kind, n)[1:]
                    )
                    for n in numbers
                )
            )
            body, headers = whatsapp_signed(APP_SECRET, payload)
            out.append(Request(path, body, headers, len(numbers)))
        elif kind == "sendgrid":
            events = [
                sendgrid_event(message_id(kind, side, n), "delivered", email=user(kind, n))
                for n in numbers
            ]
            body, headers = sendgrid_signed(SG_PRIVATE, events)
            out.append(Request(path, body, headers, len(numbers)))
        elif kind == "twilio":
            for n in numbers:
                pairs = twilio_callback(message_id(kind, side, n), "delivered", to=user(kind, n))
                body, headers = twilio_signed(AUTH_TOKEN, PUBLIC + path, pairs)
                out.append(Request(path, body, headers, 1))
        else:
            for n in numbers:
                data = mailgun_event(
                    message_id(kind, side, n), "delivered", recipient=user(kind, n)
                )
                body, headers = mailgun_signed(MAILGUN_KEY, data)
                out.append(Request(path, body, headers, 1))
    return out


def api_requests(kind: str, key: str, count: int, per_request: int) -> list[Request]:
    """The same statuses in our event format, for the API side's messages."""
    workflow, source = FLOWS[kind]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    at = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for start in range(0, count, per_request):
        numbers = range(start, min(start + per_request, count))
        events = [
            {
                "type": "message",
                "bot_id": BOT,
                "workflow_id": workflow,
                "message_id": message_id(kind, "api", n),
                "user_id": user(kind, n),
                "source": source,
                "status": "delivered",
                "at": at,
                "event_id": f"{message_id(kind, 'api', n)}:delivered",
            }
            for n in numbers
        ]
        out.append(Request("/api/v1/events", json.dumps(events).encode(), headers, len(numbers)))
    return out


def send(base_url: str, requests: list[Request], clients: int) -> Run:
    """Post every request with ``clients`` concurrent senders; checks each answer."""
    work: queue.Queue[Request] = queue.Queue()
    for request in requests:
        work.put(request)
    latencies: list[float] = []
    failures: list[str] = []

    def sender() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            while True:
                try:
                    request = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                answer = http.post(request.path, content=request.body, headers=request.headers)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200 or answer.json()["accepted"] != request.statuses:
                    failures.append(f"{answer.status_code} {answer.text[:300]}")

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    cpu, wall = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run = Run(
        time.perf_counter() - wall,
        time.process_time() - cpu,
        latencies,
        sum(r.statuses for r in requests),
        len(requests),
    )
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed, first: {failures[0]}")
    return run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def delivered(engine: Any) -> dict[str, int]:
    """Messages now delivered, per flow (the statuses of both sides must all have landed)."""
    query = (
        "SELECT f.workflow_id, count(*) FROM message m JOIN flow f ON f.id = m.flow_id "
        "WHERE m.status = 'delivered' GROUP BY f.workflow_id"
    )
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql(query).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=40, help="100-status deliveries per run")
    parser.add_argument("--single", type=int, default=600, help="one-status requests per run")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    """Seed the store, serve the app, measure, print."""
    url = f"sqlite:///{workdir}/webhooks.db"
    engine = create_db_engine(url)
    upgrade_database(engine)
    box = SecretBox(SECRET_KEY)
    provider_secrets = {
        "whatsapp": ConnectorSecret(APP_SECRET, "verify"),
        "twilio": ConnectorSecret(AUTH_TOKEN),
        "sendgrid": ConnectorSecret(SG_PUBLIC),
        "mailgun": ConnectorSecret(MAILGUN_KEY),
    }
    ids = {
        kind: create_connector(engine=engine, kind=kind, bot_id=BOT, secret=secret, box=box).id
        for kind, secret in provider_secrets.items()
    }
    key = create_api_key(engine, BOT).token
    sizes = {
        "whatsapp": (args.payloads * 100, 100),
        "sendgrid": (args.payloads * 100, 100),
        "twilio": (args.single, 1),
        "mailgun": (args.single, 1),
    }
    latency_n = args.payloads * 100
    for kind, (count, _) in sizes.items():
        extra = latency_n if kind == "whatsapp" else 0
        seed_messages(engine, kind, "hook", count + extra)
        seed_messages(engine, kind, "api", count)
    settings = Settings(
        _env_file=None,
        DATABASE_URL=url,
        SECRET_KEY=SECRET_KEY,  # type: ignore[call-arg]
        PUBLIC_BASE_URL=PUBLIC,
    )
    app = create_app(settings, engine)
    print(f"SQLite store, app under uvicorn on loopback (this process), {args.clients} clients")
    with serve_app(app) as base:
        latency = send(
            base,
            webhook_requests("whatsapp", ids, "hook", sizes["whatsapp"][0], latency_n, 100),
            clients=1,
        )
        p50 = percentile(latency.latencies, 0.5) * 1000
        p95 = percentile(latency.latencies, 0.95) * 1000
        verdict = "yes" if p95 < TARGET_P95_MS else "NO"
        print(
            f"\nWhatsApp, 100 statuses per payload, one at a time ({latency.requests} payloads):"
            f" p50 {p50:.0f} ms, p95 {p95:.0f} ms (target p95 < {TARGET_P95_MS} ms: {verdict})"
        )
        print(
            f"\n{'provider':<10} {'per req':>7} {'webhook st/s':>13} {'req/s':>7} {'wall s':>7} "
            f"{'cpu s':>6} | {'API st/s':>9} {'wall s':>7} {'cpu s':>6} | ratio"
        )
        ratios = []
        for kind, (count, per) in sizes.items():
            hook = send(base, webhook_requests(kind, ids, "hook", 0, count, per), args.clients)
            api = send(base, api_requests(kind, key, count, per), args.clients)
            ratio = (hook.statuses / hook.wall) / (api.statuses / api.wall)
            ratios.append(ratio)
            print(
                f"{kind:<10} {per:>7} {hook.statuses / hook.wall:>13,.0f} "
                f"{hook.requests / hook.wall:>7,.0f} {hook.wall:>7.2f} {hook.cpu:>6.2f} | "
                f"{api.statuses / api.wall:>9,.0f} {api.wall:>7.2f} {api.cpu:>6.2f} | "
                f"{ratio:.2f}"
            )
    expected = {
        "wf_wa": 2 * sizes["whatsapp"][0] + latency_n,
        "wf_sms": 2 * sizes["twilio"][0],
        "wf_email": 2 * (sizes["sendgrid"][0] + sizes["mailgun"][0]),
    }
    verdict = "yes" if min(ratios) >= TARGET_RATIO else "NO"
    print(f"\nratio webhooks/API ≥ {TARGET_RATIO}: {verdict} (lowest {min(ratios):.2f})")
    seen = delivered(engine)
    print(f"every status applied: {'yes' if seen == expected else 'NO ' + str(seen)}")
    engine.dispose()


if __name__ == "__main__":
    main()
