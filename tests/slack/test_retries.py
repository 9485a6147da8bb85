"""Rate limits and dropped connections are retried with slack_sdk's retry handlers."""

from __future__ import annotations

from tests.fakes.flaky_proxy import run_flaky_proxy
from tests.fakes.slack_api import RESPONSE_URL
from tests.fakes.slack_requests import post_signed, slash_command
from tests.slack.conftest import SECRET, TEAM, Harness
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


def test_dropped_connection_to_response_url_is_retried(bot: Harness) -> None:
    stand_in_port = int(bot.fake.base_url.rsplit(":", 1)[1])
    with run_flaky_proxy(stand_in_port, drop=1) as proxy:
        key = "via-proxy"
        form = slash_command(
            "Diwali offers",
            team_id=TEAM,
            response_url=f"http://127.0.0.1:{proxy.port}/response/{key}",
        )
        ack = post_signed(bot.http, bot.events_url, SECRET, form)
        message = bot.answer(key)
    assert ack.status_code == 200
    assert message["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"
    assert proxy.connections == 2  # the first was dropped, the retry went through
