"""Which Slack failures are retried and which are final."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from scheduler.delivery.base import PermanentDeliveryError, TransientDeliveryError
from scheduler.delivery.slack import classify_slack_error


def _api_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.example/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (200, "channel_not_found", PermanentDeliveryError),
        (200, "not_in_channel", PermanentDeliveryError),
        (200, "user_not_found", PermanentDeliveryError),
        (429, "ratelimited", TransientDeliveryError),
        (503, "service_unavailable", TransientDeliveryError),
        (500, "internal_error", TransientDeliveryError),
        (200, "fatal_error", TransientDeliveryError),
    ],
)
def test_slack_errors_are_sorted(status: int, error: str, kind: type[Exception]) -> None:
    classified = classify_slack_error(_api_error(status, error), "files_upload_v2")
    assert isinstance(classified, kind)
    assert error in str(classified)


def test_retry_after_is_kept_for_the_backoff() -> None:
    classified = classify_slack_error(_api_error(429, "ratelimited", {"Retry-After": "30"}), "x")
    assert isinstance(classified, TransientDeliveryError) and classified.retry_after == 30


def test_a_dropped_connection_is_transient() -> None:
    classified = classify_slack_error(ConnectionResetError("reset by peer"), "conversations.open")
    assert isinstance(classified, TransientDeliveryError)
    assert "cannot reach Slack (conversations.open)" in str(classified)
