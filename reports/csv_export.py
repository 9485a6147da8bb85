"""The CSV export (DESIGN.md, Outputs): one row per message, in the seed's 14 columns.

Rows are streamed from the database in batches (a server-side cursor on PostgreSQL, SQLite's
lazy cursor), so memory does not grow with the flow. The file reads back with
``campaign-bot import`` into the same messages:

* the Comments cell is ``"{error_code} {comments}"``: the seed has no error-code column, and
  the importer keeps the whole cell as the comment, which gives the same failure reason;
* Custom payload is compact JSON, so text, numbers and objects come back as they were;
* cells that a spreadsheet would run as a formula get a leading ``'``
  (``store.csv_format.unescape_cell`` takes it off again).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.csv_format import CSV_COLUMNS, comments_cell, guard_cell
from store.models import ALL_CHANNELS, Flow, FlowStat, Message

BATCH_SIZE = 5000
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_MINUTE, _NO_OFFSET = timedelta(minutes=1), timedelta(0)
_SQLITE_PRAGMAS = {"temp_store": 1, "cache_size": -8192}  # temporary files; 8 MiB of cache
_MAX_CACHED_PAYLOADS = 1024
_MAX_CACHED_PAYLOAD_CHARS = 4096
_MAX_CACHED_MINUTES = 100_000  # ~70 days of traffic; bounded so memory stays flat

Progress = Callable[[int], None]


def payload_text(stored: str | None) -> str:
    """A stored JSON payload as compact JSON, or ``""`` when there is none."""
    if stored is None:
        return ""
    value = json.loads(stored)
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def payload_cell(stored: str | None) -> str:
    """A stored JSON payload as a finished CSV cell: compact JSON, guarded and quoted."""
    return csv_cell(guard_cell(payload_text(stored)))


def payload_formatter() -> Callable[[str | None], str]:
    """``payload_cell`` with a bounded cache for one export."""
    # A campaign usually sends a handful of distinct payloads to many users; only small ones
    # are kept, and never too many, so memory stays flat whatever the payloads.
    cells: dict[str | None, str] = {}

    def format_payload(stored: str | None) -> str:
        cell = cells.get(stored)
        if cell is None:
            cell = payload_cell(stored)
            if stored is None or len(stored) <= _MAX_CACHED_PAYLOAD_CHARS:
                if len(cells) >= _MAX_CACHED_PAYLOADS:
                    cells.clear()
                cells[stored] = cell
        return cell

    return format_payload


TimeFormatter = Callable[[str | None], str]


def time_formatter(zone: tzinfo) -> TimeFormatter:
    """A function turning stored UTC times (``2026-11-01 03:30:05.250000``, the text both
    databases give for the export's query) into ISO 8601 in ``zone``
    (``2026-11-01T09:00:05.250000+05:30``)."""
    # A million rows hold three million times, so the zone conversion is done once per minute
    # of UTC time and cached, and the seconds and fraction are copied as text. Offsets change
    # only on whole minutes, so the cached prefix and offset are exact; anything unusual
    # takes the slow, general path.
    minutes: dict[str, tuple[str, str]] = {}

    def convert(stored: str) -> str:
        moment = datetime.fromisoformat(stored)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(zone)
        offset = local.utcoffset() or _NO_OFFSET
        if offset % _MINUTE:
            # Local mean time before ~1940 has offsets in seconds, which ISO 8601 (and the
            # importer) cannot express: keep the instant, show the offset in whole minutes.
            local = moment.astimezone(timezone(_MINUTE * (offset // _MINUTE)))
        return local.isoformat()

    def minute(key: str) -> tuple[str, str] | None:
        local = datetime.fromisoformat(key).replace(tzinfo=UTC).astimezone(zone)
        text = local.isoformat(timespec="minutes")
        if local.second or len(text) != 22:  # an offset in seconds (local mean time)
            return None
        if len(minutes) >= _MAX_CACHED_MINUTES:
            minutes.clear()
        minutes[key] = hit = (text[:16], text[16:])
        return hit

    def format_time(stored: str | None) -> str:
        if stored is None:
            return ""
        if len(stored) != 26 or stored[16] != ":" or stored[19] != ".":
            return convert(stored)
        hit = minutes.get(stored[:16]) or minute(stored[:16])
        if hit is None:
            return convert(stored)
        fraction = stored[19:]  # isoformat() leaves out a zero fraction
        return hit[0] + stored[16:19] + ("" if fraction == ".000000" else fraction) + hit[1]

    return format_time


def _time_text(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[str]:
    """A timestamp column as ``YYYY-MM-DD HH:MM:SS.ffffff`` text, as SQLite stores it."""
    if dialect == "postgresql":
        return sa.func.to_char(column, "YYYY-MM-DD HH24:MI:SS.US")
    return sa.cast(column, sa.Text)


def _message_query(flow_id: int, dialect: str) -> sa.Select[Any]:
    m = Message.__table__.c
    # Times and payloads come as text so that both databases hand over the stored value
    # untouched: formatting it here is several times faster than per-type result processing.
    return (
        sa.select(
            m.user_id,
            m.source,
            m.status,
            m.ip_address,
            m.message_id,
            sa.cast(m.custom_payload, sa.Text),
            m.template_id,
            m.sent_by,
            m.error_code,
            m.comments,
            _time_text(m.created_at, dialect),
            _time_text(m.scheduled_at, dialect),
            _time_text(m.updated_at, dialect),
        )
        .where(m.flow_id == flow_id)
        # Arrival order, read straight off the (flow_id, id) index with no sort. Ingestion
        # inserts messages in the order they first arrive, so an export re-imported elsewhere
        # exports byte for byte the same.
        .order_by(m.id)
    )


def csv_cell(value: str) -> str:
    """``value`` as one CSV cell, quoted exactly when the csv module would (RFC 4180)."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def format_line(cells: Iterable[str]) -> str:
    """One CSV line (``\r\n``-terminated) of already guarded cells."""
    return ",".join(csv_cell(cell) for cell in cells) + "\r\n"


def iter_message_rows(
    conn: Connection, flow: Flow, *, batch_size: int = BATCH_SIZE
) -> Iterator[Sequence[Any]]:
    """Batches of ``flow``'s message rows in arrival order, streamed: user id, source,
    status, IP address, message id, payload (JSON text), template id, sent by, error code,
    comments, then created, scheduled and updated times as stored UTC text. The one row
    source of the CSV and XLSX exports."""
    assert flow.id is not None
    result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
        _message_query(flow.id, conn.dialect.name)
    )
    yield from result.partitions()


