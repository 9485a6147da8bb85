"""``campaign-bot import``: NDJSON event files and CSV files in the seed's export format.

Files are streamed in batches (memory does not grow with the file). Each file is applied in
one write transaction: a file with a bad line is rolled back whole and its errors are
reported as ``file:line: field: message``.

A CSV row is one status event of its message, with a stable event id (``csv_event_id``), so
importing the same rows again counts them once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

from store.csv_format import CSV_COLUMNS, MAX_COMMENTS_CELL, MAX_FIELD_CHARS, unescape_cell
from store.db import write_transaction
from store.events import (
    MAX_COMMENTS_CHARS,
    AnyEvent,
    EventError,
    MessageEvent,
    parse_event,
    parse_events_json,
)
from store.ingest import BATCH_SIZE, Ingestor, IngestResult, fewer_gc_passes

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
MAX_REPORTED_ERRORS = 20

Item = tuple[str, AnyEvent | EventError]
Progress = Callable[[int], None]


class ImportFailed(Exception):
    """A file had bad lines; nothing from it was written."""

    def __init__(self, path: Path, errors: list[EventError], truncated: bool) -> None:
        self.path = path
        self.errors = errors
        self.truncated = truncated
        more = " (and more)" if truncated else ""
        super().__init__(f"{path}: {len(errors)} bad line(s){more}; nothing was imported")


@dataclass
class ImportReport:
    """What one imported file added."""

    path: Path
    result: IngestResult = field(default_factory=IngestResult)


class _CountingReader(io.RawIOBase):
    """Wraps a binary file and reports how many bytes were read, for progress bars."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        if self._progress is not None and data:
            self._progress(len(data))
        return len(data)


def read_ndjson(stream: IO[bytes], name: str) -> Iterator[Item]:
    """Yield ``(file:line, event or error)`` for each non-blank line of an NDJSON stream."""
    lines: list[bytes] = []
    wheres: list[str] = []
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        lines.append(line)
        wheres.append(f"{name}:{number}")
        if len(lines) >= BATCH_SIZE:
            yield from zip(wheres, parse_events_json(lines, wheres), strict=True)
            lines, wheres = [], []
    yield from zip(wheres, parse_events_json(lines, wheres), strict=True)


# Bytes that are not UTF-8 are read as lone surrogates (errors="surrogateescape"), so the row
# and the cell that hold them can be named, whatever the decoder's buffering.
_UNDECODED = re.compile("[\udc80-\udcff]")


def _allow_long_fields() -> None:
    """Let the csv module read every cell the export writes (its default stops at 128 KiB)."""
    # The limit is global to the csv module; it is only ever raised here.
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


def read_csv(stream: IO[bytes], name: str) -> Iterator[Item]:
    """Yield ``(file:line, message event or error)`` for each row of an export CSV."""
    _allow_long_fields()
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        yield f"{name}:1", EventError(f"{name}:1", None, "empty file: no header row")
        return
    except csv.Error as exc:
        yield f"{name}:1", EventError(f"{name}:1", None, f"unreadable header: {exc}")
        return
    if any(_UNDECODED.search(cell) for cell in header):
        yield f"{name}:1", EventError(f"{name}:1", None, "not valid UTF-8 in the header")
        return
    header = [h.strip() for h in header]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        yield f"{name}:1", EventError(f"{name}:1", None, f"missing column(s): {', '.join(missing)}")
        return
    index = {column: header.index(column) for column in CSV_COLUMNS}
    while True:
        where = f"{name}:{reader.line_num + 1}"
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield where, EventError(where, None, f"unreadable CSV row: {exc}")
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            yield where, EventError(where, None, f"expected {len(header)} cells, got {len(row)}")
            continue
        undecoded = next((c for c, i in index.items() if _UNDECODED.search(row[i])), None)
        if undecoded is None and _UNDECODED.search("".join(row)):
            undecoded = ""  # in a column the import does not read
        if undecoded is not None:
            yield where, EventError(where, undecoded or None, "not valid UTF-8")
            continue
        cells = {column: unescape_cell(row[i]) for column, i in index.items()}
        try:
            yield where, _csv_row_event(cells, where)
        except EventError as exc:
            yield where, exc


def csv_event_id(event: MessageEvent) -> str:
    """The event id of a CSV row: from its bot, message id, status and updated time (UTC).

    The same row read from any export of the message in that state (in any time zone) has the
    same id, so a re-import is a duplicate; a later status of the message is a new event.
    """
    key = "\x1f".join((event.bot_id, event.message_id, event.status, event.at.isoformat()))
    return "csv:" + hashlib.sha256(key.encode()).hexdigest()


