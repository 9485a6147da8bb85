"""The event format (DESIGN.md, Ingestion): parsing and validation, no database.

One JSON object per event, told apart by ``type``. Every check that can be made on an event
alone is made here, so a bad item is reported with its field before anything is written.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from store.vocabulary import (
    FLOW_STATUSES,
    USER_EVENT_TYPES,
    normalize_source,
    normalize_status,
    shown,
)


class EventError(ValueError):
    """One bad event: where it is (``file:line`` or item index), which field, and why."""

    def __init__(self, where: str, field: str | None, message: str) -> None:
        self.where = where
        self.field = field
        self.message = message
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


_ZERO = timedelta(0)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() == _ZERO:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00
        raise ValueError("time out of range once converted to UTC") from None


def _json_safe(value: Any) -> Any:
    """Refuse what JSON columns cannot keep: NaN/Infinity and NUL characters, at any depth."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        where = f" (at {path})" if path else ""
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"NaN and Infinity are not JSON numbers{where}")
        if isinstance(item, str) and "\x00" in item:
            raise ValueError(f"NUL characters are not allowed{where}")
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    raise ValueError(f"NUL characters are not allowed (in a key at {child_path})")
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))
    return value


MAX_INT = 2**31 - 1  # the store's INTEGER columns on PostgreSQL


# ISO 8601 text only (strict: no Unix numbers); a time without an offset is UTC.
Time = Annotated[datetime, Field(strict=True), AfterValidator(_as_utc)]
NO_NUL_PATTERN = r"^[^\x00]*$"  # checked in pydantic-core; reported as "NUL characters…"
Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]
ID_PATTERN = r"^[^\x00-\x1f]+$"
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
LongId = Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
UserId = Annotated[str, Field(min_length=1, max_length=320, pattern=ID_PATTERN)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=False)

    bot_id: Id
    workflow_id: Id


class FlowEvent(_Event):
    """Creates or updates a flow; only the fields present are changed."""

    type: Literal["flow"]
    name: Annotated[Text, Field(min_length=1, max_length=300)] | None = None
    status: str | None = None
    goal: Annotated[Text, Field(max_length=300)] | None = None
    audience: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    channels: list[str] | None = None
    scheduled_at: Time | None = None
    created_at: Time | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("must not be null")
        status = value.strip().lower()
        if status not in FLOW_STATUSES:
            raise ValueError(
                f"unknown flow status {shown(value)}; expected one of {', '.join(FLOW_STATUSES)}"
            )
        return status

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            raise ValueError("must not be null")
        return sorted({normalize_source(v) for v in value})

    @field_validator("name", "created_at")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Present-but-null: these columns always hold a value (absent fields stay unchanged).
        if value is None:
            raise ValueError("must not be null")
        return value


class MessageEvent(_Event):
    """A notification's status: creates the message or moves its status up."""

    type: Literal["message"]
    message_id: LongId
    user_id: UserId
    source: str
    status: str
    at: Time
    template_id: Annotated[Text, Field(max_length=200)] | None = None
    ip_address: Annotated[Text, Field(max_length=64)] | None = None
    custom_payload: dict[str, Any] | list[Any] | str | int | float | bool | None = None
    sent_by: Annotated[Text, Field(max_length=320)] | None = None
    comments: Annotated[Text, Field(max_length=2000)] | None = None
    error_code: Annotated[Text, Field(max_length=64)] | Annotated[int, Field(le=MAX_INT)] | None = (
        None
    )
    scheduled_at: Time | None = None
    created_at: Time | None = None
    event_id: LongId | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return normalize_status(value)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return normalize_source(value)

    @field_validator("custom_payload")
    @classmethod
    def _payload(cls, value: Any) -> Any:
        return _json_safe(value)

    @field_validator("error_code")
    @classmethod
    def _error_code(cls, value: str | int | None) -> str | None:
        if value is None or value == "":
            return None
        return str(value)

    @field_validator("comments", "template_id", "ip_address", "sent_by")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class UserActionEvent(_Event):
    """A user's action: click (with ``url``), reply, goal achieved, flow entered…"""

    type: Literal[USER_EVENT_TYPES]  # type: ignore[valid-type]
    user_id: UserId
    at: Time
    source: str | None = None
    message_id: LongId | None = None
    url: Annotated[Text, Field(max_length=2000)] | None = None
    event_id: LongId | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        return None if value is None else normalize_source(value)