def iter_lines(
    conn: Connection, flow: Flow, zone: tzinfo, *, batch_size: int = BATCH_SIZE
) -> Iterator[tuple[str, int]]:
    """Batches of CSV text (without the header) for ``flow``'s messages, ordered by Message
    ID, each with its row count."""
    bot_id, workflow_id = guard_cell(flow.bot_id), guard_cell(flow.workflow_id)
    bot_cell, workflow_cell = csv_cell(bot_id), csv_cell(workflow_id)
    when = time_formatter(zone)
    payload_cell = payload_formatter()
    guard = guard_cell
    for partition in iter_message_rows(conn, flow, batch_size=batch_size):
        lines = []
        for (
            user_id, source, status, ip_address, message_id, payload, template_id, sent_by,
            error_code, comments, created, scheduled, updated,
        ) in partition:  # fmt: skip
            comment = comments_cell(error_code, comments)
            # This loop runs once per message: rather than quoting cell by cell (the csv
            # module's cost), join the cells and quote only when a joined part holds a quote,
            # line break or more commas than it has cells. Times never need quoting; the
            # payload cell comes quoted from a cache.
            head = (
                f"{guard(user_id)},{source},{status},{guard(ip_address or '')},{guard(message_id)}"
            )
            tail = f"{guard(template_id or '')},{guard(sent_by or '')},{guard(comment)}"
            if (
                head.count(",") != 4
                or tail.count(",") != 2
                or '"' in head
                or '"' in tail
                or "\n" in head
                or "\n" in tail
                or "\r" in head
                or "\r" in tail
            ):
                head = format_line(
                    (guard(user_id), source, status, guard(ip_address or ""), guard(message_id))
                )[:-2]
                tail = format_line(
                    (guard(template_id or ""), guard(sent_by or ""), guard(comment))
                )[:-2]
            lines.append(
                f"{bot_cell},{head},{workflow_cell},{payload_cell(payload)},{tail},"
                f"{when(created)},{when(scheduled)},{when(updated)}\r\n"
            )
        yield "".join(lines), len(lines)


def write_csv(
    conn: Connection,
    flow: Flow,
    out: TextIO,
    zone: tzinfo,
    *,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write the header and every message row of ``flow`` to ``out``; returns the row count."""
    out.write(format_line(CSV_COLUMNS))
    rows = 0
    for text, count in iter_lines(conn, flow, zone, batch_size=batch_size):
        out.write(text)
        rows += count
        if progress is not None:
            progress(count)
    return rows


@contextmanager
def _small_sqlite_memory(conn: Connection) -> Iterator[None]:
    """On SQLite, read with a small page cache and temporary files while the export runs."""
    # The store's connections keep a 64 MiB page cache and temporary data in memory, which
    # makes imports fast; a long export needs neither, and its memory should stay flat and
    # small. The settings are per connection: they are changed outside any transaction
    # (SQLite refuses temp_store inside one) and put back afterwards.
    if conn.dialect.name != "sqlite" or conn.in_transaction():
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    saved = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in _SQLITE_PRAGMAS}
    for name, value in _SQLITE_PRAGMAS.items():
        raw.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        conn.rollback()  # end the export's read transaction first
        for name, value in saved.items():
            raw.execute(f"PRAGMA {name}={int(value)}")


def export_csv(
    engine: Engine,
    flow: Flow,
    path: Path,
    zone: tzinfo,
    *,
    progress: Progress | None = None,
) -> int:
    """Write ``flow``'s CSV export to ``path`` (all or nothing); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        # newline="": the lines already end in \r\n (RFC 4180), as the csv module writes them.
        with (
            partial.open("w", encoding="utf-8", newline="") as out,
            engine.connect() as conn,
            _small_sqlite_memory(conn),
        ):
            rows = write_csv(conn, flow, out, zone, progress=progress)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def expected_rows(conn: Connection, flow: Flow) -> int:
    """How many rows the export will have (the flow's message counter), for progress bars."""
    table = FlowStat.__table__
    count = conn.execute(
        sa.select(table.c.messages).where(
            table.c.flow_id == flow.id, table.c.source == ALL_CHANNELS
        )
    ).scalar()
    return int(count or 0)


def report_basename(flow: Flow, generated_at: datetime) -> str:
    """``acme-support_wf_42_20261127-090000``: a plain file name on every system, for any id.

    Characters outside ``A-Za-z0-9._-`` become ``-`` and a run of dots one dot, so no id the
    API accepts (``wf..42``, ``../x``, ``.hidden``, ``日本``) makes a path, a hidden file or a
    name a download link refuses; it starts with a letter or digit.
    """
    stamp = generated_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    name = _UNSAFE_FILENAME.sub("-", f"{flow.bot_id}_{flow.workflow_id}")
    name = re.sub(r"\.{2,}", ".", name).strip("._-")[:120].rstrip("._-")
    return f"{name or 'report'}_{stamp}"
