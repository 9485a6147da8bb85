"""A subscription's schedule: a crontab line in an IANA time zone, and when it next fires.

Shared by the Slack grammar (which checks what people type), the listings (Slack and the
CLI show the next digest) and the scheduler (which runs the digests).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from store.models import Subscription

_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_trigger(expression: str, timezone: ZoneInfo | str | None = None) -> CronTrigger:
    """A trigger for a standard crontab line, where day of week 0 and 7 are Sunday.

    APScheduler 3 counts weekdays from Monday = 0 (its docs call this a historical mistake),
    so numeric weekdays are turned into names first. Raises ``ValueError`` for a bad line.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if weekday in ("0-6", "1-7", "0-7"):
        weekday = "*"
    weekday = re.sub(r"(?<![/\d])\d+", lambda m: _CRONTAB_DAYS[int(m.group(0)) % 8], weekday)
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone
        )
    except IndexError as exc:  # APScheduler's parser raises it for some malformed fields
        raise ValueError(str(exc)) from None


def build_trigger(subscription: Subscription) -> CronTrigger:
    """The APScheduler trigger of a subscription."""
    return crontab_trigger(subscription.cron, ZoneInfo(subscription.timezone))


def next_run(subscription: Subscription, now: datetime) -> datetime | None:
    """When the subscription's next digest goes out (None: never)."""
    return build_trigger(subscription).get_next_fire_time(None, now)
