"""Reading an ingestion batch: decode a body, validate every item, name every problem.

Pure functions of bytes (no HTTP, no database), used by ``bot.http.events`` and
``bot.http.flows``. The common case — a valid batch — is validated straight from bytes by
pydantic (the whole JSON array in one pass, or NDJSON line by line); anything else goes down
a careful path that decodes the JSON and names each problem's item and field.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from store.events import (
    AnyEvent,
    Event,
    EventError,
    parse_event,
    parse_event_json,
)

MAX_EVENTS = 10_000
JSON = "application/json"
NDJSON = "application/x-ndjson"


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


# What a checked item becomes: the event or why it is refused, and the bot_id it claims.
Checked = tuple[AnyEvent | EventError, str | None]


def check_data(data: Any, where: str) -> Checked:
    """Validate one decoded item (the careful path, which names every problem's field)."""
    claimed = data.get("bot_id") if isinstance(data, dict) else None
    claimed = claimed.strip() if isinstance(claimed, str) else None
    try:
        event = parse_event(data, where)
    except EventError as exc:
        return exc, claimed
    return event, event.bot_id


_EVENT_LIST: TypeAdapter[list[AnyEvent]] = TypeAdapter(list[Event])  # type: ignore[arg-type]


def _check_line(raw: bytes, where: str) -> Checked:
    """Validate one NDJSON line; straight from bytes, decoding only to name a problem."""
    try:
        event = parse_event_json(raw, where)
        return event, event.bot_id
    except EventError:
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
    try:  # one pass over the whole array; on any problem, the careful path names it
        events = _EVENT_LIST.validate_json(body)
    except ValidationError:
        data = _json_array(body)
        return [check_data(item, f"item {i}") for i, item in enumerate(data)], [None] * len(data)
    if len(events) > MAX_EVENTS:
        raise _too_many(len(events))
    return [(event, event.bot_id) for event in events], [None] * len(events)