Event = Annotated[FlowEvent | MessageEvent | UserActionEvent, Field(discriminator="type")]
_EVENT_ADAPTER: TypeAdapter[FlowEvent | MessageEvent | UserActionEvent] = TypeAdapter(Event)


def describe_validation_error(exc: ValidationError) -> tuple[str | None, str]:
    """The first failing field (dotted, without the union tag) and its message."""
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    if loc and loc[0] in ("flow", "message", *USER_EVENT_TYPES):
        loc = loc[1:]  # drop the discriminator tag pydantic puts first
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "union_tag_invalid":
        return "type", "unknown event type; expected flow, message or " + ", ".join(
            USER_EVENT_TYPES
        )
    if first["type"] == "union_tag_not_found":
        return "type", "missing event type"
    if first["type"].startswith(("datetime_", "date_")):
        example = "2026-11-01T09:00:00Z"
        message = f"expected an ISO 8601 time such as {example}, got {shown(first['input'])}"
    if first["type"] == "string_pattern_mismatch":
        pattern = (first.get("ctx") or {}).get("pattern")
        if pattern == NO_NUL_PATTERN:
            message = "NUL characters are not allowed"
        elif pattern == ID_PATTERN:
            message = "control characters are not allowed"
    if first["type"] == "missing":
        message = "required field is missing"
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return ".".join(loc) or None, message


def parse_event(data: Any, where: str) -> FlowEvent | MessageEvent | UserActionEvent:
    """Validate one decoded JSON value as an event, or raise ``EventError``."""
    if not isinstance(data, dict):
        raise EventError(where, None, "expected a JSON object")
    # Through JSON on purpose: files, the HTTP API and the demo then share one set of rules.
    return parse_event_json(json.dumps(data, default=str), where)


def parse_event_json(line: str | bytes, where: str) -> FlowEvent | MessageEvent | UserActionEvent:
    """Validate one JSON text (an NDJSON line) as an event, or raise ``EventError``."""
    try:
        return _EVENT_ADAPTER.validate_json(line)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "json_invalid":
            raise EventError(where, None, "not valid JSON") from None
        if exc.errors()[0]["type"] in ("model_attributes_type", "model_type"):
            raise EventError(where, None, "expected a JSON object") from None
        field, message = describe_validation_error(exc)
        raise EventError(where, field, message) from None


AnyEvent = FlowEvent | MessageEvent | UserActionEvent
_EVENT_LIST_ADAPTER: TypeAdapter[list[AnyEvent]] = TypeAdapter(list[Event])  # type: ignore[arg-type]


def parse_events_json(lines: list[bytes], wheres: list[str]) -> list[AnyEvent | EventError]:
    """Validate many NDJSON lines at once; the same result as ``parse_event_json`` per line.

    The lines are validated as one JSON array in a single pydantic-core call. When anything
    is wrong, or the lines did not make exactly one element each (a line holding two objects,
    or two lines joining into one), every line is validated on its own to name the problem.
    """
    if lines:
        try:
            events = _EVENT_LIST_ADAPTER.validate_json(b"[" + b",".join(lines) + b"]")
        except ValidationError:
            pass
        else:
            if len(events) == len(lines):
                return list(events)
    results: list[AnyEvent | EventError] = []
    for line, where in zip(lines, wheres, strict=True):
        try:
            results.append(parse_event_json(line, where))
        except EventError as exc:
            results.append(exc)
    return results
