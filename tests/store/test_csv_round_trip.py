"""CSV files: a re-import counts once, export → import holds at every bound, and rows that
cannot be read are named by their line (issue 10, #11, #12 and #17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.csv_export import export_csv
from reports.flows import find_flow
from store.csv_format import CSV_COLUMNS
from store.importer import ImportFailed, import_file
from store.models import Message
from tests.support import NOW, WF, flow, ingest, kpis, msg

É = "é"


def _export(engine: Engine, path: Path, zone: str = "Asia/Kolkata") -> bytes:
    with Session(engine) as session:
        found = find_flow(session, WF)
    export_csv(engine, found, path, ZoneInfo(zone))
    return path.read_bytes()


def _events(engine: Engine) -> int:
    return int(kpis(engine)["overview"]["number_of_events"])


def test_importing_the_same_csv_again_counts_its_rows_once(
    store_engine: Engine, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ingest(
        sqlite_engine,
        flow(),
        msg("m-1", "+1", "whatsapp", "read"),
        msg("m-2", "+2", "sms", "failed", error_code="30007", comments="Carrier filtered"),
    )
    path = tmp_path / "export.csv"
    _export(sqlite_engine, path)
    ingest(store_engine, flow())  # the flow's definition is not part of the CSV
    seen = []
    for _ in range(3):
        result = import_file(store_engine, path, now=NOW).result
        seen.append((result.accepted, result.duplicates, _events(store_engine)))
    assert seen == [(2, 0, 2), (0, 2, 2), (0, 2, 2)]
    # The same rows in another file (exported again, in another time zone) are the same events.
    _export(sqlite_engine, tmp_path / "again.csv", zone="America/New_York")
    result = import_file(store_engine, tmp_path / "again.csv", now=NOW).result
    assert (result.accepted, result.duplicates, _events(store_engine)) == (0, 2, 2)


def test_a_later_status_of_the_same_message_is_a_new_event(
    store_engine: Engine, tmp_path: Path
) -> None:
    ingest(store_engine, flow())
    header = ",".join(CSV_COLUMNS)
    row = "b1,+1,whatsapp,{status},,m-1,wf_42,,,,,2026-11-01T09:00:00Z,,{at}"
    path = tmp_path / "export.csv"
    lines = [header, row.format(status="sent", at="2026-11-01T09:00:05Z")]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    assert import_file(store_engine, path, now=NOW).result.accepted == 1
    lines.append(row.format(status="read", at="2026-11-01T09:03:00Z"))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = import_file(store_engine, path, now=NOW).result
    assert (result.accepted, result.duplicates) == (1, 1)
    assert _events(store_engine) == 2
    assert kpis(store_engine)["channels"][0]["read"] == 1


def _at_the_bounds() -> list[dict[str, Any]]:
    big = {"k": "x" * (1024 * 1024 - len('{"k":""}'))}  # 1 MiB of JSON: 8 times csv's limit
    return [
        flow(channels=["sms", "whatsapp"]),
        msg(
            "m" * 200, "+" + "9" * 319, "whatsapp", "failed", at="9999-12-30T23:59:59.999999Z",
            created_at="0001-01-02T00:00:00Z", scheduled_at="9999-12-30T00:00:00Z",
            template_id=É * 200, ip_address="=" + É * 63, sent_by=É * 320,
            error_code="E" * 64, comments="-" + É * 1999, custom_payload=big,
        ),
        msg("m-2", "u2", "sms", "failed", error_code=-(2**31), comments='say "=1+1",\r\nthen'),
        msg("m-3", "u3", "sms", "sent", custom_payload={"deep": json.loads("[" * 63 + "]" * 63)}),
        msg("m-4", "u4", "sms", "read", custom_payload=-5, at="0001-01-02T00:00:00Z"),
        msg("m-5", "u5", "sms", "queued", custom_payload="Ω\U0001f600 \u2028 line"),
    ]  # fmt: skip


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "Pacific/Kiritimati"])
def test_export_then_import_holds_at_every_bound(
    store_engine: Engine, sqlite_engine: Engine, tmp_path: Path, zone: str
) -> None:
    events = _at_the_bounds()
    ingest(store_engine, *events)
    first = _export(store_engine, tmp_path / "first.csv", zone)
    ingest(sqlite_engine, events[0])
    result = import_file(sqlite_engine, tmp_path / "first.csv", now=NOW).result
    assert result.accepted == len(events) - 1
    assert _export(sqlite_engine, tmp_path / "second.csv", zone) == first
    before, after = kpis(store_engine), kpis(sqlite_engine)
    before.pop("generated_at"), after.pop("generated_at")
    assert after == before
    with sqlite_engine.connect() as conn:
        payloads = dict(conn.execute(sa.select(Message.message_id, Message.custom_payload)).all())
    assert payloads["m" * 200] == events[1]["custom_payload"]
    assert payloads["m-4"] == -5


def test_invalid_utf8_is_reported_on_its_line(sqlite_engine: Engine, tmp_path: Path) -> None:
    header = ",".join(CSV_COLUMNS).encode()
    row = "b1,+{n},sms,sent,,m-{n},wf_42,,,,,2026-11-01T09:00:00Z,,2026-11-01T09:00:05Z"
    rows = [row.format(n=n).encode() for n in range(1, 5)]
    rows[1] = rows[1].replace(b"+2", b"+2\xff\xfe")  # the file's line 3
    path = tmp_path / "export.csv"
    path.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    with pytest.raises(ImportFailed) as failure:
        import_file(sqlite_engine, path, now=NOW)
    [error] = failure.value.errors
    assert str(error).startswith("export.csv:3: UserId: not valid UTF-8")
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 0


def test_invalid_utf8_in_the_header_is_reported_on_line_1(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(",".join(CSV_COLUMNS).encode().replace(b"Status", b"St\xe4tus") + b"\r\n")
    with pytest.raises(ImportFailed) as failure:
        import_file(sqlite_engine, path, now=NOW)
    assert str(failure.value.errors[0]).startswith("export.csv:1: not valid UTF-8")
