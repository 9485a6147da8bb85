"""What a user asked for: the slash command's grammar and the values our buttons carry (pure).

Grammar of ``/campaign-report``::

    (empty) | help          usage
    list                    recent flows the workspace can see
    <flow>                  the flow's summary (workflow id, BOT_ID/WORKFLOW_ID or name)
    <flow> channel:<c>      the summary filtered to one channel

A flow name may be quoted (straight or curly quotes) or typed bare; ``channel:`` may come
anywhere. A quoted ``"list"`` or ``"help"`` is a flow name. Button and menu values carry
``<flow row id>|<channel or empty>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.formatting import unescape_slack

MAX_TEXT = 1000  # longer than any flow name (300) plus a channel; more is not a flow query
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_CHANNEL_TOKEN = re.compile(r"^channel:(.*)$", re.IGNORECASE)
# A double- or single-quoted phrase, or a bare word (which may hold an apostrophe: Diwali's).
_TOKEN = re.compile(r"\"([^\"]*)\"|'([^']*)'|(\S+)")


class CommandSyntaxError(ValueError):
    """The command text cannot be understood; the message says what to fix."""


class BadValue(ValueError):
    """A value in an interaction payload is not one we produced; the message names the field."""


@dataclass(frozen=True)
class ShowHelp:
    """Show usage."""


@dataclass(frozen=True)
class ListFlows:
    """List the recent flows the workspace can see."""


@dataclass(frozen=True)
class ShowReport:
    """Show one flow's summary, optionally filtered to a channel."""

    flow: str
    channel: str | None = None


ReportRequest = ShowHelp | ListFlows | ShowReport


@dataclass(frozen=True)
class Target:
    """The flow (store row id) and channel filter a button or menu option refers to."""

    flow_id: int
    channel: str | None = None

    def encode(self) -> str:
        """``42|whatsapp`` (``42|`` for all channels)."""
        return f"{self.flow_id}|{self.channel or ''}"


def _tokens(raw: str) -> list[str]:
    tokens = []
    for quoted_double, quoted_single, bare in _TOKEN.findall(raw):
        if bare.startswith('"'):
            raise CommandSyntaxError("A quote is not closed; write the flow name in quotes.")
        tokens.append(quoted_double or quoted_single or bare)
    return tokens


def parse_report_command(text: str) -> ReportRequest:
    """Parse the text after ``/campaign-report`` (as Slack sends it, entity-escaped)."""
    raw = unescape_slack(text or "").translate(_CURLY_QUOTES).strip()
    if len(raw) > MAX_TEXT:
        raise CommandSyntaxError(f"That is too long for a flow name ({len(raw):,} characters).")
    if raw.lower() in ("", "help"):
        return ShowHelp()
    if raw.lower() == "list":
        return ListFlows()
    channel: str | None = None
    words: list[str] = []
    for token in _tokens(raw):
        match = _CHANNEL_TOKEN.match(token)
        if match is None:
            words.append(token)
            continue
        if channel is not None:
            raise CommandSyntaxError("Give at most one channel:<channel>.")
        channel = match.group(1).strip().strip("'\"")
        if not channel:
            raise CommandSyntaxError("channel: needs a channel name, e.g. channel:whatsapp.")
    if not words:
        raise CommandSyntaxError("Name a flow before channel:, e.g. “Diwali offers” channel:sms.")
    return ShowReport(flow=" ".join(words), channel=channel)


def parse_target(value: str) -> Target:
    """Read a ``flow_id|channel`` value back; a malformed one raises ``BadValue``."""
    flow_id, sep, channel = (value or "").partition("|")
    if not sep or not flow_id.isdigit() or len(flow_id) > 18 or len(channel) > 64:
        raise BadValue(f"value: not a report reference: {value[:80]!r}")
    return Target(flow_id=int(flow_id), channel=channel or None)
