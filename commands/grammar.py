"""What a user asked for (pure): the slash command's grammar, subcommands, button values.

Grammar of ``/campaign-report``::

    (empty) | help          usage
    list                    recent flows the workspace can see
    <flow>                  the flow's summary (workflow id, BOT_ID/WORKFLOW_ID or name)
    <flow> channel:<c>      the summary filtered to one channel
    download <flow> [format:xlsx]   the full PDF with the CSV (or Excel), by DM or email
    subscribe <flow|all> daily HH:MM | weekly MON HH:MM | cron "m h dom mon dow"
        [tz:Area/City] [to: me, #channel, @user, name@domain] [if-changed] [format:xlsx]
    compare <flow> vs <flow> [vs <flow>…]   2 to 5 flows side by side
    subscriptions           the workspace's subscriptions
    unsubscribe <id>        end one
    alert <flow|all> <metric> <op> <threshold> [min:N] [to: #channel, @user, me]
                            an alert on live flows (metric: delivery_rate, failure_rate,
                            read_rate, click_through_rate, failed, error:CODE)
    alerts                  the workspace's alerts
    alert remove <id>       remove one

A flow name may be quoted (straight or curly quotes) or typed bare; ``channel:`` may come
anywhere. A quoted ``"list"`` or ``"help"`` is a flow name, and a flow whose name starts with
a subcommand word is opened by quoting it. Slack sends channel and user mentions as
``<#C…|name>`` / ``<@U…|name>`` and addresses as ``<mailto:a@b|a@b>``; those are the forms
accepted for ``to:`` (picked from Slack's autocomplete). Button and menu values carry
``<flow row id>|<channel or empty>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reports.alerts import (
    DEFAULT_MIN_NOTIFICATIONS,
    AlertRuleError,
    check_condition,
    is_rate,
    normalize_metric,
)
from reports.files import parse_formats
from reports.schedules import crontab_trigger

MAX_TEXT = 1000  # longer than any flow name (300) plus a channel; more is not a flow query
MAX_RECIPIENTS = 20
ALL_FLOWS = "all"
SUBCOMMANDS = ("download", "subscribe", "subscriptions", "unsubscribe", "compare")
MIN_COMPARED, MAX_COMPARED = 2, 5
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_CHANNEL_TOKEN = re.compile(r"^channel:(.*)$", re.IGNORECASE)
_FORMAT_TOKEN = re.compile(r"^format:(.*)$", re.IGNORECASE)
# A double- or single-quoted phrase, or a bare word (which may hold an apostrophe: Diwali's).
_TOKEN = re.compile(r"\"([^\"]*)\"|'([^']*)'|(\S+)")
_SUBSCRIBE_TOKEN = re.compile(r"\"([^\"]*)\"|(\S+)")
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_USER = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$"
)


class CommandSyntaxError(ValueError):
    """The command text cannot be understood; the message says what to fix."""


class BadValue(ValueError):
    """A value in an interaction payload is not one we produced; the message names the field."""


def unescape_slack(text: str) -> str:
    """Undo the escaping Slack applies to the text of slash commands."""
    return re.sub(r"&(?:lt|gt|amp);", lambda m: _SLACK_ESCAPES[m.group(0)], text)


def checked_user_id(value: Any) -> str:
    """A Slack user id safe to put in a mention, or ``BadValue`` naming the field."""
    if not isinstance(value, str) or not _USER_ID.match(value):
        raise BadValue(f"user.id: not a Slack user id: {str(value)[:40]!r}")
    return value


def subcommand_of(text: str) -> tuple[str, str] | None:
    """``("subscribe", rest)`` when the command text starts with one of ``SUBCOMMANDS``."""
    word, _, rest = (text or "").strip().partition(" ")
    if word.lower() in SUBCOMMANDS:
        return word.lower(), rest.strip()
    return None


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


CommandRequest = ShowHelp | ListFlows | ShowReport


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


def parse_report_command(text: str) -> CommandRequest:
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


def parse_file_formats(value: str) -> str:
    """``format:`` text → the stored formats: the PDF always, with ``csv`` and/or ``xlsx``.

    ``xlsx`` → ``"pdf,xlsx"``, ``csv,xlsx`` → ``"csv,pdf,xlsx"``; ``CommandSyntaxError`` for
    anything else.
    """
    try:
        formats = parse_formats(f"{value},pdf" if value.strip() else "")
    except ValueError as exc:
        raise CommandSyntaxError(f"format: {exc}") from None
    return ",".join(formats)


@dataclass(frozen=True)
class DownloadRequest:
    """``download <flow> [format:xlsx]``."""

    flow: str
    formats: str = "csv,pdf"


def parse_download(text: str) -> DownloadRequest:
    """The text after ``download`` (as Slack sends it): the flow, then an optional format."""
    raw = unescape_slack(text or "").translate(_CURLY_QUOTES).strip()
    formats = "csv,pdf"
    words = []
    for token in _tokens(raw):
        match = _FORMAT_TOKEN.match(token)
        if match is None:
            words.append(token)
        else:
            formats = parse_file_formats(match.group(1))
    return DownloadRequest(flow=" ".join(words), formats=formats)


@dataclass(frozen=True)
class CompareRequest:
    """``compare A vs B [vs C…]``: the flow queries, in order."""

    flows: tuple[str, ...]


def parse_compare(text: str) -> CompareRequest:
    """The text after ``compare``: 2 to 5 flows separated by a bare ``vs`` (quote a flow
    whose name holds the word: ``compare "Mums vs dads" vs wf_43``)."""
    raw = unescape_slack(text or "").translate(_CURLY_QUOTES).strip()
    groups: list[list[str]] = [[]]
    for quoted_double, quoted_single, bare in _TOKEN.findall(raw):
        if bare.startswith('"'):
            raise CommandSyntaxError("A quote is not closed; write the flow name in quotes.")
        if bare.lower() in ("vs", "vs.", "versus"):
            groups.append([])
        else:
            groups[-1].append(quoted_double or quoted_single or bare)
    flows = tuple(" ".join(group) for group in groups)
    if len(flows) < MIN_COMPARED or not all(flows):
        raise CommandSyntaxError(
            "Write: compare FLOW vs FLOW [vs FLOW…], e.g. compare wf_42 vs wf_43."
        )
    if len(flows) > MAX_COMPARED:
        raise CommandSyntaxError(f"Compare at most {MAX_COMPARED} flows at a time.")
    return CompareRequest(flows)


# -- subscribe --------------------------------------------------------------------------


class SubscriptionError(ValueError):
    """The subscription cannot be made as written; the message says what to fix."""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A parsed ``subscribe`` command."""

    flow: str  # a flow query, or "all"
    schedule: str  # normalized, e.g. "daily 09:00"
    cron: str  # minute hour day month day_of_week
    timezone: str
    recipients: tuple[str, ...]  # "slack_user:U…", "slack_channel:C…", "email:a@b"
    skip_unchanged: bool
    formats: str = "csv,pdf"

    def stored_fields(self) -> dict[str, Any]:
        """The fields ``store.subscriptions.create_subscription`` keeps from the command."""
        return {
            "schedule": self.schedule,
            "cron": self.cron,
            "timezone": self.timezone,
            "recipients": self.recipients,
            "skip_unchanged": self.skip_unchanged,
            "formats": self.formats,
        }


