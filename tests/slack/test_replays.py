"""A signed request sent again — a replay, or Slack's retry of a request already answered — is
acknowledged and does nothing (issue 10, #14)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa

from store.models import Subscription
from tests.fakes.slack_requests import signed_headers, slash_command
from tests.slack.conftest import SECRET, TEAM, Harness
from tests.slack.test_summary import texts


def _send(bot: Harness, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return bot.http.post(bot.events_url, content=body, headers=headers)


def _command(bot: Harness, text: str, key: str) -> bytes:
    form = slash_command(text, team_id=TEAM, response_url=bot.fake.response_url(key))
    return urlencode(form).encode()


def _subscriptions(bot: Harness) -> int:
    with bot.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Subscription)).scalar_one()


def test_a_replayed_request_is_acknowledged_and_does_nothing(bot: Harness) -> None:
    body = _command(bot, "help", "r-help")
    headers = signed_headers(SECRET, body)
    acks = [_send(bot, body, headers) for _ in range(3)]
    assert [a.status_code for a in acks] == [200, 200, 200]
    assert "recent flows" in texts(acks[0].json())  # help is answered in the ack itself
    assert [a.content for a in acks[1:]] == [b"", b""]  # the copies: an empty 200, nothing run


def test_three_identical_subscribe_requests_make_one_subscription(bot: Harness) -> None:
    body = _command(bot, 'subscribe "Diwali offers" daily 09:00 to: me', "r-sub")
    headers = signed_headers(SECRET, body)
    assert [_send(bot, body, headers).status_code for _ in range(3)] == [200, 200, 200]
    assert "Subscribed: *#1*" in str(bot.answer("r-sub"))
    listing = bot.ask("subscriptions")  # answered after any copy would have been applied
    assert "#1" in str(listing) and "#2" not in str(listing)
    assert _subscriptions(bot) == 1
    assert len(bot.fake.calls_to("response_url", status=None)) == 2  # subscribe + listing


def test_slacks_retry_of_an_acknowledged_request_is_not_run_again(bot: Harness) -> None:
    body = _command(bot, "help", "r-retry")
    stamp = int(time.time())
    first = _send(bot, body, signed_headers(SECRET, body, stamp))
    assert "recent flows" in texts(first.json())
    # Slack signs each retry anew (a new timestamp) and says which retry it is.
    retry = signed_headers(SECRET, body, stamp + 1) | {
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    again = _send(bot, body, retry)
    assert (again.status_code, again.content) == (200, b"")


def test_a_retry_of_a_request_that_was_refused_is_run(bot: Harness) -> None:
    body = _command(bot, "help", "r-refused")
    stale = _send(bot, body, signed_headers(SECRET, body, int(time.time()) - 6 * 60))
    assert stale.status_code == 401
    retry = signed_headers(SECRET, body) | {"X-Slack-Retry-Num": "1"}
    assert "recent flows" in texts(_send(bot, body, retry).json())


def test_different_requests_with_the_same_text_are_each_answered(bot: Harness) -> None:
    for key in ("r-a", "r-b"):  # each has its own response_url, as each of Slack's requests does
        body = _command(bot, "help", key)
        assert "recent flows" in texts(_send(bot, body, signed_headers(SECRET, body)).json())
