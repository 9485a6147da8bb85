"""Bolt is set up from our settings alone: no warning at start, our token and Web API URL
(issue 10, #17: "`token` will be unused" printed on every start)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import Engine

from tests.slack.conftest import running_bot


def test_a_token_in_the_environment_gives_no_warning_and_settings_win(
    campaigns_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # How `serve` is usually configured: SLACK_BOT_TOKEN exported in the environment. Here the
    # settings name another token (the stand-in's), so a request shows which one Bolt uses.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "another-secret")
    with caplog.at_level(logging.INFO), running_bot(campaigns_engine) as bot:
        summary = bot.ask("Diwali offers")
        calls = bot.fake.calls_to("auth.test")  # Bolt's first call, from its own client
        token = bot.fake.token
    bolt = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert not [m for m in bolt if "token" in m.lower()], bolt
    assert summary["blocks"][0]["text"]["text"].startswith("📊 Diwali offers")
    assert calls and {c.headers.get("authorization") for c in calls} == {f"Bearer {token}"}
