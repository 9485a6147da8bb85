"""The Slack side of the app: the one Web API client, and a Bolt ``AsyncApp`` on it.

Every Web API call goes through one ``AsyncWebClient`` whose base URL is ``SLACK_API_URL``
(tests and staging point it at a stand-in) and which retries rate limits (429 +
``Retry-After``) and connection errors with slack_sdk's retry handlers — or, in listeners,
through Bolt's copy of it, set up the same way (``create_slack_app``). Answers sent to a
``response_url`` use the same retry handlers.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings, SettingsError
from commands import register
from commands.deps import CommandDeps

MAX_RETRIES = 3
logger = logging.getLogger("campaign_report.slack")


def _secret(settings: Settings, name: str) -> str:
    """The value of a secret setting; empty counts as missing (an empty key signs anything)."""
    value = getattr(settings, name)
    if value is None or not value.get_secret_value():
        raise SettingsError(f"missing setting(s): {name} (see .env.example)")
    return str(value.get_secret_value())


def build_retry_handlers() -> list[AsyncRetryHandler]:
    """Retry 429s (waiting ``Retry-After``) and dropped connections a few times."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
    ]


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The one Web API client, pointed at ``SLACK_API_URL``."""
    token = _secret(settings, "SLACK_BOT_TOKEN")
    base_url = settings.SLACK_API_URL
    if not base_url.endswith("/"):
        base_url += "/"  # slack_sdk appends the method name to the base URL
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=build_retry_handlers(),
        logger=logger,
    )


def slack_enabled(settings: Settings) -> bool:
    """True when a bot token is configured (an empty value, as in .env.example, is not)."""
    token = settings.SLACK_BOT_TOKEN
    return token is not None and bool(token.get_secret_value())


def socket_mode(settings: Settings) -> bool:
    """True when ``SLACK_APP_TOKEN`` asks for Socket Mode instead of HTTP."""
    token = settings.SLACK_APP_TOKEN
    return token is not None and bool(token.get_secret_value())


# The settings of a client that Bolt copies into the client it makes for each request (the
# logger aside: Bolt's client logs through Bolt's logger).
_CLIENT_SETTINGS = (
    "base_url",
    "timeout",
    "ssl",
    "proxy",
    "session",
    "trust_env_in_session",
    "retry_handlers",
)


def create_slack_app(settings: Settings, client: AsyncWebClient, deps: CommandDeps) -> AsyncApp:
    """The Bolt app on ``client``'s token and settings, every listener registered.

    Bolt is given the token, not ``client``: handed a client, Bolt still looks up
    ``SLACK_BOT_TOKEN`` in the process environment (its fallback when no token is given),
    finds the one our settings read from there, and warns on every start that it "will be
    unused". Given the token it reads nothing from the environment; the client Bolt makes
    (and copies for every request) is then set up as ``client`` is: ``SLACK_API_URL``, the
    retry handlers, timeouts, proxy and extra headers.
    """
    if socket_mode(settings):
        # Socket Mode requests come over an authenticated WebSocket, not signed HTTP.
        app = AsyncApp(
            token=client.token,
            signing_secret="",
            request_verification_enabled=False,
            process_before_response=True,
        )
    else:
        app = AsyncApp(
            token=client.token,
            signing_secret=_secret(settings, "SLACK_SIGNING_SECRET"),
            # The ack is the listener's whole reply; the slow part runs in lazy listeners.
            # (Without this, Bolt polls every 10 ms for the ack, which costs every request.)
            process_before_response=True,
        )
    for name in _CLIENT_SETTINGS:
        setattr(app.client, name, getattr(client, name))
    app.client.headers.update({k: v for k, v in client.headers.items() if k != "User-Agent"})
    register(app, deps)
    return app


async def run_socket_mode(settings: Settings, slack_app: AsyncApp) -> None:
    """Hold a Socket Mode connection until cancelled."""
    handler = AsyncSocketModeHandler(slack_app, _secret(settings, "SLACK_APP_TOKEN"))
    await handler.connect_async()
    try:
        await asyncio.Event().wait()
    finally:
        await handler.close_async()
