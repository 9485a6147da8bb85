"""Rate limits and dropped connections are retried with slack_sdk's retry handlers."""

from __future__ import annotations

from tests.fakes.slack_api import RESPONSE_URL
from tests.slack.conftest import Harness
from tests.slack.test_summary import texts


def test_rate_limited_response_url_is_retried_and_the_summary_arrives(bot: Harness) -> None:
    bot.fake.rate_limit(RESPONSE_URL, times=1, retry_after=0)
    message = bot.ask("Diwali offers")
    assert "*User engagement overview*" in texts(message)
    statuses = [c.status for c in bot.fake.calls_to(RESPONSE_URL, status=None)]
    assert statuses == [429, 200]


def test_rate_limited_web_api_call_is_retried(bot: Harness) -> None:
    # Bolt checks the token with auth.test on the first request; a 429 there must not lose it.
    bot.fake.rate_limit("auth.test", times=1, retry_after=0)
    message = bot.ask("Diwali offers")
    assert message["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"
    assert [c.status for c in bot.fake.calls_to("auth.test", status=None)] == [429, 200]
