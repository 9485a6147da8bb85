"""``campaign-bot api-key create``: a key shown once, stored only as a digest, scoped to a bot.

(That migration 0002 matches the ``ApiKey`` model is checked by tests/store/test_migrations.py.)
"""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli import app
from store.api_keys import digest_of, verify_api_key
from tests.api.conftest import sqlite_only


@sqlite_only
def test_cli_key_is_shown_once_stored_hashed_and_works(
    store_engine: Engine, store_url: str, base_url: str
) -> None:
    env = {"DATABASE_URL": store_url}
    result = CliRunner().invoke(app, ["api-key", "create", "b1"], env=env)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("crb_")
    assert len(key) == 47
    assert "shown only this once" in result.stderr
    assert key[:12] in result.stderr  # the prefix names the key
    assert key not in result.stderr

    with store_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT bot_id, prefix, digest FROM api_key")).all()
    assert rows == [("b1", key[:12], digest_of(key))]

    second = CliRunner().invoke(app, ["api-key", "create", "b1"], env=env).stdout.strip()
    assert second != key
    for token in (key, second):
        response = httpx.post(
            f"{base_url}/api/v1/events",
            json=[
                {
                    "type": "flow_entered",
                    "bot_id": "b1",
                    "workflow_id": "wf_1",
                    "user_id": "u1",
                    "at": "2026-11-01T09:00:00Z",
                }
            ],
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["accepted"] == 1


@sqlite_only
def test_a_key_differing_after_its_prefix_is_refused(store_engine: Engine, api_key: str) -> None:
    forged = api_key[:12] + ("A" if api_key[12] != "A" else "B") + api_key[13:]
    with store_engine.connect() as conn:
        assert verify_api_key(conn, api_key) == "b1"
        assert verify_api_key(conn, forged) is None
        assert verify_api_key(conn, api_key + "x") is None


@sqlite_only
def test_cli_refuses_a_bad_bot_id(store_url: str) -> None:
    result = CliRunner().invoke(
        app, ["api-key", "create", "bad\x01bot"], env={"DATABASE_URL": store_url}
    )
    assert result.exit_code == 1
    assert "BOT_ID" in result.stderr
