"""The event format (DESIGN.md, Ingestion): parsing and validation, no database.

One JSON object per event, told apart by ``type``. Every check that can be made on an event
alone is made here, so a bad item is reported with its field before anything is written.
"""

from __future__ import annotations

import json
import math
import re
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
# Times both databases keep and every time zone can show: a day inside Python's datetime range
# on each side, so converting to REPORT_TIMEZONE (offsets under ±24 h) never overflows.
MIN_TIME = datetime(1, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() == _ZERO:
        moment = value.replace(tzinfo=UTC)
    else:
        try:
            moment = value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00
            raise ValueError("time out of range once converted to UTC") from None
    if not MIN_TIME <= moment <= MAX_TIME:
        raise ValueError("time out of range: expected 0001-01-02 to 9999-12-30 (UTC)")
    return moment


MAX_INT = 2**31 - 1  # the store's INTEGER columns on PostgreSQL
MIN_INT = -(2**31)
MAX_CHANNELS = 100
MAX_ERROR_CODE_CHARS = 64
MAX_COMMENTS_CHARS = 2000
# custom_payload: at most this many characters of compact JSON (what the CSV export writes and
# its import reads back) and this many nested arrays/objects (pydantic-core stops at 200).
MAX_PAYLOAD_CHARS = 1024 * 1024
MAX_PAYLOAD_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
# Upper bounds of a value's length in compact JSON, to skip serializing small payloads.
_ESCAPED_CHAR = 6  # \u001f
_FLOAT_CHARS = 24  # -2.2250738585072014e-308


def _text_problem(text: str, surrogates: bool) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed"
    if surrogates and _SURROGATE.search(text):
        return "not valid Unicode (a lone surrogate)"
    return None


def _scan_json(value: Any, surrogates: bool) -> tuple[bool, int]:
    """Whether a JSON column can keep ``value``, and an upper bound of its length as compact
    JSON (cheaper than writing it): one quick walk, which names nothing (``_describe_json``
    does, when it is False)."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)  # values parsed from JSON: exactly str, dict, list, float, int…
        if kind is str:
            size += _ESCAPED_CHAR * len(item) + 2
            if _text_problem(item, surrogates):
                return False, size
        elif kind is dict or kind is list:
            if depth >= MAX_PAYLOAD_DEPTH:
                return False, size
            size += 2 + 2 * len(item)
            if kind is list:
                stack.extend((child, depth + 1) for child in item)
                continue
            for key, child in item.items():
                size += _ESCAPED_CHAR * len(key) + 2
                if _text_problem(key, surrogates):
                    return False, size
                stack.append((child, depth + 1))
        elif kind is float:
            size += _FLOAT_CHARS
            if not math.isfinite(item):
                return False, size
        elif kind is int:
            size += item.bit_length() // 3 + 2
        else:  # true, false, null
            size += 5
    return True, size


def _describe_json(value: Any, surrogates: bool) -> str | None:
    """What ``_scan_json`` found wrong with ``value``, and where (``(at k.1)``)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        where = f" (at {path})" if path else ""
        if isinstance(item, str) and _text_problem(item, surrogates):
            return f"{_text_problem(item, surrogates)}{where}"
        if isinstance(item, float) and not math.isfinite(item):
            return f"NaN and Infinity are not JSON numbers{where}"
        if isinstance(item, dict | list) and depth >= MAX_PAYLOAD_DEPTH:
            return f"nested deeper than {MAX_PAYLOAD_DEPTH} arrays or objects{where}"
        if isinstance(item, list):
            stack.extend(
                (f"{path}.{i}" if path else str(i), c, depth + 1) for i, c in enumerate(item)
            )
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if _text_problem(str(key), surrogates):
                    return f"{_text_problem(str(key), surrogates)} (in a key at {child_path})"
                stack.append((child_path, child, depth + 1))
    return None


def json_problem(value: Any) -> str | None:
    """Why a JSON column could not keep ``value`` and give it back the same, or None.

    NaN/Infinity, NUL characters and lone surrogates (PostgreSQL refuses them; SQLite would
    keep what no UTF-8 file can hold), and nesting deeper than ``MAX_PAYLOAD_DEPTH``.
    """
    ok, _ = _scan_json(value, surrogates=True)
    return None if ok else _describe_json(value, surrogates=True)


def _json_safe(value: Any) -> Any:
    """Refuse a payload a JSON column cannot keep, or one past the payload bounds."""
    # pydantic-core has already refused lone surrogates (every event is validated from JSON
    # text), so the walk leaves them out.
    ok, size_bound = _scan_json(value, surrogates=False)
    if not ok:
        raise ValueError(_describe_json(value, surrogates=False))
    if size_bound > MAX_PAYLOAD_CHARS:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_PAYLOAD_CHARS:
            raise ValueError(f"{size:,} characters of JSON; the limit is {MAX_PAYLOAD_CHARS:,}")
    return value


# ISO 8601 text only (strict: no Unix numbers); a time without an offset is UTC.
Time = Annotated[datetime, Field(strict=True), AfterValidator(_as_utc)]
NO_NUL_PATTERN = r"^[^\x00]*$"  # checked in pydantic-core; reported as "NUL characters…"
Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"  # no C0/C1 control characters, no DEL
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
    channels: Annotated[list[str], Field(max_length=MAX_CHANNELS)] | None = None
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
    comments: Annotated[Text, Field(max_length=MAX_COMMENTS_CHARS)] | None = None
    error_code: str | int | None = None
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
        # Kept as text (VARCHAR(64)); an integer code must also fit an integer column.
        if value is None or value == "":
            return None
        if isinstance(value, int) and not MIN_INT <= value <= MAX_INT:
            raise ValueError(f"an integer code must be from {MIN_INT:,} to {MAX_INT:,}")
        text = str(value)
        if len(text) > MAX_ERROR_CODE_CHARS:
            raise ValueError(f"String should have at most {MAX_ERROR_CODE_CHARS} characters")
        if "\x00" in text:
            raise ValueError("NUL characters are not allowed")
        return text

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
    loc = list(first["loc"])
    if loc and loc[0] in ("flow", "message", *USER_EVENT_TYPES):
        loc = loc[1:]  # drop the discriminator tag pydantic puts first
    # The field, then list indexes; union members' tags ("int", "constrained-str"…) are not
    # part of the event's shape.
    loc = [str(part) for n, part in enumerate(loc) if n == 0 or isinstance(part, int)]
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


_ID_ADAPTER: TypeAdapter[str] = TypeAdapter(Id)


def check_id(value: str, field: str, where: str) -> str:
    """``value`` when it is an id exactly as written (as in a URL), else ``EventError``.

    Events trim their text, so `` wf_42`` in a body is ``wf_42``; an id that names a resource
    in a URL is taken as written, and one that trimming would change is refused.
    """
    if value != value.strip():
        raise EventError(where, field, "leading or trailing whitespace is not allowed")
    try:
        return _ID_ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise EventError(where, field, describe_validation_error(exc)[1]) from None


def parse_event(data: Any, where: str) -> FlowEvent | MessageEvent | UserActionEvent:
    """Validate one decoded JSON value as an event, or raise ``EventError``."""
    if not isinstance(data, dict):
        raise EventError(where, None, "expected a JSON object")
    # Through JSON on purpose: files, the HTTP API and the demo then share one set of rules.
    return _validate_json(json.dumps(data, default=str), where, data)


def parse_event_json(line: str | bytes, where: str) -> FlowEvent | MessageEvent | UserActionEvent:
    """Validate one JSON text (an NDJSON line) as an event, or raise ``EventError``."""
    return _validate_json(line, where, None)


def _validate_json(
    text: str | bytes, where: str, decoded: dict[str, Any] | None
) -> FlowEvent | MessageEvent | UserActionEvent:
    try:
        return _EVENT_ADAPTER.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise _unparsed(text, where, decoded) from None
        if first["type"] in ("model_attributes_type", "model_type"):
            raise EventError(where, None, "expected a JSON object") from None
        field, message = describe_validation_error(exc)
        raise EventError(where, field, message) from None


def _unparsed(text: str | bytes, where: str, decoded: dict[str, Any] | None) -> EventError:
    """Why pydantic-core could not read ``text``: a field it cannot hold, or bad JSON.

    pydantic-core refuses lone surrogates (``"\\ud800"``) and nesting past 200 levels as
    invalid JSON; Python's parser reads both, which lets the error name the field.
    """
    if decoded is None:
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            return EventError(where, None, "not valid JSON")
    if isinstance(decoded, dict):
        for key, value in decoded.items():
            problem = json_problem(value)
            if problem:
                return EventError(where, str(key), problem)
    return EventError(where, None, "not valid JSON")


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
