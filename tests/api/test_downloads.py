"""``HEAD /reports/<token>`` answers as ``GET`` does, without the body (issue 10, #17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from scheduler.links import make_token
from tests.live_server import serve_app
from tests.scheduler.conftest import make_settings

SECRET = "test-secret-key"
NAME = "b1_wf_42_20261127-090000_r1.pdf"
CONTENT = b"%PDF-1.4 a small report\n"


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = make_settings(sqlite_engine, tmp_path)
    settings.REPORTS_DIR.mkdir(parents=True)
    (settings.REPORTS_DIR / NAME).write_bytes(CONTENT)
    with serve_app(create_app(settings, sqlite_engine)) as base, httpx.Client(base_url=base) as c:
        yield c


def test_head_of_a_valid_link_has_the_get_headers_and_no_body(site: httpx.Client) -> None:
    path = f"/reports/{make_token(SECRET, NAME)}"
    got, head = site.get(path), site.head(path)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    for name in ("content-type", "content-length", "content-disposition", "etag"):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["content-length"] == str(len(CONTENT))


def test_head_of_a_bad_or_vanished_link_has_the_get_status(site: httpx.Client) -> None:
    assert site.head("/reports/nonsense").status_code == 404
    assert site.head(f"/reports/{make_token(SECRET, 'gone.pdf')}").status_code == 410
