"""Reading an ingestion batch: decode a body, validate every item, name every problem.

Pure functions of bytes (no HTTP, no database), used by ``bot.api``. The common case — a
valid batch — is validated straight from bytes by pydantic (the whole JSON array in one pass,
or NDJSON line by line); anything else goes down a careful path that decodes the JSON and
names each problem's item and field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from store.events import (
    AnyEvent,
    Event,
    EventError,
    FlowEvent,
    parse_event,
    parse_event_json,
)

MAX_EVENTS = 10_000
MAX_AUDIENCE = 2**31 - 1  # the store's INTEGER column on PostgreSQL
NOT_NULL_FLOW_FIELDS = ("name", "status", "channels", "created_at")  # the store refuses null
JSON = "application/json"
NDJSON = "application/x-ndjson"
_TIME_FIELDS = ("at", "scheduled_at", "created_at")


class ItemError(BaseModel):
    """One problem: which item (0-based; NDJSON also gives the line), which field, and why."""

    index: int | None = None
    line: int | None = None
    field: str | None = None
    message: str


class BatchTooLarge(Exception):
    """More events than one request may carry."""


class BatchRejected(Exception):
    """A batch (or body) that cannot be applied; ``errors`` lists every problem found."""

    def __init__(self, detail: str, errors: list[ItemError]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: bytes) -> Any:
    """Strict JSON: no NaN/Infinity; nesting too deep for the parser is an error, not a crash."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ValueError("not valid JSON") from None


def _too_many(count: int) -> BatchTooLarge:
    return BatchTooLarge(f"{count:,} events in one request; the limit is {MAX_EVENTS:,}")


def _json_array(body: bytes) -> list[Any]:
    """The items of a JSON array body, or a 422 / 413."""
    try:
        data = loads(body)
    except ValueError as exc:
        raise BatchRejected("the body is not valid JSON", [ItemError(message=str(exc))]) from None
    if not isinstance(data, list):
        problem = ItemError(
            message="expected a JSON array of events (or send application/x-ndjson)"
        )
        raise BatchRejected("the body is not a JSON array", [problem])
    if len(data) > MAX_EVENTS:
        raise _too_many(len(data))
    return data


def nul_field(data: Any) -> str | None:
    """The dotted path of the first string holding a NUL character (PostgreSQL refuses them)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return path or None
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return None


def check_store_limits(event: AnyEvent, where: str) -> None:
    """Refuse what the event format accepts but the store cannot keep."""
    if not isinstance(event, FlowEvent):
        return
    for name in NOT_NULL_FLOW_FIELDS:
        if name in event.model_fields_set and getattr(event, name) is None:
            raise EventError(where, name, "must not be null")
    if event.audience is not None and event.audience > MAX_AUDIENCE:
        raise EventError(where, "audience", f"must be at most {MAX_AUDIENCE:,}")


def _overflows(value: Any) -> bool:
    """True for an ISO time that leaves the calendar when converted to UTC (year 1 or 9999)."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.strip()).astimezone(UTC)
    except OverflowError:
        return True
    except ValueError:
        return False
    return False


# What a checked item becomes: the event or why it is refused, and the bot_id it claims.
Checked = tuple[AnyEvent | EventError, str | None]


def check_data(data: Any, where: str) -> Checked:
    """Validate one decoded item (the careful path, which names every problem's field)."""
    claimed = data.get("bot_id") if isinstance(data, dict) else None
    claimed = claimed.strip() if isinstance(claimed, str) else None
    try:
        nul = nul_field(data)
        if nul is not None:
            raise EventError(where, nul, "NUL characters are not allowed")
        try:
            event = parse_event(data, where)
        except OverflowError:
            # A time so near year 1 or 9999 that converting it to UTC leaves the calendar.
            field = next((name for name in _TIME_FIELDS if _overflows(data.get(name))), None)
            raise EventError(where, field, "time out of range") from None
        check_store_limits(event, where)
    except EventError as exc:
        return exc, claimed
    return event, event.bot_id


# Texts that only the careful path handles right: NUL escapes and the non-JSON NaN/Infinity.
_SUSPECT = re.compile(rb"\\u0000|NaN|Infinity")
_EVENT_LIST: TypeAdapter[list[AnyEvent]] = TypeAdapter(list[Event])  # type: ignore[arg-type]


def _check_line(raw: bytes, where: str) -> Checked:
    """Validate one NDJSON line; straight from bytes when nothing in it needs care."""
    if not _SUSPECT.search(raw):
        try:
            event = parse_event_json(raw, where)
            check_store_limits(event, where)
            return event, event.bot_id
        except (EventError, OverflowError):
            pass  # the careful path reports it, with the bot_id the line claims
    try:
        data = loads(raw)
    except ValueError as exc:
        return EventError(where, None, str(exc)), None
    return check_data(data, where)


def check_body(body: bytes, media_type: str) -> tuple[list[Checked], list[int | None]]:
    """Every item of a body, checked, with its NDJSON line number (None for a JSON array)."""
    if media_type == NDJSON:
        lines = [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
        if len(lines) > MAX_EVENTS:
            raise _too_many(len(lines))
        checked = [_check_line(raw, f"item {i}") for i, (_, raw) in enumerate(lines)]
        return checked, [n for n, _ in lines]
    events = None
    if not _SUSPECT.search(body):
        try:  # one pass over the whole array; on any problem, the careful path names it
            events = _EVENT_LIST.validate_json(body)
        except (ValidationError, OverflowError):
            events = None
    if events is None:
        data = _json_array(body)
        checked = [check_data(item, f"item {i}") for i, item in enumerate(data)]
    else:
        if len(events) > MAX_EVENTS:
            raise _too_many(len(events))
        checked = []
        for i, event in enumerate(events):
            try:
                check_store_limits(event, f"item {i}")
                checked.append((event, event.bot_id))
            except EventError as exc:
                checked.append((exc, event.bot_id))
    return checked, [None] * len(checked)
