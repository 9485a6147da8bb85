"""KPI rules from DESIGN.md, one small hand-computed case per row, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.support import act, flow, ingest, kpis, msg

# Each case: (id, events, channel, JSON path, expected value).
CASES: list[tuple[str, list[dict[str, Any]], str | None, str, Any]] = [
    ("channels_from_flow_sorted",
     [flow(channels=["WhatsApp", "sms"]), msg("m1", "u1", "email", "sent")],
     None, "overview.engagement_channels", ["sms", "whatsapp"]),
    ("channels_from_messages_when_unset",
     [flow(), msg("m1", "u1", "whatsapp", "sent"), msg("m2", "u2", "sms", "sent")],
     None, "overview.engagement_channels", ["sms", "whatsapp"]),
    ("channels_filter_among",
     [flow(channels=["sms", "whatsapp"]), msg("m1", "u1", "sms", "sent")],
     "sms", "overview.engagement_channels", ["sms"]),
    ("channels_filter_not_connected",
     [flow(channels=["sms"]), msg("m1", "u1", "email", "sent")],
     "email", "overview.engagement_channels", []),
    ("events_count_status_and_user_events_not_flow_events",
     [flow(), msg("m1", "u1", "sms", "queued"), msg("m1", "u1", "sms", "sent"),
      act("click", "u1", "sms"), act("flow_entered", "u1")],
     None, "overview.number_of_events", 4),
    ("events_duplicate_event_id_counts_once",
     [flow(), msg("m1", "u1", "sms", "sent", event_id="e1"),
      msg("m1", "u1", "sms", "sent", event_id="e1"), act("click", "u1", event_id="e2"),
      act("click", "u1", event_id="e2")],
     None, "overview.number_of_events", 2),
    ("events_filtered_by_source",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u2", "whatsapp", "sent"),
      act("click", "u1", "sms"), act("flow_entered", "u1")],
     "sms", "overview.number_of_events", 2),
    ("unique_clicks_distinct_users",
     [flow(), act("click", "u1", "sms", url="https://a.example"), act("click", "u1", "sms"),
      act("click", "u2", "whatsapp"), act("reply", "u3", "sms")],
     None, "overview.unique_clicks", 2),
    ("unique_clicks_filtered",
     [flow(), act("click", "u1", "sms"), act("click", "u2", "whatsapp"),
      act("click", "u2", "sms")],
     "whatsapp", "overview.unique_clicks", 1),
    ("conversations_distinct_users",
     [flow(), act("conversation_started", "u1", "whatsapp"),
      act("conversation_started", "u1", "whatsapp"), act("conversation_started", "u2", "sms")],
     None, "overview.conversations_initiated", 2),
    ("conversations_filtered",
     [flow(), act("conversation_started", "u1", "whatsapp"),
      act("conversation_started", "u2", "sms")],
     "sms", "overview.conversations_initiated", 1),
    ("goal_conversion_distinct_users",
     [flow(), act("goal_achieved", "u1", "sms"), act("goal_achieved", "u1", "sms"),
      act("goal_achieved", "u2")],
     None, "overview.goal_conversion", 2),
    ("goal_conversion_null_without_goal",
     [flow(goal=None), act("goal_achieved", "u1", "sms")],
     None, "overview.goal_conversion", None),
    ("goal_conversion_filtered",
     [flow(), act("goal_achieved", "u1", "sms"), act("goal_achieved", "u2", "whatsapp")],
     "sms", "overview.goal_conversion", 1),
    ("audience_from_flow_setting",
     [flow(audience=5000), msg("m1", "u1", "sms", "sent")],
     None, "analysis.audience", 5000),
    ("audience_users_with_message_or_entered",
     [flow(), msg("m1", "u1", "sms", "queued"), msg("m2", "u1", "email", "sent"),
      act("flow_entered", "u2"), act("click", "u3")],
     None, "analysis.audience", 2),
    ("audience_filtered_users_with_message_on_channel",
     [flow(audience=5000), msg("m1", "u1", "sms", "sent"), msg("m2", "u1", "sms", "sent"),
      msg("m3", "u2", "email", "sent"), act("flow_entered", "u3", "sms")],
     "sms", "analysis.audience", 1),
    ("impressions_whatsapp_needs_delivered",
     [flow(), msg("m1", "u1", "whatsapp", "sent"), msg("m2", "u1", "whatsapp", "delivered"),
      msg("m3", "u2", "whatsapp", "read"), msg("m4", "u2", "whatsapp", "failed")],
     None, "analysis.impressions", 2),
    ("impressions_other_channels_count_sent",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u1", "email", "delivered"),
      msg("m3", "u2", "sms", "failed"), msg("m4", "u2", "sms", "queued")],
     None, "analysis.impressions", 2),
    ("impressions_filtered",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u1", "whatsapp", "delivered")],
     "whatsapp", "analysis.impressions", 1),
    ("delivery_rate_one_decimal_half_up",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u2", "sms", "sent"),
      msg("m3", "u3", "sms", "failed"), msg("m4", "u4", "sms", "queued")],
     None, "analysis.delivery_rate", 66.7),
    ("delivery_rate_null_without_notifications",
     [flow(), msg("m1", "u1", "sms", "queued")],
     None, "analysis.delivery_rate", None),
    ("delivery_rate_filtered",
     [flow(), msg("m1", "u1", "whatsapp", "sent"), msg("m2", "u2", "whatsapp", "read"),
      msg("m3", "u3", "sms", "sent")],
     "whatsapp", "analysis.delivery_rate", 50.0),
    ("reach_distinct_users_with_impression",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u1", "email", "sent"),
      msg("m3", "u2", "whatsapp", "sent"), msg("m4", "u3", "sms", "failed")],
     None, "analysis.reach", 1),
    ("reach_lost_when_only_impression_fails",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m1", "u1", "sms", "failed"),
      msg("m2", "u2", "sms", "sent")],
     None, "analysis.reach", 1),
    ("reach_filtered",
     [flow(), msg("m1", "u1", "sms", "sent"), msg("m2", "u2", "whatsapp", "read")],
     "sms", "analysis.reach", 1),
    ("engagement_counts_interactions_not_conversations",
     [flow(), act("click", "u1"), act("click", "u1"), act("reply", "u1"), act("like", "u2"),
      act("share", "u2"), act("comment", "u2"), act("conversation_started", "u2"),
      act("goal_achieved", "u2")],
     None, "analysis.engagement", 6),
    ("engagement_filtered",
     [flow(), act("click", "u1", "sms"), act("reply", "u1", "whatsapp"), act("like", "u2")],
     "sms", "analysis.engagement", 1),
    ("users_entered_distinct",
     [flow(), act("flow_entered", "u1"), act("flow_entered", "u1"), act("flow_entered", "u2")],
     None, "flow_users.users_entered_flow", 2),
    ("users_in_flow_exclude_exited_and_goal",
     [flow(), act("flow_entered", "u1"), act("flow_entered", "u2"), act("flow_entered", "u3"),
      act("flow_exited", "u2"), act("goal_achieved", "u3"), act("goal_achieved", "u4")],
     None, "flow_users.users_in_flow", 1),
    ("users_exited_distinct",
     [flow(), act("flow_exited", "u1"), act("flow_exited", "u1"), act("flow_exited", "u2")],
     None, "flow_users.users_exited_flow", 2),
    ("users_achieved_goal_distinct",
     [flow(), act("goal_achieved", "u1"), act("goal_achieved", "u1", "sms")],
     None, "flow_users.users_achieved_goal", 1),
    ("flow_users_ignore_channel_filter",
     [flow(), msg("m1", "u1", "sms", "sent"), act("flow_entered", "u1", "whatsapp"),
      act("flow_entered", "u2", "whatsapp")],
     "sms", "flow_users.users_entered_flow", 2),
]  # fmt: skip


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


@pytest.mark.parametrize(("events", "channel", "path", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])  # fmt: skip
def test_kpi_rule(
    store_engine: Engine, events: list[dict[str, Any]], channel: str | None, path: str,
    expected: Any,
) -> None:  # fmt: skip
    ingest(store_engine, *events)
    assert _get(kpis(store_engine, channel=channel), path) == expected


# Status rules: (id, statuses in arrival order, channel, kept status's counters).
STATUS_CASES = [
    ("synonym_triggered_is_queued", ["Triggered"], {"notifications": 0}),
    ("synonym_processing_pending_scheduled", ["processing", "PENDING", "scheduled"],
     {"notifications": 0}),
    ("synonym_opened_is_read", ["opened"], {"read": 1, "delivered": 1, "sent": 1}),
    ("synonym_bounced_is_failed", ["bounced"], {"failed": 1, "sent": 0}),
    ("synonyms_dropped_undelivered_malformed_rejected",
     ["dropped", "undelivered", "malformed", "REJECTED"], {"failed": 1}),
    ("higher_rank_wins_read_before_sent", ["read", "sent", "queued"], {"read": 1, "failed": 0}),
    ("delivered_beats_failed", ["failed", "delivered"], {"failed": 0, "delivered": 1}),
    ("failed_beats_sent", ["sent", "failed"], {"failed": 1, "sent": 0}),
    ("read_beats_failed_whatever_order", ["read", "failed"], {"failed": 0, "read": 1}),
]  # fmt: skip


_STATUS_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in STATUS_CASES]


@pytest.mark.parametrize(("statuses", "expected"), _STATUS_PARAMS)
def test_status_rule(store_engine: Engine, statuses: list[str], expected: dict[str, int]) -> None:
    ingest(store_engine, flow(), *(msg("m1", "u1", "whatsapp", s) for s in statuses))
    (row,) = kpis(store_engine)["channels"]
    for key, value in expected.items():
        assert row[key] == value, key


def test_channel_statistics_shares_nulls_and_failure_reasons(store_engine: Engine) -> None:
    ingest(
        store_engine,
        flow(channels=["whatsapp", "sms"]),
        msg("m1", "u1", "whatsapp", "read"),
        msg("m2", "u2", "whatsapp", "delivered"),
        msg("m3", "u3", "whatsapp", "failed", error_code=1408, comments="Not a WhatsApp number"),
        msg("m4", "u4", "whatsapp", "failed", error_code="1408", comments="Not a WhatsApp number"),
        msg("m5", "u5", "whatsapp", "failed", error_code="131049", comments="Marketing limit"),
        msg("m6", "u6", "sms", "sent"),
        msg("m7", "u7", "sms", "failed"),
        msg("m8", "u8", "sms", "queued"),
    )
    data = kpis(store_engine)
    assert data["channels"] == [
        {"channel": "whatsapp", "notifications": 5, "share": 71.4, "sent": 2, "delivered": 2,
         "read": 1, "failed": 3, "failure_rate": 60.0,
         "failure_reasons": [{"reason": "1408 Not a WhatsApp number", "count": 2},
                             {"reason": "131049 Marketing limit", "count": 1}]},
        {"channel": "sms", "notifications": 2, "share": 28.6, "sent": 1, "delivered": None,
         "read": None, "failed": 1, "failure_rate": 50.0,
         "failure_reasons": [{"reason": "Unknown", "count": 1}]},
    ]  # fmt: skip
    assert [c["channel"] for c in kpis(store_engine, channel="sms")["channels"]] == ["sms"]


def test_failure_reason_leaves_when_message_is_delivered_later(store_engine: Engine) -> None:
    ingest(store_engine, flow(), msg("m1", "u1", "whatsapp", "failed", error_code="131026"))
    ingest(store_engine, msg("m1", "u1", "whatsapp", "delivered", at="2026-11-01T09:05:00Z"))
    (row,) = kpis(store_engine)["channels"]
    assert (row["failed"], row["delivered"], row["failure_reasons"]) == (0, 1, [])


def test_contract_json_shape(store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["sms"]), msg("m1", "u1", "sms", "sent"))
    data = kpis(store_engine)
    assert list(data) == ["flow", "channel", "overview", "analysis", "rates", "flow_users",
                          "channels", "generated_at"]  # fmt: skip
    assert list(data["rates"]) == ["failure_rate", "click_through_rate", "read_rate",
                                   "goal_conversion_rate"]  # fmt: skip
    assert list(data["channels"][0]) == ["channel", "notifications", "share", "sent", "delivered",
                                         "read", "failed", "failure_rate",
                                         "failure_reasons"]  # fmt: skip
    assert data["flow"] == {"bot_id": "b1", "workflow_id": "wf_42", "name": "Diwali offers",
                            "status": "completed", "goal": "purchase"}  # fmt: skip
    assert list(data["overview"]) == ["engagement_channels", "number_of_events", "unique_clicks",
                                      "conversations_initiated", "goal_conversion"]  # fmt: skip
    assert list(data["analysis"]) == ["audience", "impressions", "delivery_rate", "reach",
                                      "engagement"]  # fmt: skip
    assert list(data["flow_users"]) == ["users_entered_flow", "users_in_flow",
                                        "users_exited_flow", "users_achieved_goal"]  # fmt: skip
    assert data["generated_at"] == "2026-11-27T09:00:00Z"
    assert data["channel"] is None
