"""What the download and subscription listeners need beyond ``CommandDeps``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.engine import Engine

from bot.settings import Settings

DELIVERY_DEPS_KEY = "campaign_report_delivery_deps"


@dataclass(frozen=True)
class DeliveryDeps:
    """Settings (email domains, time zone), the store, and how to nudge the scheduler."""

    settings: Settings
    engine: Engine
    wake: Callable[[], None]  # run the outbox / subscription sync now (if we lead)

    def __deepcopy__(self, memo: dict[int, Any]) -> DeliveryDeps:
        # Bolt deep-copies the request context for lazy listeners; share, never copy, the
        # engine and the scheduler hook.
        return self


def delivery_deps_of(context: AsyncBoltContext) -> DeliveryDeps:
    """The ``DeliveryDeps`` the app's middleware put in the request context."""
    deps = context.get(DELIVERY_DEPS_KEY)
    if not isinstance(deps, DeliveryDeps):
        raise RuntimeError("commands.install_delivery() was not called on this app")
    return deps


def delivery_middleware(
    deps: DeliveryDeps,
) -> Callable[[AsyncBoltContext, Callable[[], Awaitable[None]]], Awaitable[None]]:
    """A Bolt middleware putting ``deps`` in every request's context."""

    async def provide(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[DELIVERY_DEPS_KEY] = deps
        await next()

    return provide