def _csv_row_event(cells: dict[str, str], where: str) -> MessageEvent:
    payload_text = cells["Custom payload"].strip()
    payload: Any = None
    if payload_text:
        try:
            payload = json.loads(payload_text)
        except (ValueError, RecursionError):
            payload = payload_text  # a plain-text payload is kept as text
    comments = _comments(cells["Comments"], where)
    data = {
        "type": "message",
        "bot_id": cells["BotId"],
        "user_id": cells["UserId"],
        "source": cells["Source"],
        "status": cells["Status"],
        "ip_address": cells["IP Address"] or None,
        "message_id": cells["Message ID"],
        "workflow_id": cells["Workflow ID"],
        "custom_payload": payload,
        "template_id": cells["Template ID"] or None,
        "sent_by": cells["Notification Sent By"] or None,
        "comments": None if len(comments) > MAX_COMMENTS_CHARS else comments or None,
        "created_at": cells["Created Time"] or None,
        "scheduled_at": cells["Scheduled Time"] or None,
        "at": cells["Updated Time"] or cells["Created Time"],
    }
    try:
        event = parse_event(data, where)
    except EventError as exc:
        field = _CSV_FIELD_NAMES.get(exc.field or "", exc.field)
        raise EventError(where, field, exc.message) from None
    assert isinstance(event, MessageEvent)
    # Set on the event just made (no validation on assignment): it is not shared yet.
    event.event_id = csv_event_id(event)
    if len(comments) > MAX_COMMENTS_CHARS:
        event.comments = comments  # checked by _comments; the column has no length limit
    return event


# Unicode White_Space, the set pydantic's ``str_strip_whitespace`` trims. Python's own
# ``str.strip()`` also trims U+001C–U+001F, which the event format keeps: stripping with it
# here would import a comment of "\x1f" as an empty one.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)


def _comments(cell: str, where: str) -> str:
    """The Comments cell, which the export writes as ``"{error code} {comments}"`` (the seed
    has no error-code column): the whole cell is the comment, up to the longest the export
    writes — longer than a comment alone may be."""
    comments = cell.strip(WHITE_SPACE)
    if len(comments) > MAX_COMMENTS_CELL:
        message = f"String should have at most {MAX_COMMENTS_CELL} characters"
        raise EventError(where, "Comments", message)
    if "\x00" in comments:
        raise EventError(where, "Comments", "NUL characters are not allowed")
    return comments


_CSV_FIELD_NAMES = {
    "bot_id": "BotId",
    "user_id": "UserId",
    "source": "Source",
    "status": "Status",
    "ip_address": "IP Address",
    "message_id": "Message ID",
    "workflow_id": "Workflow ID",
    "custom_payload": "Custom payload",
    "template_id": "Template ID",
    "sent_by": "Notification Sent By",
    "comments": "Comments",
    "created_at": "Created Time",
    "scheduled_at": "Scheduled Time",
    "at": "Updated Time",
}


def read_file(path: Path, stream: IO[bytes]) -> Iterator[Item]:
    """Pick the reader by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(stream, path.name)
    if suffix in NDJSON_SUFFIXES or suffix == ".json":
        return read_ndjson(stream, path.name)
    raise ValueError(f"{path.name}: unsupported file type {suffix!r}; use .ndjson, .jsonl or .csv")


def import_file(
    engine: Engine,
    path: Path,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import one file in one transaction; raises ``ImportFailed`` and writes nothing on errors."""
    report = ImportReport(path)
    errors: list[EventError] = []
    truncated = False
    with fewer_gc_passes(), path.open("rb") as raw, write_transaction(engine) as conn:
        stream = io.BufferedReader(_CountingReader(raw, progress))
        ingestor = Ingestor(conn, now=now)
        batch: list[tuple[str, AnyEvent]] = []
        for where, item in read_file(path, stream):
            if isinstance(item, EventError):
                errors.append(item)
                if len(errors) >= MAX_REPORTED_ERRORS:
                    truncated = True
                    break
                continue
            if errors:
                continue  # keep reading to report more bad lines, but write nothing more
            batch.append((where, item))
            if len(batch) >= BATCH_SIZE:
                errors.extend(_apply(ingestor, batch))
                batch = []
        if not errors and batch:
            errors.extend(_apply(ingestor, batch))
        if errors:  # raising inside write_transaction rolls the whole file back
            raise ImportFailed(path, errors, truncated)
    report.result = ingestor.result
    return report


def _apply(ingestor: Ingestor, batch: list[tuple[str, AnyEvent]]) -> list[EventError]:
    try:
        ingestor.apply(batch)
    except EventError as exc:
        return [exc]
    return []
