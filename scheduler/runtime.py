"""What jobs need at run time: settings, the store, the delivery channels, retry policy.

APScheduler persists jobs as a function reference plus ids, never live objects, so the
scheduler process installs one ``Runtime`` at start and job functions look it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from scheduler.delivery.email import EmailChannel, SmtpConfig
from scheduler.delivery.slack import SlackChannel
from store.models import utcnow


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between attempts, until a deadline after the delivery was queued."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    deadline: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt (at least Retry-After)."""
        backoff = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        return backoff


@dataclass
class Runtime:
    """The scheduler process's dependencies, installed once at start."""

    settings: Settings
    engine: Engine
    slack_client: AsyncWebClient | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], datetime] = utcnow
    batch_size: int = 200
    scheduler: Any = None  # the running AsyncIOScheduler, set by SchedulerService

    def smtp_config(self) -> SmtpConfig:
        """The ``SMTP_*`` settings as an ``SmtpConfig``."""
        s = self.settings
        return SmtpConfig(
            host=s.SMTP_HOST,
            port=s.SMTP_PORT,
            security=s.SMTP_SECURITY,
            username=s.SMTP_USERNAME or None,
            password=s.SMTP_PASSWORD.get_secret_value() if s.SMTP_PASSWORD else None,
            mail_from=s.MAIL_FROM,
        )

    def email_channel(self) -> EmailChannel:
        """A fresh email channel (one SMTP connection for one batch)."""
        return EmailChannel(self.smtp_config())

    def slack_channel(self) -> SlackChannel | None:
        """The Slack channel, when a bot token is configured."""
        return SlackChannel(self.slack_client) if self.slack_client is not None else None

    @property
    def secret(self) -> str | None:
        """``SECRET_KEY`` for download links, if set."""
        key = self.settings.SECRET_KEY
        return key.get_secret_value() if key is not None and key.get_secret_value() else None


def build_runtime(settings: Settings, engine: Engine) -> Runtime:
    """The production runtime: Slack through the app's client when a token is set."""
    from bot.slack import build_web_client, slack_enabled

    client = build_web_client(settings) if slack_enabled(settings) else None
    return Runtime(settings=settings, engine=engine, slack_client=client)


_current: Runtime | None = None


def install_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the one job functions use (None uninstalls it)."""
    global _current
    _current = runtime


def current_runtime() -> Runtime:
    """The installed runtime; jobs fail loudly when the scheduler was not set up."""
    if _current is None:
        raise RuntimeError("no scheduler runtime installed (scheduler.runtime.install_runtime)")
    return _current
