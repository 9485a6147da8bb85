"""The composition root's wiring: settings turned into what each package is given.

``commands`` gets a ``CommandDeps``; ``scheduler`` gets a ``Runtime`` holding its delivery
channels (Slack through the app's one Web API client with ``commands``' formatter, email
through SMTP). No other package reads settings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack import build_retry_handlers
from commands.blocks.delivery import format_delivery
from commands.deps import CommandDeps
from scheduler.delivery.base import Channel
from scheduler.delivery.email import EmailChannel, SmtpConfig
from scheduler.delivery.slack import SlackChannel
from scheduler.runtime import ReportConfig, RetryPolicy, Runtime
from store.models import utcnow

MEGABYTE = 1024 * 1024


def _no_wake() -> None:
    """Nobody to wake in this process: the scheduler's leader polls."""


def build_command_deps(
    settings: Settings, engine: Engine, wake: Callable[[], None] = _no_wake
) -> CommandDeps:
    """What the Slack listeners need."""
    return CommandDeps(
        engine=engine,
        zone=settings.report_zone,
        internal_email_domains=tuple(settings.INTERNAL_EMAIL_DOMAINS),
        allowed_email_domains=tuple(settings.ALLOWED_EMAIL_DOMAINS),
        wake=wake,
        retry_handlers=build_retry_handlers(),
    )


def report_config(settings: Settings) -> ReportConfig:
    """How reports are rendered, linked and kept."""
    secret = settings.SECRET_KEY.get_secret_value() if settings.SECRET_KEY else ""
    return ReportConfig(
        reports_dir=settings.REPORTS_DIR,
        zone=settings.report_zone,
        page_size=settings.REPORT_PAGE_SIZE,
        public_base_url=settings.PUBLIC_BASE_URL,
        link_ttl=settings.REPORT_LINK_TTL,
        retention_days=settings.REPORT_RETENTION_DAYS,
        secret=secret or None,
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    """The ``SMTP_*``, ``MAIL_FROM``, ``MAX_ATTACHMENT_MB`` and email domain settings."""
    return SmtpConfig(
        host=settings.SMTP_HOST,
        port=settings.SMTP_PORT,
        security=settings.SMTP_SECURITY,
        username=settings.SMTP_USERNAME or None,
        password=settings.SMTP_PASSWORD.get_secret_value() if settings.SMTP_PASSWORD else None,
        mail_from=settings.MAIL_FROM,
        max_attachment_bytes=int(settings.MAX_ATTACHMENT_MB * MEGABYTE),
        # The email channel checks every address again, whatever path queued it.
        internal_domains=tuple(settings.INTERNAL_EMAIL_DOMAINS),
        allowed_domains=tuple(settings.ALLOWED_EMAIL_DOMAINS),
    )


def build_runtime(
    settings: Settings,
    engine: Engine,
    slack_client: AsyncWebClient | None,
    *,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    smtp: SmtpConfig | None = None,
) -> Runtime:
    """The scheduler's runtime: email always, Slack when there is a client."""
    channels: dict[str, Channel] = {"email": EmailChannel(smtp or smtp_config(settings))}
    if slack_client is not None:
        slack = SlackChannel(slack_client, format_delivery)
        channels |= {"slack_user": slack, "slack_channel": slack}
    return Runtime(
        engine=engine,
        config=report_config(settings),
        channels=channels,
        retry=retry or RetryPolicy(),
        clock=clock,
        alert_interval=settings.ALERT_INTERVAL,
    )
