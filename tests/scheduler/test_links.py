"""Signed download links over HTTP: valid, tampered, expired, unknown; retention."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.engine import Engine

from bot.app import create_app
from reports.files import report_basename
from scheduler.links import SALT, LinkInvalid, is_safe_filename, make_token, read_token
from scheduler.retention import delete_expired_reports
from store.models import Flow
from tests.live_server import serve_app
from tests.scheduler.conftest import make_settings

SECRET = "test-secret-key"
NAME = "b1_wf_42_20261127-090000_r1.csv"


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    """The app serving downloads from a reports directory holding one CSV."""
    settings = make_settings(sqlite_engine, tmp_path, REPORT_LINK_TTL=60)
    settings.REPORTS_DIR.mkdir(parents=True)
    (settings.REPORTS_DIR / NAME).write_text("BotId,UserId\r\nb1,+91\r\n")
    with serve_app(create_app(settings, sqlite_engine)) as base, httpx.Client(base_url=base) as c:
        yield c, settings.REPORTS_DIR


def test_valid_link_downloads_the_file_with_a_safe_name(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    response = client.get(f"/reports/{make_token(SECRET, NAME)}")
    assert response.status_code == 200
    assert response.text == "BotId,UserId\r\nb1,+91\r\n"
    assert response.headers["content-disposition"] == f'attachment; filename="{NAME}"'
    assert response.headers["content-type"].startswith("text/csv")


def test_tampered_link_is_refused_and_reveals_nothing(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    token = make_token(SECRET, NAME)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = URLSafeTimedSerializer("not-our-secret", salt=SALT).dumps({"f": NAME})
    for bad in (tampered, forged, "nonsense", make_token(SECRET, "other.csv")[:-1]):
        response = client.get(f"/reports/{bad}")
        assert response.status_code == 404
        assert NAME not in response.text and "BotId" not in response.text


def test_expired_link_is_gone(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 61  # past REPORT_LINK_TTL=60

    expired = URLSafeTimedSerializer(SECRET, salt=SALT, signer=SignedLongAgo).dumps({"f": NAME})
    response = client.get(f"/reports/{expired}")
    assert response.status_code == 410 and "BotId" not in response.text


def test_link_to_a_deleted_file_is_gone(site: tuple[httpx.Client, Path]) -> None:
    client, reports = site
    token = make_token(SECRET, NAME)
    (reports / NAME).unlink()
    assert client.get(f"/reports/{token}").status_code == 410


@pytest.mark.parametrize("name", ["../etc/passwd", ".env", "a/b.csv", "x\r\nSet-Cookie: 1.csv"])
def test_tokens_never_name_paths(name: str) -> None:
    with pytest.raises(ValueError, match="filename"):
        make_token(SECRET, name)
    forged = URLSafeTimedSerializer(SECRET, salt=SALT).dumps({"f": name})
    with pytest.raises(LinkInvalid):
        read_token(SECRET, forged, 60)


def test_retention_deletes_only_old_report_files(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    old, fresh, other = tmp_path / "old.pdf", tmp_path / "new.csv", tmp_path / "notes.txt"
    for path in (old, fresh, other):
        path.write_text("x")
    stamp = (now - timedelta(days=31)).timestamp()
    os.utime(old, (stamp, stamp))
    os.utime(other, (stamp, stamp))
    assert delete_expired_reports(tmp_path, 30, now) == 1
    assert not old.exists() and fresh.exists() and other.exists()


@pytest.mark.parametrize(
    ("bot_id", "workflow_id"),
    [
        ("b1", "wf..42"),
        ("b1", "../../etc/passwd"),
        ("b1", ".hidden"),
        ("..", ".."),
        ("b1", "日本語のフロー"),
        ("-", "_"),
        ("b1", "wf." + "." * 125),
        ("b" * 128, "w" * 128),
        ("b1", 'a b/c\\d:e*f?g"h<i>j|k'),
    ],
)
def test_every_id_the_api_accepts_makes_a_linkable_report_name(bot_id: str, workflow_id: str):
    made = Flow(bot_id=bot_id, workflow_id=workflow_id, name="x", status="completed")
    base = report_basename(made, datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    for name in (f"{base}_r12.csv", f"{base}_r12.pdf"):
        assert is_safe_filename(name), name
        assert read_token("s", make_token("s", name), 60) == name
