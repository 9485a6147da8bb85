"""Ids in the URL are checked like ids in events, before anything is written (issue 10, #6)."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.models import Flow

# (path segment as sent, why it is refused). Each one differs from an id the store could keep
# as written: the flow would be stored under another id than the URL names, or not at all.
BAD_PATH_IDS = [
    ("wf_42%20", "leading or trailing whitespace"),
    ("%20wf_42", "leading or trailing whitespace"),
    ("wf_42%09", "leading or trailing whitespace"),
    ("wf%0042", "control characters are not allowed"),
    ("wf%1B42", "control characters are not allowed"),
    ("wf%7F42", "control characters are not allowed"),
    ("%20", "leading or trailing whitespace"),
    ("w" * 129, "at most 128 characters"),
]


def _flows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Flow.__table__.c.bot_id, Flow.__table__.c.workflow_id))
        return sorted(tuple(row) for row in rows)  # type: ignore[misc]


@pytest.mark.parametrize(("segment", "reason"), BAD_PATH_IDS)
def test_put_with_a_bad_id_in_the_url_is_422_naming_it_and_writes_nothing(
    client: httpx.Client, store_engine: Engine, segment: str, reason: str
) -> None:
    response = client.put(f"/api/v1/flows/{segment}", json={"name": "Diwali offers"})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "workflow_id"
    assert reason in error["message"]
    assert _flows(store_engine) == []


@pytest.mark.parametrize(("segment", "reason"), BAD_PATH_IDS)
def test_kpis_with_a_bad_id_in_the_url_is_422_naming_it(
    client: httpx.Client, segment: str, reason: str
) -> None:
    response = client.get(f"/api/v1/flows/{segment}/kpis")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["workflow_id"]


def test_the_longest_id_and_unusual_characters_work_end_to_end(
    client: httpx.Client, store_engine: Engine
) -> None:
    for workflow_id in ("w" * 128, "wf..42", "Ωμέγα wf 42", "wf%2542"):
        created = client.put(f"/api/v1/flows/{workflow_id}", json={"status": "completed"})
        assert created.status_code == 201, created.text
        stored = created.json()["workflow_id"]
        assert stored == workflow_id.replace("%25", "%")
        assert client.get(f"/api/v1/flows/{workflow_id}/kpis").status_code == 200
    assert len(_flows(store_engine)) == 4
