"""The Slack stand-in answers the Web API calls other parts rely on, as Slack would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.settings import Settings
from bot.slack import build_web_client
from tests.fakes.slack_api import UPLOAD, FakeSlack, run_fake_slack


def _client(fake: FakeSlack, token: str | None = None) -> Any:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=token or fake.token,
        SLACK_API_URL=fake.api_url.rstrip("/"),  # the client adds the missing slash
    )
    return build_web_client(settings)


def test_dm_with_file_upload_goes_through_every_step() -> None:
    async def send(fake: FakeSlack) -> dict[str, Any]:
        client = _client(fake)
        channel = (await client.conversations_open(users="U0ALICE"))["channel"]["id"]
        await client.chat_postMessage(channel=channel, text="Your report")
        uploaded = await client.files_upload_v2(
            channel=channel, content=b"BotId,UserId\nb1,+91\n", filename="report.csv"
        )
        return dict(uploaded.data)

    with run_fake_slack(users={"U0ALICE": {"id": "U0ALICE", "is_restricted": False}}) as fake:
        result = asyncio.run(send(fake))
        methods = [c.method for c in fake.calls]
        assert methods == [
            "conversations.open",
            "chat.postMessage",
            "files.getUploadURLExternal",
            UPLOAD,
            "files.completeUploadExternal",
        ]
        assert list(fake.uploads.values()) == [b"BotId,UserId\nb1,+91\n"]
        assert result["files"][0]["name"] == "report.csv"
        assert fake.calls_to("files.completeUploadExternal")[0].data["channel_id"] == "DU0ALICE"


def test_bad_token_and_invalid_blocks_are_refused_like_slack() -> None:
    async def call(fake: FakeSlack) -> list[str]:
        errors = []
        try:
            await _client(fake, token="xoxb-wrong").auth_test()
        except SlackApiError as exc:
            errors.append(exc.response["error"])
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
        try:
            await _client(fake).chat_postMessage(channel="C1", text="t", blocks=blocks)
        except SlackApiError as exc:
            errors.append(exc.response["error"])
        info = await _client(fake).users_info(user="U0GUEST")
        errors.append(str(info["user"]["is_restricted"]))
        return errors

    with run_fake_slack(users={"U0GUEST": {"id": "U0GUEST", "is_restricted": True}}) as fake:
        assert asyncio.run(call(fake)) == ["invalid_auth", "invalid_blocks", "True"]


@pytest.mark.parametrize("method", ["chat.postEphemeral", "chat.update"])
def test_message_methods_need_their_ids(method: str) -> None:
    async def call(fake: FakeSlack) -> str:
        try:
            await _client(fake).api_call(method, json={"channel": "C1", "text": "x"})
        except SlackApiError as exc:
            return str(exc.response["error"])
        return "ok"

    with run_fake_slack() as fake:
        expected = "user_not_found" if method == "chat.postEphemeral" else "message_not_found"
        assert asyncio.run(call(fake)) == expected