def parse_recipient(token: str, user_id: str) -> str:
    """One ``to:`` item as ``kind:address``; ``SubscriptionError`` names a bad one."""
    item = token.strip().rstrip(",").strip()
    if item.lower() == "me":
        return f"slack_user:{user_id}"
    if match := _USER.match(item):
        return f"slack_user:{match.group(1)}"
    if match := _CHANNEL.match(item):
        return f"slack_channel:{match.group(1)}"
    if match := _MAILTO.match(item):
        item = match.group(1)
    if _EMAIL.match(item):
        return f"email:{item.lower()}"
    if item.startswith(("#", "@")):
        raise SubscriptionError(
            f"to: pick {item[:40]} from Slack's autocomplete so Slack sends its id"
        )
    raise SubscriptionError(f"to: {item[:60]!r} is not me, a #channel, an @user or an email")


def _cron_for(words: list[str]) -> tuple[str, str, list[str]]:
    """(schedule text, crontab, the words left over) from ``daily …``/``weekly …``/``cron …``."""
    kind = words[0].lower()
    if kind == "daily":
        if len(words) < 2 or not _TIME.match(words[1]):
            raise SubscriptionError("daily needs a time, e.g. daily 09:00")
        hour, minute = _TIME.match(words[1]).groups()  # type: ignore[union-attr]
        return f"daily {int(hour):02d}:{minute}", f"{int(minute)} {int(hour)} * * *", words[2:]
    if kind == "weekly":
        if len(words) < 3 or words[1].lower()[:3] not in _DAYS or not _TIME.match(words[2]):
            raise SubscriptionError("weekly needs a day and a time, e.g. weekly MON 09:00")
        day = words[1].lower()[:3]
        hour, minute = _TIME.match(words[2]).groups()  # type: ignore[union-attr]
        schedule = f"weekly {day.upper()} {int(hour):02d}:{minute}"
        return schedule, f"{int(minute)} {int(hour)} * * {day}", words[3:]
    if len(words) < 2:
        raise SubscriptionError('cron needs an expression in quotes, e.g. cron "0 9 * * 1-5"')
    expression = " ".join(words[1].split())
    try:
        crontab_trigger(expression, "UTC")
    except ValueError as exc:
        raise SubscriptionError(
            f"cron: {expression!r} is not a crontab expression ({exc})"
        ) from None
    return f'cron "{expression}"', expression, words[2:]


