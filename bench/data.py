"""Benchmark stores: a flow of N messages with about two user events per message.

``ensure_bench_flow`` builds the flow once per database (it checks the rollups and reuses an
existing one), so repeated benchmark runs skip the minutes a 1M-message load takes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import create_db_engine, upgrade_database
from store.events import AnyEvent, FlowEvent, MessageEvent, UserActionEvent
from store.ingest import ingest_events
from store.models import ALL_CHANNELS, Flow, FlowStat

BENCH_BOT = "bench-bot"
BENCH_DIR = Path("var/bench")
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHANNELS = (("whatsapp", 60), ("sms", 20), ("email", 10), ("push", 6), ("voice", 4))
FINAL = {"whatsapp": (("read", 55), ("delivered", 25), ("sent", 8), ("failed", 10), ("queued", 2))}
OTHER_FINAL = (("sent", 88), ("failed", 10), ("queued", 2))
REASONS = (("1408", "Not a WhatsApp number"), ("131049", "Marketing limit"), ("30007", "Filtered"))
T0 = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
SPAN = timedelta(days=7)  # every flow's messages spread over a week, whatever its size


def sqlite_url(name: str) -> str:
    """A SQLite file under var/bench/."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{BENCH_DIR / name}"


def postgres_url(database: str = "crb_bench") -> str:
    """A PostgreSQL database on the local server, created when missing."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}
        ).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


def bench_events(workflow_id: str, messages: int, seed: int = 1) -> Iterator[AnyEvent]:
    """The flow definition, then per message one status event and about two user events."""
    rng = random.Random(seed)
    yield FlowEvent(
        type="flow",
        bot_id=BENCH_BOT,
        workflow_id=workflow_id,
        name=f"Bench {messages:,} messages",
        status="completed",
        goal="purchase",
    )
    names = [c for c, _ in CHANNELS]
    weights = [w for _, w in CHANNELS]
    users = max(1, messages * 4 // 5)
    base = {"bot_id": BENCH_BOT, "workflow_id": workflow_id}
    for index in range(messages):
        channel = rng.choices(names, weights)[0]
        finals = FINAL.get(channel, OTHER_FINAL)
        status = rng.choices([s for s, _ in finals], [w for _, w in finals])[0]
        user = f"+9198{index % users:08d}"
        at = T0 + SPAN * index / messages
        code, comment = rng.choice(REASONS) if status == "failed" else (None, None)
        yield MessageEvent.model_construct(
            type="message",
            message_id=f"{workflow_id}-{index}",
            user_id=user,
            source=channel,
            status=status,
            at=at,
            error_code=code,
            comments=comment,
            template_id="tpl-1",
            ip_address=None,
            custom_payload={"offer": index % 7},
            sent_by=None,
            scheduled_at=T0,
            created_at=None,
            event_id=f"{workflow_id}-{index}-s",
            **base,
        )
        kinds = ["flow_entered", "click"] if index < users else ["click", "reply"]
        if rng.random() < 0.2:
            kinds[1] = rng.choice(["goal_achieved", "conversation_started", "flow_exited"])
        for number, kind in enumerate(kinds):
            yield UserActionEvent.model_construct(
                type=kind,
                user_id=user,
                source=channel,
                message_id=f"{workflow_id}-{index}",
                url="https://acme.example/o" if kind == "click" else None,
                at=at + timedelta(minutes=5),
                event_id=f"{workflow_id}-{index}-u{number}",
                **base,
            )


def ensure_bench_flow(database_url: str, messages: int) -> str:
    """Make sure the store holds the bench flow of ``messages`` messages; returns its id."""
    workflow_id = f"bench_{messages}"
    engine = create_db_engine(database_url)
    upgrade_database(engine)
    if _loaded_messages(engine, workflow_id) != messages:
        items = ((f"bench {n}", e) for n, e in enumerate(bench_events(workflow_id, messages)))
        ingest_events(engine, items)
    engine.dispose()
    return workflow_id


def _loaded_messages(engine: Engine, workflow_id: str) -> int | None:
    stat, flow = FlowStat.__table__, Flow.__table__
    with engine.connect() as conn:
        return conn.execute(
            sa.select(stat.c.messages)
            .join(flow, flow.c.id == stat.c.flow_id)
            .where(
                flow.c.bot_id == BENCH_BOT,
                flow.c.workflow_id == workflow_id,
                stat.c.source == ALL_CHANNELS,
            )
        ).scalar()
