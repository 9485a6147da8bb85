"""GET /api/v1/flows/{id}/timeline: the timeline JSON, with the refusals of …/kpis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from tests.live_server import serve_app
from tests.support import act, flow, ingest, msg, timeline

TIMELINE = "/api/v1/flows/wf_42/timeline"


@pytest.fixture
def kolkata(store_engine: Engine, api_key: str) -> Iterator[httpx.Client]:
    """b1's client against the app with ``REPORT_TIMEZONE=Asia/Kolkata``."""
    url = store_engine.url.render_as_string(hide_password=False)
    settings = Settings(_env_file=None, DATABASE_URL=url, REPORT_TIMEZONE="Asia/Kolkata")  # type: ignore[call-arg]
    with (
        serve_app(create_app(settings, store_engine)) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        ) as http,
    ):
        yield http


def _view(response: httpx.Response) -> tuple[int, object]:
    body = response.json()
    if response.status_code == 200:
        body.pop("generated_at")
    return response.status_code, body


def test_timeline_is_the_contract_json_in_the_report_time_zone(
    kolkata: httpx.Client, store_engine: Engine
) -> None:
    ingest(
        store_engine,
        flow(),
        msg("m1", "u1", "whatsapp", "read", at="2026-11-01T03:35:00Z"),  # 09:05 IST
        msg("m2", "u2", "sms", "sent", at="2026-11-01T18:31:00Z"),  # 00:01 IST on 2 Nov
        act("click", "u2", "sms", at="2026-11-01T18:40:00Z"),
    )
    status, body = _view(kolkata.get(TIMELINE))
    expected = timeline(store_engine, zone="Asia/Kolkata")  # what `campaign-bot timeline` prints
    expected.pop("generated_at")
    assert (status, body) == (200, expected)
    assert [p["start"] for p in body["series"]][:1] == ["2026-11-01T09:00:00+05:30"]  # type: ignore[index]
    status, body = _view(kolkata.get(f"{TIMELINE}?bucket=day&channel=SMS"))
    assert status == 200
    assert body["series"] == [  # only sms events: the 2nd of November, local time
        {"start": "2026-11-02T00:00:00+05:30", "sent": 1, "delivered": None, "read": None,
         "failed": 0, "clicks": 1, "goals": 0},
    ]  # fmt: skip


def test_timeline_refusals_match_the_kpis(kolkata: httpx.Client, store_engine: Engine) -> None:
    assert _view(kolkata.get(TIMELINE)) == (404, {"detail": "bot 'b1' has no flow 'wf_42'"})
    ingest(store_engine, flow(status="draft"), msg("m1", "u1", "sms", "sent"))
    status, body = _view(kolkata.get(TIMELINE))
    assert status == 409 and "reports exist only for" in body["detail"]  # type: ignore[index]
    ingest(store_engine, flow(status="live"))
    status, body = _view(kolkata.get(f"{TIMELINE}?channel=fax"))
    assert status == 422
    assert body["errors"][0]["field"] == "channel"  # type: ignore[index]
    assert "its channels: sms" in body["errors"][0]["message"]  # type: ignore[index]
    status, body = _view(kolkata.get(f"{TIMELINE}?bucket=week"))
    assert (status, body["errors"]) == (  # type: ignore[index]
        422,
        [{"index": None, "line": None, "field": "bucket", "message": "expected hour or day"}],
    )