def parse_subscribe(text: str, user_id: str, default_tz: str) -> SubscriptionSpec:
    """Parse the text after ``subscribe`` (raw, as Slack sends it)."""
    tokens = [q or bare for q, bare in _SUBSCRIBE_TOKEN.findall(text.translate(_CURLY_QUOTES))]
    position = next(
        (i for i, t in enumerate(tokens) if i > 0 and t.lower() in ("daily", "weekly", "cron")),
        None,
    )
    if not tokens or position is None:
        raise SubscriptionError(
            'Write: subscribe <flow|all> daily HH:MM | weekly MON HH:MM | cron "…" '
            "[tz:Area/City] [to: me, #channel, name@domain]"
        )
    flow = " ".join(tokens[:position])
    schedule, cron, rest = _cron_for(tokens[position:])
    timezone, recipients, skip, formats = default_tz, [], False, "csv,pdf"
    collecting = False
    for token in rest:
        lower = token.lower()
        if lower.startswith("tz:"):
            timezone, collecting = token[3:], False
        elif lower.startswith("format:"):
            try:
                formats, collecting = parse_file_formats(token[7:]), False
            except CommandSyntaxError as exc:
                raise SubscriptionError(str(exc)) from None
        elif lower in ("if-changed", "only-changes"):
            skip, collecting = True, False
        elif lower.startswith("to:"):
            collecting = True
            recipients += [part for part in token[3:].split(",") if part.strip()]
        elif collecting:
            recipients += [part for part in token.split(",") if part.strip()]
        else:
            raise SubscriptionError(
                f"{token[:40]!r} is not understood here; use tz:, to:, if-changed or format:"
            )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(
            f"tz: unknown time zone {timezone[:60]!r}; e.g. tz:Asia/Kolkata"
        ) from None
    parsed = tuple(dict.fromkeys(parse_recipient(r, user_id) for r in recipients or ["me"]))
    if len(parsed) > MAX_RECIPIENTS:
        raise SubscriptionError(f"to: at most {MAX_RECIPIENTS} recipients")
    return SubscriptionSpec(flow, schedule, cron, timezone, parsed, skip, formats)


# -- alerts --------------------------------------------------------------------------------------

ALERT_WORDS = ("alert", "alerts")
_OPS = re.compile(r"(<=|>=|=<|=>|≤|≥|<|>|==|=)")
_OP_SPELLINGS = {"=<": "<=", "=>": ">=", "≤": "<=", "≥": ">="}
_CONVERSATION = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_NUMBER = re.compile(r"^\d{1,12}(\.\d{1,6})?$")
ALERT_USAGE = (
    "Write: alert <flow|all> <metric> <op> <threshold> [min:N] [to: #channel, @user, me], "
    "e.g. alert “Diwali offers” failure_rate > 5 min:200"
)


class AlertSyntaxError(ValueError):
    """The alert cannot be made as written; the message is the one-line reason."""


def alert_subcommand_of(text: str) -> tuple[str, str] | None:
    """``("alert", rest)`` or ``("alerts", rest)`` when the command is about alerts."""
    word, _, rest = (text or "").strip().partition(" ")
    if word.lower() in ALERT_WORDS:
        return word.lower(), rest.strip()
    return None


@dataclass(frozen=True)
class AlertSpec:
    """A parsed ``alert`` command (the rules it must meet are ``reports.alerts``')."""

    flow: str  # a flow query, or "all"
    metric: str  # normalized: failure_rate, error:131049…
    op: str
    threshold: float
    min_notifications: int
    recipients: tuple[str, ...]  # "slack_user:U…", "slack_channel:C…", "email:a@b"


def default_alert_recipient(channel_id: str | None, user_id: str) -> str:
    """Where an alert goes without ``to:``: the channel the command was typed in.

    In a direct message that is the user's DM with the app (``slack_user``): the app cannot
    post in a conversation between people, and its own DM with the user is the same place.
    """
    channel = channel_id or ""
    if _CONVERSATION.match(channel) and not channel.startswith("D"):
        return f"slack_channel:{channel}"
    return f"slack_user:{user_id}"


