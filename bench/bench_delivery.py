"""Benchmark of delivery: a digest to 500 email recipients; click → upload for 1M messages.

    .venv/bin/python bench/bench_delivery.py [--recipients 500] [--rebuild] [--skip-click]

1. **Digest by email.** A subscription with 500 email recipients is queued and rendered,
   then the outbox sends it to an aiosmtpd server on loopback (one SMTP connection, one
   claimed and recorded outbox row per recipient). Baseline, in the same run: a plain
   aiosmtplib loop sending the same MIME message to the same 500 addresses over one
   connection. Target: the outbox within 1.5× of the plain loop.
2. **Download report, click → file upload**, for a flow of 1,000,000 messages (the store of
   ``bench_export.py``, built once under ``var/bench/``): the real app with its scheduler
   under uvicorn, the Slack stand-in, a signed button click; the figure is the time from
   the click to ``files.completeUploadExternal``. Baseline, in the same run: rendering the
   same CSV and PDF directly (what ``campaign-bot export`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
CLICK_DB = BENCH_DIR / "delivery_1m.db"


class CountingHandler:
    """Accepts every message and counts them."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """250 for everything."""
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _small_store(directory: Path) -> Any:
    from store.db import create_db_engine, upgrade_database
    from store.events import parse_event
    from store.ingest import ingest_events

    engine = create_db_engine(f"sqlite:///{directory / 'digest.db'}")
    upgrade_database(engine)
    events: list[dict[str, Any]] = [
        {"type": "flow", "bot_id": "b1", "workflow_id": "wf_42", "name": "Diwali offers",
         "status": "completed", "goal": "purchase", "channels": ["whatsapp", "sms"]},
    ]  # fmt: skip
    for n in range(2_000):
        source = "whatsapp" if n % 4 else "sms"
        status = ("read", "delivered", "sent", "failed")[n % 4]
        events.append(
            {"type": "message", "bot_id": "b1", "workflow_id": "wf_42", "message_id": f"m{n}",
             "user_id": f"+9198{n:08d}", "source": source, "status": status,
             "at": "2026-11-01T09:00:00Z"}
        )  # fmt: skip
    items = [(f"item {i}", parse_event(e, f"item {i}")) for i, e in enumerate(events)]
    ingest_events(engine, items)
    return engine


async def _plain_loop(port: int, message: Any, recipients: list[str], sender: str) -> float:
    start = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for n, address in enumerate(recipients):
            del message["To"], message["Message-ID"]
            message["To"] = address
            message["Message-ID"] = f"<plain-{n}@acme.example>"
            await smtp.send_message(message, sender=sender, recipients=[address])
    return time.perf_counter() - start


def bench_digest(count: int) -> None:
    """Outbox digest to ``count`` recipients beside a plain aiosmtplib loop."""
    from sqlmodel import Session, select

    from bot.settings import Settings
    from bot.wiring import build_runtime, smtp_config
    from scheduler.delivery.email import build_message
    from scheduler.outbox import load_content, run_outbox_once
    from scheduler.requests import pending_request_ids, render_request
    from scheduler.subscriptions import queue_digest
    from store.models import Flow, Subscription, WorkspaceGrant

    handler = CountingHandler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            engine = _small_store(directory)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                DATABASE_URL=str(engine.url),
                REPORTS_DIR=directory / "reports",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=port,
                MAIL_FROM="Campaign reports <reports@acme.example>",
                SECRET_KEY="bench",  # noqa: S106 (a throw-away key for loopback)
                ALLOWED_EMAIL_DOMAINS="partner.example",  # the email channel checks it
            )
            runtime = build_runtime(settings, engine, None)
            recipients = [f"user{n}@partner.example" for n in range(count)]
            with Session(engine) as session:
                flow = session.exec(select(Flow)).one()
                sub = Subscription(
                    team_id="T1", created_by="U1", flow_id=flow.id, schedule="daily 09:00",
                    cron="0 9 * * *", recipients=[f"email:{r}" for r in recipients],
                )  # fmt: skip
                session.add(sub)
                session.add(WorkspaceGrant(team_id="T1", bot_id=flow.bot_id))
                session.commit()
                assert sub.id is not None
                sub_id = sub.id
            [request_id] = queue_digest(runtime, sub_id)
            start = time.perf_counter()
            for pending in pending_request_ids(runtime):
                render_request(runtime, pending)
            render_s = time.perf_counter() - start
            content = load_content(runtime, request_id)
            smtp = smtp_config(settings)
            message = build_message(content, smtp.mail_from, smtp.max_attachment_bytes)
            size = len(message.as_bytes())
            baseline = asyncio.run(_plain_loop(port, message, recipients, "reports@acme.example"))
            start = time.perf_counter()
            result = asyncio.run(run_outbox_once(runtime))
            ours = time.perf_counter() - start
            assert result.sent == count, result
    finally:
        controller.stop()
    assert handler.count == 2 * count, handler.count
    print(f"Digest to {count} email recipients on loopback, message {size / 1024:.0f} KiB")
    print(f"  render CSV + PDF once:            {render_s:8.3f} s")
    print(f"  plain aiosmtplib loop (baseline): {baseline:8.3f} s  {count / baseline:8.0f} msg/s")
    print(f"  outbox (claim, send, record):     {ours:8.3f} s  {count / ours:8.0f} msg/s")
    print(f"  ratio outbox / plain loop: {ours / baseline:.2f}  (target <= 1.5)")


def _click_store(rebuild: bool) -> Path:
    from bench.bench_export import build_store

    if rebuild or not CLICK_DB.exists():
        start = time.perf_counter()
        build_store(CLICK_DB)
        print(f"built {CLICK_DB} in {time.perf_counter() - start:.1f} s")
    return CLICK_DB


def bench_click(rebuild: bool) -> None:
    """Click → files.completeUploadExternal for the 1M-message flow, beside direct rendering."""
    from zoneinfo import ZoneInfo

    import httpx
    import sqlalchemy as sa
    from sqlmodel import Session

    from bot.app import create_app
    from bot.settings import Settings
    from reports.csv_export import export_csv
    from reports.flows import find_flow
    from reports.kpis import compute_kpis
    from reports.pdf import save_pdf
    from store.db import create_db_engine, upgrade_database
    from tests.fakes.slack_api import run_fake_slack
    from tests.fakes.slack_requests import block_action, button, post_signed
    from tests.live_server import serve_app

    source = _click_store(rebuild)
    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as tmp:
        directory = Path(tmp)
        db = directory / "click.db"
        shutil.copy(source, db)
        engine = create_db_engine(f"sqlite:///{db}")
        upgrade_database(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO workspace_grant (team_id, bot_id, created_at) "
                    "VALUES ('T0TEST', 'bench-bot', '2026-11-27 00:00:00')"
                )
            )
            flow_id = conn.execute(
                sa.text("SELECT id FROM flow WHERE workflow_id = 'bench_1m'")
            ).scalar_one()
        zone = ZoneInfo("Asia/Kolkata")
        with Session(engine) as session:
            flow = find_flow(session, "bench-bot/bench_1m")
            report = compute_kpis(session.connection(), flow, now=datetime.now(UTC))
        start = time.perf_counter()
        export_csv(engine, flow, directory / "direct.csv", zone)
        save_pdf(report, directory / "direct.pdf", zone)
        direct = time.perf_counter() - start
        csv_mb = (directory / "direct.csv").stat().st_size / 2**20
        with run_fake_slack(users={"U0ALICE": {"id": "U0ALICE"}}) as fake:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                DATABASE_URL=str(engine.url),
                REPORTS_DIR=directory / "reports",
                REPORT_TIMEZONE="Asia/Kolkata",
                SLACK_BOT_TOKEN=fake.token,
                SLACK_SIGNING_SECRET="bench-secret",  # noqa: S106 (the stand-in's)
                SLACK_API_URL=fake.api_url,
            )
            app = create_app(settings, engine, scheduler=True)
            with serve_app(app) as base, httpx.Client(timeout=30) as http:
                while app.state.scheduler is None or not app.state.scheduler.leading.is_set():
                    time.sleep(0.05)
                form = block_action(
                    button("download_report", f"{flow_id}|"),
                    team_id="T0TEST",
                    response_url=fake.response_url("r1"),
                )
                clicked = time.perf_counter()
                ack = post_signed(http, f"{base}/slack/events", "bench-secret", form)
                acked = time.perf_counter()
                assert ack.status_code == 200, ack.text
                [done] = fake.wait_for("files.completeUploadExternal", timeout=900)
    total = done.at - clicked
    print(f"Download report for the 1M-message flow (CSV {csv_mb:.0f} MiB + PDF)")
    print(f"  ack:                                   {acked - clicked:8.3f} s")
    print(f"  click → files.completeUploadExternal:  {total:8.3f} s")
    print(f"  render CSV + PDF directly (baseline):  {direct:8.3f} s")
    print(f"  overhead of request, outbox and upload: {total - direct:+.3f} s "
          f"({total / direct:.2f}×)")  # fmt: skip


def main() -> None:
    """Run both benchmarks and print each figure beside its baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the 1M-message store")
    parser.add_argument("--skip-click", action="store_true", help="only the digest benchmark")
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    bench_digest(args.recipients)
    if not args.skip_click:
        bench_click(args.rebuild)


if __name__ == "__main__":
    main()
