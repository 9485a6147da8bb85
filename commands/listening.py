"""Shared plumbing for listeners: the dependencies in Bolt's context and answering safely."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from commands.blocks import build_notice_blocks, to_message
from commands.requests import BadValue
from commands.service import CommandDeps

DEPS_KEY = "campaign_report_deps"
FAILURE = "Sorry, that report could not be produced. Please try again in a minute."
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


async def ack_at_once(ack: AsyncAck) -> None:
    """Acknowledge an interaction; its answer follows from a lazy listener."""
    await ack()


def deps_of(context: AsyncBoltContext) -> CommandDeps:
    """The ``CommandDeps`` the app's middleware put in the request context."""
    deps = context.get(DEPS_KEY)
    if not isinstance(deps, CommandDeps):
        raise RuntimeError("commands.register() was not called on this app")
    return deps


def checked_user_id(value: Any) -> str:
    """A Slack user id safe to put in a mention, or ``BadValue`` naming the field."""
    if not isinstance(value, str) or not _USER_ID.match(value):
        raise BadValue(f"user.id: not a Slack user id: {str(value)[:40]!r}")
    return value


async def answer_later(
    deps: CommandDeps,
    response_url: str | None,
    logger: logging.Logger,
    build: Callable[[], dict[str, Any]],
    **fields: Any,
) -> None:
    """Build a message off the event loop and send it to ``response_url``.

    Runs after ``ack()``. A failure is logged and, when possible, the user is told in one
    sentence instead of being left waiting.
    """
    if not response_url:
        logger.error("no response_url in the request; nothing can be answered")
        return
    try:
        message = await deps.run(build)
    except BadValue as exc:
        # Bad input in the request (a tampered value, an odd user id): say which field.
        logger.warning("rejected a request: %s", exc)
        text = f"That request could not be read ({exc})."
        message = to_message(build_notice_blocks(text), text, response_type="ephemeral")
    except Exception:
        logger.exception("building a campaign report answer failed")
        message = to_message(build_notice_blocks(FAILURE), FAILURE, response_type="ephemeral")
    try:
        await deps.respond(response_url, message | fields)
    except Exception:
        logger.exception("sending the answer to Slack's response_url failed")