def _alert_tokens(raw: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """(head tokens with "was quoted", recipient items): ``to:`` starts the recipients."""
    head: list[tuple[str, bool]] = []
    recipients: list[str] = []
    collecting = False
    for quoted_double, quoted_single, bare in _TOKEN.findall(raw):
        if bare.startswith('"'):
            raise AlertSyntaxError("A quote is not closed; write the flow name in quotes.")
        quoted = not bare
        token = quoted_double or quoted_single or bare
        if not quoted and token.lower().startswith("to:"):
            collecting, token = True, token[3:]
        if collecting:
            recipients += [part for part in token.split(",") if part.strip()]
        elif quoted:
            head.append((token, True))
        else:  # "failure_rate>5" is three tokens
            head += [(part, False) for part in _OPS.split(token) if part]
    return head, recipients


def _threshold(parts: list[str], metric: str) -> float:
    taken = 2 if len(parts) > 1 and parts[1] == "%" else 1
    if len(parts) > taken:
        raise AlertSyntaxError(f"{parts[taken][:40]!r} is not understood here; use min: or to:")
    text = "".join(parts[:taken])
    percent = text.endswith("%")
    number = text.removesuffix("%")
    if not _NUMBER.match(number):
        raise AlertSyntaxError(f"the threshold must be a number, e.g. 5 or 2.5%, not {text[:20]!r}")
    if percent and not is_rate(metric):
        raise AlertSyntaxError(f"{metric} counts messages: write the threshold without %")
    return float(number)


def parse_alert(text: str, user_id: str, channel_id: str | None = None) -> AlertSpec:
    """Parse the text after ``alert`` (as Slack sends it, entity-escaped)."""
    raw = unescape_slack(text or "").translate(_CURLY_QUOTES).strip()
    if len(raw) > MAX_TEXT:
        raise AlertSyntaxError(f"That is too long for an alert ({len(raw):,} characters).")
    head, recipient_items = _alert_tokens(raw)
    minimum, words = DEFAULT_MIN_NOTIFICATIONS, []
    for token, quoted in head:
        if not quoted and token.lower().startswith("min:"):
            value = token[4:]
            if not value.isdigit() or len(value) > 10:
                raise AlertSyntaxError("min: needs a whole number of notifications, e.g. min:200")
            minimum = int(value)
        else:
            words.append((token, quoted))
    position = next((i for i, (t, q) in enumerate(words) if not q and _OPS.fullmatch(t)), None)
    if position is None or position < 2 or position + 1 >= len(words):
        raise AlertSyntaxError(ALERT_USAGE)
    op = _OP_SPELLINGS.get(words[position][0], words[position][0])
    if op in ("=", "=="):
        raise AlertSyntaxError("alerts compare with <, <=, > or >=, not =")
    flow = " ".join(token for token, _ in words[: position - 1])
    try:
        metric = normalize_metric(words[position - 1][0])
        threshold = _threshold([t for t, _ in words[position + 1 :]], metric)
        check_condition(metric, op, threshold, minimum)
        parsed = [parse_recipient(item, user_id) for item in recipient_items]
    except (AlertRuleError, SubscriptionError) as exc:
        raise AlertSyntaxError(str(exc)) from None
    recipients = tuple(dict.fromkeys(parsed or [default_alert_recipient(channel_id, user_id)]))
    if len(recipients) > MAX_RECIPIENTS:
        raise AlertSyntaxError(f"to: at most {MAX_RECIPIENTS} recipients")
    return AlertSpec(flow, metric, op, threshold, minimum, recipients)


def parse_alert_id(text: str) -> int | None:
    """``3`` or ``#3`` → 3; None for anything else."""
    raw = text.strip().lstrip("#")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@dataclass(frozen=True)
class MuteTarget:
    """The (alert, flow) a Mute button names."""

    alert_id: int
    flow_id: int

    def encode(self) -> str:
        """``3|12``."""
        return f"{self.alert_id}|{self.flow_id}"


def parse_mute_target(value: str) -> MuteTarget:
    """Read an ``alert|flow`` button value back; a malformed one raises ``BadValue``."""
    alert_id, sep, flow_id = (value or "").partition("|")
    if not sep or not alert_id.isdigit() or not flow_id.isdigit() or len(value) > 40:
        raise BadValue(f"value: not an alert reference: {value[:80]!r}")
    return MuteTarget(int(alert_id), int(flow_id))
