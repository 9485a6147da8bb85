"""What jobs need at run time: the store, the report settings, the delivery channels, retries.

Everything is passed in by the composition root (``bot.wiring.build_runtime``): this package
never reads settings or builds a Slack client itself. APScheduler persists jobs as a function
reference plus ids, never live objects, so the scheduler process installs one ``Runtime`` at
start and job functions look it up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from scheduler.delivery.base import Channel
from scheduler.drain import OutboxDrain
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


@dataclass(frozen=True)
class ReportConfig:
    """How reports are rendered, linked and kept (the ``REPORT_*`` settings and friends)."""

    reports_dir: Path
    zone: ZoneInfo
    page_size: str = "A4"
    public_base_url: str = "http://localhost:8000"
    link_ttl: int = 7 * 24 * 3600  # seconds
    retention_days: int = 30
    secret: str | None = None  # SECRET_KEY: download links are made only when it is set


@dataclass
class Runtime:
    """The scheduler process's dependencies, installed once at start."""

    engine: Engine
    config: ReportConfig
    # One channel per delivery kind (slack_user, slack_channel, email); a kind without a
    # channel (Slack not configured) is retried until it has one or the deadline passes.
    channels: Mapping[str, Channel] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], datetime] = utcnow
    batch_size: int = 200
    # Recipients sent to at once per lane (Slack, email): each email one SMTP connection,
    # each Slack upload one file read into memory by slack_sdk.
    parallel_sends: int = 4
    drain: OutboxDrain = field(default_factory=OutboxDrain)
    alert_interval: float = 300  # ALERT_INTERVAL: seconds between alert checks
    scheduler: Any = None  # the running LoopScheduler, set by SchedulerService

    def channel_for(self, kind: str) -> Channel | None:
        """The channel delivering to recipients of ``kind``."""
        return self.channels.get(kind)


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
