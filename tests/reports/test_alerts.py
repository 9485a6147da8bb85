"""Alert rules: judging a flow's report, and failures by error code from the rollups."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.alerts import AlertRuleError, Condition, describe_judgement, judge, normalize_metric
from reports.flows import find_flow
from reports.kpis import compute_kpis, failed_with_error_code
from tests.reports.test_pdf import make_report
from tests.support import NOW, flow, ingest, msg

# make_report (tests/reports/test_pdf.py): 23,320 notifications, 680 failed (2.9%), delivery
# rate 92.4%, top failure reason "1408 Not a WhatsApp number" on WhatsApp (212).


@pytest.mark.parametrize(
    ("metric", "op", "threshold", "minimum", "value", "firing"),
    [
        ("failure_rate", ">", 2, 100, 2.9, True),
        ("failure_rate", ">", 2.9, 100, 2.9, False),  # the boundary itself does not fire
        ("failure_rate", ">=", 2.9, 100, 2.9, True),
        ("delivery_rate", "<", 95, 100, 92.4, True),
        ("delivery_rate", "<=", 90, 100, 92.4, False),
        ("failed", ">", 600, 100, 680, True),
        ("failure_rate", ">", 2, 30_000, 2.9, None),  # fewer notifications than min:
    ],
)
def test_judge_compares_the_engines_value_once_min_notifications_are_reached(
    metric: str, op: str, threshold: float, minimum: int, value: float, firing: bool | None
) -> None:
    report = make_report()
    judgement = judge(Condition(metric, op, threshold, minimum), report)
    assert (judgement.value, judgement.firing) == (value, firing)
    assert judgement.notifications == report.total_notifications
    assert judgement.top_reason is not None
    top = judgement.top_reason
    assert (top.channel, top.reason, top.count) == ("whatsapp", "1408 Not a WhatsApp number", 212)


def test_a_rate_with_nothing_to_divide_by_is_not_judged() -> None:
    report = make_report(channels=[])
    judgement = judge(Condition("read_rate", "<", 50, 0), report)
    assert (judgement.value, judgement.firing) == (None, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("open_rate", "unknown metric 'open_rate'"),
        ("error:", "error: needs the error code right after it, e.g. error:131049"),
    ],
)
def test_unknown_metrics_are_refused(text: str, reason: str) -> None:
    with pytest.raises(AlertRuleError, match=reason):
        normalize_metric(text)


def test_the_message_says_value_threshold_notifications_and_top_reason() -> None:
    report = make_report()
    judgement = judge(Condition("failure_rate", ">", 2), report)
    content = {
        "flow": {"bot_id": "b1", "workflow_id": "wf_42", "name": "Diwali offers"},
        "metric": "failure_rate", "op": ">", "threshold": 2.0, "min_notifications": 100,
        "value": judgement.value, "notifications": judgement.notifications,
        "top_reason": {"channel": "whatsapp", "reason": "131049 Marketing limit", "count": 120},
        "judged_at": "2026-11-27T09:00:00Z",
    }  # fmt: skip
    words = describe_judgement("firing", content)
    assert words.title == "Alert: Diwali offers"
    assert words.condition == "Failure rate is 2.9% (alert when > 2%)"
    assert words.notifications == "23,320 notifications so far"
    assert words.top_reason == "Top failure reason: WhatsApp · 131049 Marketing limit — 120"
    assert describe_judgement("resolved", content).condition.startswith("Failure rate is back to")


def test_failures_by_error_code_come_from_the_rollup_and_follow_status_changes(
    store_engine: Engine,
) -> None:
    ingest(
        store_engine,
        flow(status="live"),
        msg("a", "u1", "whatsapp", "failed", error_code="131049", comments="Marketing limit"),
        msg("b", "u2", "whatsapp", "failed", error_code="131049"),
        msg("c", "u3", "sms", "failed", error_code=131049, comments="Limit on SMS too"),
        msg("d", "u4", "whatsapp", "failed", error_code="1310490"),
        msg("e", "u5", "whatsapp", "failed", comments="131049 Marketing limit"),  # a CSV import
        msg("f", "u6", "whatsapp", "failed", error_code="1408", comments="131049 lookalike"),
        msg("g", "u7", "whatsapp", "failed", error_code="131%"),
    )
    with Session(store_engine) as session:
        wf_42 = find_flow(session, "wf_42")
        conn = session.connection()
        assert failed_with_error_code(conn, wf_42.id, "131049") == 4
        assert failed_with_error_code(conn, wf_42.id, "1310490") == 1
        assert failed_with_error_code(conn, wf_42.id, "131%") == 1
        assert failed_with_error_code(conn, wf_42.id, "9999") == 0
    # A failed message that is delivered after all no longer counts.
    ingest(store_engine, msg("a", "u1", "whatsapp", "delivered", at="2026-11-01T09:05:00Z"))
    with Session(store_engine) as session:
        wf_42 = find_flow(session, "wf_42")
        conn = session.connection()
        assert failed_with_error_code(conn, wf_42.id, "131049") == 3
        report = compute_kpis(conn, wf_42, now=NOW)
        judgement = judge(Condition("error:131049", ">=", 3, 1), report, 3)
    assert (judgement.value, judgement.firing, judgement.notifications) == (3, True, 7)
