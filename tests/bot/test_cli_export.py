"""``campaign-bot export`` and the files ``campaign-bot demo`` writes, run through the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli import app
from tests.support import flow, ingest, msg


@pytest.fixture
def run(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI against the test store, with reports going to ``tmp_path/reports``."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {
        "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "REPORT_TIMEZONE": "Asia/Kolkata",
    }

    def invoke(*args: str, **extra_env: str):
        return CliRunner().invoke(app, list(args), env=env | extra_env)

    return invoke


def written(output: str) -> list[Path]:
    return [Path(line.removeprefix("Wrote ")) for line in output.splitlines() if "Wrote " in line]


def test_export_writes_csv_and_pdf_into_reports_dir(run, sqlite_engine: Engine, tmp_path: Path):
    ingest(
        sqlite_engine,
        flow(name="Скидки к Дивали"),
        msg("m1", "+919800000001", "whatsapp", "read"),
        msg("m2", "u2@mail.example", "email", "failed", comments="Mailbox full"),
    )
    result = run("export", "скидки к дивали")
    assert result.exit_code == 0, result.output
    paths = written(result.output)
    assert [p.suffix for p in paths] == [".csv", ".pdf"]
    assert all(p.parent == tmp_path / "reports" and p.is_file() for p in paths)
    rows = list(csv.DictReader(io.StringIO(paths[0].read_text("utf-8"), newline="")))
    assert [(r["Message ID"], r["Status"], r["Comments"]) for r in rows] == [
        ("m1", "read", ""),
        ("m2", "failed", "Mailbox full"),
    ]
    assert rows[0]["Updated Time"].endswith("+05:30")
    text = "".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Скидки к Дивали" in text and "Channel statistics" in text


def test_export_one_format_into_another_directory_on_letter_paper(
    run, sqlite_engine: Engine, tmp_path: Path
):
    ingest(sqlite_engine, flow(), msg("m1", "u1", "sms", "sent"))
    result = run("export", "wf_42", "--format", "PDF", "--out", "elsewhere",
                 REPORT_PAGE_SIZE="letter")  # fmt: skip
    assert result.exit_code == 0, result.output
    (path,) = written(result.output)
    assert path.parent == Path("elsewhere") and path.suffix == ".pdf"
    assert round(PdfReader(tmp_path / path).pages[0].mediabox.width) == 612


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "wf_42", "--format", "xls"], "--format: unknown format 'xls'"),
        (["export", "diwali offerz"], "No flow matches 'diwali offerz'"),
    ],
)
def test_export_fails_with_a_one_line_reason(run, sqlite_engine: Engine, args, message):
    ingest(sqlite_engine, flow(), msg("m1", "u1", "sms", "sent"))
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (Path("reports")).exists()


def test_a_bad_page_size_setting_is_named(run, sqlite_engine: Engine):
    ingest(sqlite_engine, flow())
    result = run("export", "wf_42", REPORT_PAGE_SIZE="A3")
    assert result.exit_code == 1
    assert "REPORT_PAGE_SIZE" in result.stderr


def test_demo_writes_the_demo_flows_csv_and_pdf(run, tmp_path: Path):
    result = run("demo", "--messages", "300")
    assert result.exit_code == 0, result.output
    paths = written(result.output)
    assert [p.suffix for p in paths] == [".csv", ".pdf"]
    assert all(p.is_file() for p in paths)
    with paths[0].open(encoding="utf-8", newline="") as stream:
        assert sum(1 for _ in csv.reader(stream)) == 300 + 1
    assert "Diwali offers" in PdfReader(paths[1]).pages[0].extract_text()


def test_export_xlsx_alone_and_with_csv_and_pdf(run, sqlite_engine: Engine):
    ingest(sqlite_engine, flow(), msg("m1", "+919800000001", "whatsapp", "read"))
    result = run("export", "wf_42", "--format", "xlsx")
    assert result.exit_code == 0, result.output
    (path,) = written(result.output)
    assert path.suffix == ".xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Summary", "Channels", "Messages"]
    rows = list(book["Messages"].iter_rows(values_only=True))
    assert rows[1][1] == "+919800000001"  # text, without the CSV's ' guard
    result = run("export", "wf_42", "--format", "xlsx,CSV,pdf")
    assert [p.suffix for p in written(result.output)] == [".csv", ".pdf", ".xlsx"]
