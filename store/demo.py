"""Deterministic, realistic demo data: three bots, flows in every status, five channels.

Every event carries an ``event_id`` derived from the seed, so loading the demo twice
changes nothing (the second copy of each event is a duplicate).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEMO_BOT = "acme-support"
DEMO_WORKFLOW = "wf_42"
DEMO_FLOW_NAME = "Diwali offers"
DEFAULT_MESSAGES = 20_000
DEFAULT_SEED = 42

# Failure codes and comments as providers report them (WhatsApp Cloud API, SMS gateways, SMTP…).
FAILURES: dict[str, list[tuple[str, str, int]]] = {
    "whatsapp": [
        ("1408", "Not a WhatsApp number", 50),
        ("131049", "Marketing message limit reached for this user", 28),
        ("131026", "Message undeliverable", 12),
        ("1443", "Template paused for low quality", 6),
        ("131047", "Re-engagement message outside 24h window", 4),
    ],
    "sms": [
        ("30007", "Carrier filtered the message", 45),
        ("30003", "Unreachable destination handset", 35),
        ("21610", "Recipient replied STOP", 20),
    ],
    "email": [
        ("550", "Mailbox unavailable", 55),
        ("552", "Mailbox full", 25),
        ("554", "Rejected as spam", 20),
    ],
    "push": [("410", "Device token not registered", 70), ("400", "Invalid registration", 30)],
    "voice": [("486", "Busy here", 50), ("480", "No answer", 40), ("404", "Number not found", 10)],
}
# Final status weights per channel: queued, sent, failed, delivered, read.
STATUS_WEIGHTS: dict[str, tuple[int, int, int, int, int]] = {
    "whatsapp": (2, 5, 8, 25, 60),
    "sms": (3, 90, 7, 0, 0),
    "email": (1, 94, 5, 0, 0),
    "push": (2, 88, 10, 0, 0),
    "voice": (2, 83, 15, 0, 0),
}
STATUS_PATH = {
    "queued": ["queued"],
    "sent": ["queued", "sent"],
    "failed": ["queued", "failed"],
    "delivered": ["queued", "sent", "delivered"],
    "read": ["queued", "sent", "delivered", "read"],
}


@dataclass(frozen=True)
class DemoFlow:
    """One flow of the demo and how much traffic it gets."""

    bot_id: str
    workflow_id: str
    name: str
    status: str
    goal: str | None
    channels: dict[str, int]  # channel → weight
    share: float  # fraction of --messages
    start: datetime


_T0 = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)  # 09:00 IST
DEMO_FLOWS: tuple[DemoFlow, ...] = (
    DemoFlow(DEMO_BOT, DEMO_WORKFLOW, DEMO_FLOW_NAME, "completed", "purchase",
             {"whatsapp": 62, "sms": 20, "email": 10, "push": 5, "voice": 3}, 1.0, _T0),
    DemoFlow(DEMO_BOT, "wf_43", "Diwali reminders", "live", "purchase",
             {"whatsapp": 70, "sms": 30}, 0.1, _T0 + timedelta(days=2)),
    DemoFlow(DEMO_BOT, "wf_44", "Cart recovery", "scheduled", None,
             {"whatsapp": 50, "email": 50}, 0.02, _T0 + timedelta(days=40)),
    DemoFlow(DEMO_BOT, "wf_45", "New year teaser", "draft", None, {"whatsapp": 1}, 0.0, _T0),
    DemoFlow("globex-retail", "bf_2026", "Black Friday blast", "completed", "checkout",
             {"sms": 60, "email": 40}, 0.15, _T0 + timedelta(days=26)),
    DemoFlow("globex-retail", "loyalty_q4", "Loyalty survey", "paused", None,
             {"email": 80, "push": 20}, 0.03, _T0 + timedelta(days=5)),
    DemoFlow("initech-bank", "kyc_2025", "KYC reminder", "archived", "kyc_done",
             {"sms": 100}, 0.02, _T0 - timedelta(days=300)),
    DemoFlow("initech-bank", "card_act", "Card activation", "completed", "card_activated",
             {"whatsapp": 50, "sms": 30, "voice": 20}, 0.08, _T0 + timedelta(days=10)),
)  # fmt: skip


def _user_id(channel: str, index: int) -> str:
    if channel == "email":
        return f"customer{index:06d}@mail.example"
    return f"+9198{index:08d}"


def generate_demo_events(
    messages: int = DEFAULT_MESSAGES, seed: int = DEFAULT_SEED
) -> Iterator[dict[str, Any]]:
    """Every demo event, flow definitions first; the same ``seed`` gives the same events."""
    for flow in DEMO_FLOWS:
        yield _flow_definition(flow, messages)
    for number, flow in enumerate(DEMO_FLOWS):
        count = round(messages * flow.share)
        if count and flow.status != "draft":
            rng = random.Random(f"{seed}:{number}")
            yield from _flow_traffic(rng, flow, count, seed)


def _flow_definition(flow: DemoFlow, messages: int) -> dict[str, Any]:
    users = max(1, round(messages * flow.share * 0.8))
    return {
        "type": "flow",
        "bot_id": flow.bot_id,
        "workflow_id": flow.workflow_id,
        "name": flow.name,
        "status": flow.status,
        "goal": flow.goal,
        "audience": users + users // 20,  # the segment; a few members never got a message
        "channels": sorted(flow.channels),
        "scheduled_at": flow.start.isoformat().replace("+00:00", "Z"),
    }


def _flow_traffic(
    rng: random.Random, flow: DemoFlow, count: int, seed: int
) -> Iterator[dict[str, Any]]:
    channels = list(flow.channels)
    weights = list(flow.channels.values())
    users = max(1, round(count * 0.8))
    entered: set[int] = set()
    base = {"bot_id": flow.bot_id, "workflow_id": flow.workflow_id}
    future = flow.status == "scheduled"

    def stamp(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    for index in range(count):
        user = index % users
        channel = rng.choices(channels, weights)[0]
        user_id = _user_id(channel, user)
        message_id = f"{flow.workflow_id}-m{index:07d}"
        sent_at = flow.start + timedelta(seconds=index * 7 + rng.randint(0, 5))
        if user not in entered:
            entered.add(user)
            yield base | {"type": "flow_entered", "user_id": user_id, "source": channel,
                          "at": stamp(sent_at - timedelta(seconds=2)),
                          "event_id": f"s{seed}-{message_id}-entered"}  # fmt: skip
        final = "queued" if future else rng.choices(list(STATUS_PATH), STATUS_WEIGHTS[channel])[0]
        code, comment = None, None
        if final == "failed":
            options = FAILURES[channel]
            code, comment, _ = rng.choices(options, [w for *_, w in options])[0]
        moment = sent_at
        for status in STATUS_PATH[final]:
            yield base | {
                "type": "message", "message_id": message_id, "user_id": user_id,
                "source": channel, "status": status, "at": stamp(moment),
                "template_id": f"tpl-{flow.workflow_id}-{channel}",
                "ip_address": f"203.0.113.{index % 250 + 1}" if channel == "whatsapp" else None,
                "custom_payload": {"segment": "festive", "offer": f"DIWALI{index % 4 + 1}0"},
                "sent_by": "ops@acme.example",
                "comments": comment if status == "failed" else None,
                "error_code": code if status == "failed" else None,
                "scheduled_at": stamp(flow.start),
                "event_id": f"s{seed}-{message_id}-{status}",
            }  # fmt: skip
            moment += timedelta(seconds=rng.randint(1, 90))
        if final not in ("sent", "delivered", "read"):
            continue
        yield from _user_actions(rng, flow, base, user_id, channel, message_id, moment, seed)


def _user_actions(
    rng: random.Random,
    flow: DemoFlow,
    base: dict[str, str],
    user_id: str,
    channel: str,
    message_id: str,
    moment: datetime,
    seed: int,
) -> Iterator[dict[str, Any]]:
    engaged = rng.random() < (0.45 if channel == "whatsapp" else 0.18)
    if not engaged:
        if rng.random() < 0.06:
            yield _action(base, "flow_exited", user_id, channel, message_id, moment, seed)
        return
    moment += timedelta(minutes=rng.randint(1, 240))
    yield _action(base, "click", user_id, channel, message_id, moment, seed,
                  url=f"https://acme.example/offers/{flow.workflow_id}")  # fmt: skip
    if rng.random() < 0.1:
        yield _action(base, "click", user_id, channel, message_id,
                      moment + timedelta(minutes=3), seed, suffix="2",
                      url=f"https://acme.example/offers/{flow.workflow_id}")  # fmt: skip
    for kind, chance in (("like", 0.08), ("share", 0.04), ("comment", 0.03)):
        if rng.random() < chance:
            yield _action(base, kind, user_id, channel, message_id, moment, seed)
    if channel in ("whatsapp", "sms") and rng.random() < 0.5:
        yield _action(base, "reply", user_id, channel, message_id, moment, seed)
        yield _action(base, "conversation_started", user_id, channel, message_id, moment, seed)
    if flow.goal and rng.random() < 0.3:
        yield _action(base, "goal_achieved", user_id, channel, message_id,
                      moment + timedelta(minutes=rng.randint(5, 600)), seed)  # fmt: skip
    elif rng.random() < 0.1:
        yield _action(base, "flow_exited", user_id, channel, message_id, moment, seed)


def _action(
    base: dict[str, str],
    kind: str,
    user_id: str,
    channel: str,
    message_id: str,
    moment: datetime,
    seed: int,
    *,
    url: str | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    event = base | {
        "type": kind,
        "user_id": user_id,
        "source": channel,
        "message_id": message_id,
        "at": moment.isoformat().replace("+00:00", "Z"),
        "event_id": f"s{seed}-{message_id}-{kind}{suffix}",
    }
    if url:
        event["url"] = url
    return event
