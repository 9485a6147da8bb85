"""Escaping, truncation, numbers and bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.mrkdwn import escape_mrkdwn, mrkdwn, share_bar
from reports.formatting import fmt_ago, fmt_int, fmt_moment, fmt_pct, truncate


def test_escape_neutralizes_mentions_and_links() -> None:
    assert (
        escape_mrkdwn("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    )


def test_truncation_respects_the_limit_and_never_splits_an_entity() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdefg", 6) == "abcde…"
    assert mrkdwn("ab<cd", 4) == "ab…"  # "ab&l…" would show a broken entity
    assert len(mrkdwn("&" * 100, 50)) <= 50


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (48210, "48,210"), (1_000_000, "1,000,000"), (None, "n/a")]
)
def test_integers_have_thousands_separators(value: int | None, text: str) -> None:
    assert fmt_int(value) == text


def test_percent_has_one_decimal() -> None:
    assert (fmt_pct(92.4), fmt_pct(100.0), fmt_pct(None)) == ("92.4%", "100.0%", "n/a")


@pytest.mark.parametrize(
    ("share", "filled"), [(0.0, 0), (0.2, 1), (50.0, 10), (68.2, 14), (100.0, 20)]
)
def test_share_bar_fills_its_share_of_twenty_cells(share: float, filled: int) -> None:
    assert share_bar(share) == "█" * filled + "░" * (20 - filled)


def test_times_are_shown_in_the_report_zone_and_relative() -> None:
    moment = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
    assert fmt_moment(moment, ZoneInfo("Asia/Kolkata")) == "1 Nov 2026 09:00 IST"
    assert fmt_ago(moment, moment + timedelta(seconds=30)) == "just now"
    assert fmt_ago(moment, moment + timedelta(minutes=2)) == "2 min ago"
    assert fmt_ago(moment, moment + timedelta(days=1)) == "1 day ago"
