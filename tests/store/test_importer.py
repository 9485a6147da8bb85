"""Importing NDJSON and CSV files: streaming, duplicates, and all-or-nothing errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.csv_format import CSV_COLUMNS
from store.importer import ImportFailed, import_file
from store.models import Flow, Message, UserEvent
from tests.support import NOW, act, flow, kpis, msg


def _ndjson(path: Path, *events: dict[str, Any] | str) -> Path:
    lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv(path: Path, header: list[str], *rows: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (Flow.__table__, Message.__table__, UserEvent.__table__)
        )


CSV_ROW = {
    "BotId": "b1", "UserId": "'+919800000001", "Source": "WhatsApp", "Status": "Delivered",
    "IP Address": "203.0.113.9", "Message ID": "m-1", "Workflow ID": "wf_42",
    "Custom payload": '{"k":"v"}', "Template ID": "t-7", "Notification Sent By": "ops@acme.example",
    "Comments": "", "Created Time": "2026-11-01T14:30:00+05:30", "Scheduled Time": "",
    "Updated Time": "2026-11-01T14:30:05+05:30",
}  # fmt: skip


def test_ndjson_import_counts_events_and_skips_duplicates(
    store_engine: Engine, tmp_path: Path
) -> None:
    path = _ndjson(
        tmp_path / "events.ndjson",
        flow(channels=["whatsapp"]),
        "",
        msg("m1", "u1", "whatsapp", "sent", event_id="e1"),
        msg("m1", "u1", "whatsapp", "delivered", event_id="e2"),
        act("click", "u1", "whatsapp", url="https://acme.example/o", event_id="e3"),
    )
    first = import_file(store_engine, path, now=NOW).result
    again = import_file(store_engine, path, now=NOW).result
    assert (first.accepted, first.duplicates, first.flows_created) == (4, 0, 1)
    assert (again.accepted, again.duplicates) == (1, 3)  # the flow event has no event_id
    data = kpis(store_engine)
    assert data["overview"]["number_of_events"] == 3
    assert data["analysis"]["impressions"] == 1


def test_csv_import_reads_export_columns_and_unescapes_cells(
    store_engine: Engine, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "export.csv", list(CSV_COLUMNS), list(CSV_ROW.values()))
    assert import_file(store_engine, path, now=NOW).result.accepted == 1
    with store_engine.connect() as conn:
        row = conn.execute(sa.select(Message.__table__)).mappings().one()
    assert row["user_id"] == "+919800000001"
    assert row["source"] == "whatsapp"
    assert row["status"] == "delivered"
    assert row["custom_payload"] == {"k": "v"}
    assert row["status_at"].isoformat() == "2026-11-01T09:00:05+00:00"
    assert kpis(store_engine)["analysis"]["impressions"] == 1


BAD_NDJSON = [
    ("bad_status", msg("m2", "u2", "sms", "exploded"), "events.ndjson:3: status: unknown status"),
    ("bad_time", msg("m2", "u2", "sms", "sent", at="yesterday"), "events.ndjson:3: at: expected"),
    ("missing_field", {k: v for k, v in msg("m2", "u2", "sms", "sent").items() if k != "user_id"},
     "events.ndjson:3: user_id: required field is missing"),
    ("wrong_type", flow(audience="lots"), "events.ndjson:3: audience:"),
    ("unknown_field", msg("m2", "u2", "sms", "sent", colour="red"), "events.ndjson:3: colour: unknown"),
    ("unknown_type", {"type": "explode", "bot_id": "b1"}, "events.ndjson:3: type: unknown event type"),
    ("not_json", "{nope", "events.ndjson:3: not valid JSON"),
    ("nan_in_payload", json.dumps(msg("m2", "u2", "sms", "sent", custom_payload={"x": float("nan")})),
     "events.ndjson:3: custom_payload: NaN and Infinity are not JSON numbers (at x)"),
    ("nul_in_comment", msg("m2", "u2", "sms", "failed", comments="a\x00b"),
     "events.ndjson:3: comments: NUL characters are not allowed"),
    ("null_flow_name", flow(name=None), "events.ndjson:3: name: must not be null"),
    ("time_out_of_range", msg("m2", "u2", "sms", "sent", at="0001-01-01T00:00:00+05:00"),
     "events.ndjson:3: at: time out of range"),
    ("source_changes", msg("m1", "u1", "email", "read"),
     "events.ndjson:3: source: message 'm1' already has source 'sms'"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "message"), [pytest.param(*c[1:], id=c[0]) for c in BAD_NDJSON])
def test_bad_ndjson_line_names_line_and_field_and_writes_nothing(
    store_engine: Engine, tmp_path: Path, bad: dict[str, Any] | str, message: str
) -> None:
    path = _ndjson(tmp_path / "events.ndjson", flow(), msg("m1", "u1", "sms", "sent"), bad)
    with pytest.raises(ImportFailed) as failure:
        import_file(store_engine, path, now=NOW)
    assert str(failure.value.errors[0]).startswith(message)
    assert "nothing was imported" in str(failure.value)
    assert _counts(store_engine) == (0, 0, 0)


def test_all_bad_lines_are_reported_not_just_the_first(
    store_engine: Engine, tmp_path: Path
) -> None:
    path = _ndjson(
        tmp_path / "events.ndjson",
        msg("m1", "u1", "sms", "nope"),
        msg("m2", "u2", "sms", "sent"),
        msg("m3", "u3", "sms", "sent", at="soon"),
    )
    with pytest.raises(ImportFailed) as failure:
        import_file(store_engine, path, now=NOW)
    assert [e.where for e in failure.value.errors] == ["events.ndjson:1", "events.ndjson:3"]


def test_bad_line_after_a_full_batch_rolls_back_the_whole_file(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("store.importer.BATCH_SIZE", 2)
    path = _ndjson(
        tmp_path / "events.ndjson",
        flow(),
        *(msg(f"m{i}", f"u{i}", "sms", "sent") for i in range(5)),
        msg("m9", "u9", "sms", "sent", at="later"),
    )
    with pytest.raises(ImportFailed):
        import_file(store_engine, path, now=NOW)
    assert _counts(store_engine) == (0, 0, 0)


BAD_CSV = [
    ("bad_status", {"Status": "Exploded"}, "export.csv:3: Status: unknown status 'Exploded'"),
    ("bad_time", {"Updated Time": "01/11/2026"}, "export.csv:3: Updated Time: expected an ISO"),
    ("missing_message_id", {"Message ID": ""}, "export.csv:3: Message ID:"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), [pytest.param(*c[1:], id=c[0]) for c in BAD_CSV])
def test_bad_csv_row_names_line_and_column_and_writes_nothing(
    store_engine: Engine, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    good = list(CSV_ROW.values())
    bad = list((CSV_ROW | {"Message ID": "m-2"} | change).values())
    path = _csv(tmp_path / "export.csv", list(CSV_COLUMNS), good, bad)
    with pytest.raises(ImportFailed) as failure:
        import_file(store_engine, path, now=NOW)
    assert str(failure.value.errors[0]).startswith(message)
    assert _counts(store_engine) == (0, 0, 0)


def test_csv_missing_column_is_named(sqlite_engine: Engine, tmp_path: Path) -> None:
    header = [c for c in CSV_COLUMNS if c != "Status"]
    row = [v for k, v in CSV_ROW.items() if k != "Status"]
    path = _csv(tmp_path / "export.csv", header, row)
    with pytest.raises(ImportFailed) as failure:
        import_file(sqlite_engine, path, now=NOW)
    assert str(failure.value.errors[0]) == "export.csv:1: missing column(s): Status"
    assert _counts(sqlite_engine) == (0, 0, 0)


def test_unsupported_suffix_is_refused(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"unsupported file type '\.xlsx'"):
        import_file(sqlite_engine, path, now=NOW)


def test_lines_are_checked_one_by_one_even_when_validated_together(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # Validated as one JSON array for speed; a line that holds two objects, or two halves of
    # one object on two lines, must still be refused with their own line numbers.
    one, two = json.dumps(act("click", "u1")), json.dumps(act("reply", "u2"))
    path = _ndjson(tmp_path / "events.ndjson", flow(), f"{one},{two}", one[:40], one[40:])
    with pytest.raises(ImportFailed) as failure:
        import_file(sqlite_engine, path, now=NOW)
    assert [e.where for e in failure.value.errors] == [
        "events.ndjson:2", "events.ndjson:3", "events.ndjson:4"
    ]  # fmt: skip
    assert _counts(sqlite_engine) == (0, 0, 0)
