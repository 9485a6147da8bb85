"""Block Kit for subscriptions (pure): the list with Unsubscribe buttons, confirmations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.blocks.common import COMMAND, MAX_BLOCKS, SECTION_TEXT, UNSUBSCRIBE
from commands.mrkdwn import mrkdwn, recipient_mrkdwn
from reports.formatting import fmt_day, truncate

LISTED = MAX_BLOCKS - 3  # header, context, "more" note


@dataclass(frozen=True)
class SubscriptionLine:
    """One subscription as listed: id, what, when, to whom, next digest."""

    id: int
    flow: str  # a flow name or "all flows"
    schedule: str
    timezone: str
    recipients: Sequence[str]  # "kind:address"
    next_run: datetime | None
    skip_unchanged: bool
    formats: str = "csv,pdf"


def describe_subscription(line: SubscriptionLine) -> str:
    """``*#12* “Diwali offers” — daily 09:00 (Asia/Kolkata) to <@U1>, ops@acme.example``."""
    who = ", ".join(recipient_mrkdwn(*r.partition(":")[::2]) for r in line.recipients)
    when = f"{line.schedule} ({line.timezone})"
    changed = " · only when something changed" if line.skip_unchanged else ""
    if "xlsx" in line.formats.split(","):
        changed += " · with Excel" if "csv" not in line.formats else " · with CSV and Excel"
    upcoming = ""
    if line.next_run is not None:
        zone = ZoneInfo(line.timezone)
        upcoming = f" · next {fmt_day(line.next_run, zone)} {line.next_run.astimezone(zone):%H:%M}"
    return f"*#{line.id}* “{mrkdwn(line.flow, 120)}” — {when} to {who}{upcoming}{changed}"


def build_subscriptions_blocks(lines: Sequence[SubscriptionLine]) -> list[Block]:
    """The workspace's subscriptions, each with an Unsubscribe button."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Report subscriptions"))]
    if not lines:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"No subscriptions yet. Try `{COMMAND} subscribe all daily 09:00`."
                )
            )
        )
        return blocks
    for line in lines[:LISTED]:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(describe_subscription(line), SECTION_TEXT)),
                accessory=ButtonElement(
                    text=PlainTextObject(text="Unsubscribe"),
                    action_id=UNSUBSCRIBE,
                    value=str(line.id),
                    style="danger",
                ),
            )
        )
    if len(lines) > LISTED:
        more = len(lines) - LISTED
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"… and {more} more; `{COMMAND} unsubscribe ID` works for any."
                    )
                ]
            )
        )
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=f"Add one with `{COMMAND} subscribe …`.")])
    )
    return blocks
