"""The Slack text of deliveries (pure): report summaries and owner notices, escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from commands.blocks.delivery import format_delivery
from reports.content import DeliveryFailed, Digest, RenderFailed, ReportContent
from tests.reports.test_pdf import make_report, make_timeline

HOSTILE = "<!channel> <https://evil.example|Click> & <@U0BOSS>"


def test_a_digest_summary_lists_the_kpis_and_how_to_stop_it() -> None:
    content = ReportContent(
        request_id=1,
        report=make_report(),
        generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        zone=ZoneInfo("UTC"),
        digest=Digest(subscription_id=12, schedule="daily 09:00", created_by="U0ALICE"),
    )
    text = format_delivery(content)["text"]
    assert text.startswith("*Diwali offers* — Digest (daily 09:00)\n")
    assert "• Delivery rate: " in text
    assert text.endswith(
        "_Digest daily 09:00 subscribed in Slack by <@U0ALICE>. "
        "To stop it: /campaign-report unsubscribe 12_"
    )


def test_hostile_names_and_reasons_cannot_ping_or_link() -> None:
    report = ReportContent(
        request_id=1,
        report=make_report(HOSTILE),
        generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        zone=ZoneInfo("UTC"),
    )
    failed = DeliveryFailed(HOSTILE, "email", "ops@acme.example", f"550 {HOSTILE}")
    for content in (report, failed):
        text = format_delivery(content)["text"]
        assert "<!channel>" not in text and "<https://" not in text and "<@U0BOSS>" not in text
        assert "&lt;!channel&gt;" in text


def test_owner_notices_name_the_recipient_as_slack_shows_it() -> None:
    to_user = DeliveryFailed("Diwali offers", "slack_user", "U0BOB", "channel_not_found")
    to_channel = DeliveryFailed("Diwali offers", "slack_channel", "C0OPS", "not_in_channel")
    assert format_delivery(to_user)["text"] == (
        "The campaign report for “Diwali offers” could not be delivered to <@U0BOB>: "
        "channel_not_found"
    )
    assert "to <#C0OPS>: not_in_channel" in format_delivery(to_channel)["text"]
    assert format_delivery(RenderFailed("x"))["text"].startswith("Sorry")


def test_a_digest_shows_rates_with_their_change_and_the_timeline_as_sparklines() -> None:
    previous = make_report().to_json()
    previous["rates"]["failure_rate"] = 4.0  # the previous digest: 4.0% failed
    content = ReportContent(
        request_id=1,
        report=make_report(),
        generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        zone=ZoneInfo("UTC"),
        previous=previous,
        timeline=make_timeline(),
    )
    text = format_delivery(content)["text"]
    assert "• Failure rate: 2.9% (▼ −1.1%)" in text  # 680 / 23,320 now
    assert "• Read rate: 74.6% (no change)" in text
    assert "_Over time: Per hour in Asia/Kolkata, 1 Nov 09:00 +05:30 to 1 Nov 11:00 +05:30_" in text
    # sent 120, 340, 0: bar 1 + round(120 / 340 × 6) = 3 of 0–7, the top, zero; the total
    assert "Sent      ▄█▁ 460" in text
    assert "Goals     ▁▆█ 12" in text


def test_a_digest_from_before_rates_shows_them_without_a_change() -> None:
    previous = make_report().to_json()
    del previous["rates"]
    content = ReportContent(
        request_id=1,
        report=make_report(),
        generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        zone=ZoneInfo("UTC"),
        previous=previous,
    )
    text = format_delivery(content)["text"]
    assert "• Failure rate: 2.9%\n" in text
    assert "• Delivery rate: 92.4% (no change)" in text
