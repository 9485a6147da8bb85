"""Alert rules (DESIGN.md, "Alerts"): metrics, conditions, judging a flow, which flows an alert
watches. Pure, apart from ``AlertCoverage`` (a read of grants and flows).

An alert is ``<metric> <op> <threshold>`` with ``min:N``: ``delivery_rate``, ``failure_rate``,
``read_rate`` and ``click_through_rate`` are percentages (0–100) from the KPI engine's report;
``failed`` is the flow's failed messages, ``error:CODE`` those failed with that error code
(``reports.kpis.failed_with_error_code``, from the failure-reason rollup). A flow with fewer
than ``min_notifications`` notifications, or whose metric has no value (nothing to divide
by), is not judged: its state stays as it was.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from reports.access import granted_bot_ids
from reports.formatting import RankedReason, channel_label, fmt_int, top_failure_reasons
from reports.kpis import FlowReport
from store.alerts import active_alerts, alert_states
from store.models import Alert, AlertState, Flow

ALERT_FLOW_STATUSES = frozenset({"live", "scheduled"})  # the flows alerts watch
DEFAULT_MIN_NOTIFICATIONS = 100
MAX_MIN_NOTIFICATIONS = 1_000_000_000
MAX_COUNT_THRESHOLD = 1_000_000_000
RATE_METRICS: dict[str, str] = {
    "delivery_rate": "Delivery rate",
    "failure_rate": "Failure rate",
    "read_rate": "Read rate",
    "click_through_rate": "Click-through rate",
}
COUNT_METRICS: dict[str, str] = {"failed": "Failed messages"}
ERROR_METRIC = "error:"  # error:CODE — failed messages with that error code
METRIC_NAMES = (*RATE_METRICS, *COUNT_METRICS, "error:CODE")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ERROR_CODE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")


class AlertRuleError(ValueError):
    """An alert that cannot be made as written; the message is the one-line reason."""


def normalize_metric(text: str) -> str:
    """``Failure_Rate`` → ``failure_rate``, ``ERROR:131049`` → ``error:131049``; else raise."""
    lowered = text.strip().lower()
    if lowered in RATE_METRICS or lowered in COUNT_METRICS:
        return lowered
    if lowered.startswith(ERROR_METRIC):
        code = text.strip()[len(ERROR_METRIC) :]
        if not _ERROR_CODE.match(code):
            raise AlertRuleError("error: needs the error code right after it, e.g. error:131049")
        return ERROR_METRIC + code
    raise AlertRuleError(f"unknown metric {text[:40]!r}; use one of {', '.join(METRIC_NAMES)}")


def is_rate(metric: str) -> bool:
    """True for the percentage metrics."""
    return metric in RATE_METRICS


def error_code_of(metric: str) -> str | None:
    """``"131049"`` for ``error:131049``, None for every other metric."""
    return metric[len(ERROR_METRIC) :] if metric.startswith(ERROR_METRIC) else None


def metric_label(metric: str) -> str:
    """``Failure rate``, ``Failed messages``, ``Failed messages with error 131049``."""
    code = error_code_of(metric)
    if code is not None:
        return f"Failed messages with error {code}"
    return RATE_METRICS.get(metric) or COUNT_METRICS.get(metric) or metric


def format_number(value: float) -> str:
    """``5`` for 5.0, ``5.5``, ``1,200``: a threshold as people write it."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if round(value, 1) == value else f"{value:,}"


def format_value(metric: str, value: float | None) -> str:
    """A metric's value as shown: ``12.5%`` for rates, ``1,234`` for counts, ``n/a``."""
    if value is None:
        return "n/a"
    if is_rate(metric):
        return f"{value:.1f}%"
    return fmt_int(int(value))


def format_threshold(metric: str, threshold: float) -> str:
    """``5%`` for a rate, ``50`` for a count."""
    return f"{format_number(threshold)}%" if is_rate(metric) else format_number(threshold)


@dataclass(frozen=True)
class Condition:
    """``<metric> <op> <threshold>``, judged once a flow has ``min_notifications``."""

    metric: str
    op: str
    threshold: float
    min_notifications: int = DEFAULT_MIN_NOTIFICATIONS

    def __post_init__(self) -> None:
        check_condition(self.metric, self.op, self.threshold, self.min_notifications)

    @classmethod
    def of(cls, alert: Alert) -> Condition:
        """The condition a stored alert watches."""
        return cls(alert.metric, alert.op, alert.threshold, alert.min_notifications)

    def holds(self, value: float) -> bool:
        """True when ``value`` meets the condition (the alert fires)."""
        return OPS[self.op](value, self.threshold)

    def describe(self) -> str:
        """``failure_rate > 5% (min 100 notifications)``."""
        threshold = format_threshold(self.metric, self.threshold)
        minimum = fmt_int(self.min_notifications)
        noun = "notification" if self.min_notifications == 1 else "notifications"
        return f"{self.metric} {self.op} {threshold} (min {minimum} {noun})"


def check_condition(metric: str, op: str, threshold: float, min_notifications: int) -> None:
    """Raise ``AlertRuleError`` with the reason when the condition makes no sense."""
    if op not in OPS:
        raise AlertRuleError(f"unknown comparison {op[:10]!r}; use <, <=, > or >=")
    if threshold != threshold or threshold in (float("inf"), float("-inf")):
        raise AlertRuleError("the threshold must be a number")
    if is_rate(metric):
        if not 0 <= threshold <= 100:
            raise AlertRuleError(
                f"{metric} is a percentage: the threshold must be from 0 to 100, "
                f"not {format_number(threshold)}"
            )
    elif not float(threshold).is_integer() or not 0 <= threshold <= MAX_COUNT_THRESHOLD:
        raise AlertRuleError(
            f"{metric} counts messages: the threshold must be a whole number from 0 to "
            f"{MAX_COUNT_THRESHOLD:,}, not {format_number(threshold)}"
        )
    if not 0 <= min_notifications <= MAX_MIN_NOTIFICATIONS:
        raise AlertRuleError(
            f"min: must be a whole number of notifications from 0 to {MAX_MIN_NOTIFICATIONS:,}"
        )


@dataclass(frozen=True)
class Judgement:
    """One alert judged on one flow: the value, the notifications so far, the verdict.

    ``firing`` is None when the flow was not judged (fewer notifications than ``min:``, or
    no value: nothing to divide by); the state then stays as it was.
    """

    value: float | None
    notifications: int
    firing: bool | None
    top_reason: RankedReason | None


@dataclass(frozen=True)
class FlowFacts:
    """What alerts read of one flow's KPI report, taken out once however many judge it."""

    notifications: int
    values: dict[str, float | None]  # every metric but error:CODE
    top_reason: RankedReason | None

    @classmethod
    def of(cls, report: FlowReport) -> FlowFacts:
        """The facts of ``report`` (the KPI engine's, with its rates)."""
        rates = report.rates
        reasons = top_failure_reasons(report, 1)
        return cls(
            notifications=report.total_notifications,
            values={
                "delivery_rate": report.analysis.delivery_rate,
                "failure_rate": rates.failure_rate,
                "read_rate": rates.read_rate,
                "click_through_rate": rates.click_through_rate,
                "failed": sum(row.failed for row in report.channels),
            },
            top_reason=reasons[0] if reasons else None,
        )


def metric_value(metric: str, facts: FlowFacts, error_count: int | None = None) -> float | None:
    """The metric's value for a flow (``error_count``: its failures with the metric's code)."""
    if error_code_of(metric) is not None:
        if error_count is None:
            raise ValueError(f"{metric} needs the flow's count of that error code")
        return error_count
    if metric not in facts.values:
        raise ValueError(f"unknown metric {metric!r}")
    return facts.values[metric]


def judge(
    condition: Condition, report: FlowReport | FlowFacts, error_count: int | None = None
) -> Judgement:
    """Judge ``condition`` on a flow's KPI report (from the engine: no message is read)."""
    facts = report if isinstance(report, FlowFacts) else FlowFacts.of(report)
    notifications = facts.notifications
    value = metric_value(condition.metric, facts, error_count)
    top = facts.top_reason
    if notifications < condition.min_notifications or value is None:
        return Judgement(value, notifications, None, top)
    return Judgement(value, notifications, condition.holds(value), top)


def judgement_content(
    condition: Condition, flow: Flow, judgement: Judgement, judged_at: str
) -> dict[str, Any]:
    """What an alert's message says, as kept in ``alert_event.content`` (JSON)."""
    top = judgement.top_reason
    return {
        "flow": {"bot_id": flow.bot_id, "workflow_id": flow.workflow_id, "name": flow.name},
        "metric": condition.metric,
        "op": condition.op,
        "threshold": condition.threshold,
        "min_notifications": condition.min_notifications,
        "value": judgement.value,
        "notifications": judgement.notifications,
        "top_reason": (
            None
            if top is None
            else {"channel": top.channel, "reason": top.reason, "count": top.count}
        ),
        "judged_at": judged_at,
    }


class AlertCoverage:
    """Which flows each alert watches now: live or scheduled flows its workspace may see.

    ``all`` covers every such flow of the bots granted to the workspace; a one-flow alert its
    flow while it is live or scheduled and still granted. Grants and flows are read once per
    workspace, however many alerts it has; the flows of ``alerts`` in one query.
    """

    def __init__(self, session: Session, alerts: Sequence[Alert] = ()) -> None:
        self.session = session
        self._bots: dict[str, set[str]] = {}
        self._flows: dict[str, list[Flow]] = {}
        ids = sorted({a.flow_id for a in alerts if a.flow_id is not None})
        query = select(Flow).where(Flow.id.in_(ids))  # type: ignore[union-attr]
        self._by_id: dict[int, Flow] = {f.id: f for f in session.exec(query)} if ids else {}  # type: ignore[misc]

    def bot_ids(self, team_id: str) -> set[str]:
        """The bots ``team_id`` may see (``reports.access``)."""
        if team_id not in self._bots:
            self._bots[team_id] = granted_bot_ids(self.session, team_id)
        return self._bots[team_id]

    def flows(self, alert: Alert) -> list[Flow]:
        """The flows ``alert`` judges now, by row id."""
        bot_ids = self.bot_ids(alert.team_id)
        if alert.flow_id is not None:
            flow = self._by_id.get(alert.flow_id) or self.session.get(Flow, alert.flow_id)
            watched = flow is not None and flow.bot_id in bot_ids
            return [flow] if watched and flow.status in ALERT_FLOW_STATUSES else []  # type: ignore[list-item, union-attr]
        if alert.team_id not in self._flows:
            query = select(Flow).where(
                Flow.bot_id.in_(sorted(bot_ids)),  # type: ignore[attr-defined]
                Flow.status.in_(sorted(ALERT_FLOW_STATUSES)),  # type: ignore[attr-defined]
            )
            self._flows[alert.team_id] = sorted(self.session.exec(query), key=lambda f: f.id or 0)
        return self._flows[alert.team_id]


@dataclass(frozen=True)
class AlertText:
    """The words of an alert's message, channel-neutral (Slack escapes them, email not)."""

    title: str  # "Alert: Diwali offers" / "Resolved: Diwali offers"
    condition: str  # "Failure rate is 12.5% (alert when > 5%)"
    notifications: str  # "1,234 notifications so far"
    top_reason: str | None  # "Top failure reason: WhatsApp · 131049 Marketing limit — 120"


def describe_judgement(kind: str, judgement: dict[str, Any]) -> AlertText:
    """The message of a transition (``firing`` or ``resolved``) from its recorded judgement."""
    metric = str(judgement["metric"])
    value = format_value(metric, judgement.get("value"))
    threshold = format_threshold(metric, float(judgement["threshold"]))
    label = metric_label(metric)
    verb = "is" if kind == "firing" else "is back to"
    notifications = int(judgement.get("notifications") or 0)
    noun = "notification" if notifications == 1 else "notifications"
    top = judgement.get("top_reason")
    reason = None
    if isinstance(top, dict):
        channel = channel_label(str(top["channel"]))
        reason = f"Top failure reason: {channel} · {top['reason']} — {fmt_int(int(top['count']))}"
    name = str(judgement["flow"]["name"])
    return AlertText(
        title=f"{'Alert' if kind == 'firing' else 'Resolved'}: {name}",
        condition=f"{label} {verb} {value} (alert when {judgement['op']} {threshold})",
        notifications=f"{fmt_int(notifications)} {noun} so far",
        top_reason=reason,
    )


@dataclass(frozen=True)
class FlowAlertState:
    """An alert's recorded state on one flow, for listings."""

    flow_id: int
    flow: str  # the flow's name
    bot_id: str
    workflow_id: str
    state: str  # ok | firing
    value: str  # "12.5%", "n/a"
    notifications: int
    changed_at: datetime | None  # when the state last changed
    muted_until: datetime | None


@dataclass(frozen=True)
class AlertSummary:
    """One alert as listed in Slack (``/campaign-report alerts``, App Home) and the CLI."""

    id: int
    team_id: str
    created_by: str
    scope: str  # a flow name or "all flows"
    condition: str  # "failure_rate > 5% (min 100 notifications)"
    recipients: tuple[str, ...]  # "kind:address"
    states: tuple[FlowAlertState, ...]  # the flows it was judged on, firing first


def alert_summaries(
    session: Session, *, team_id: str | None = None, limit: int | None = None
) -> list[AlertSummary]:
    """The active alerts (of one workspace, or all) with their state on each flow."""
    alerts = active_alerts(session, team_id=team_id, limit=limit)
    by_alert: dict[int, list[AlertState]] = {}
    for state in alert_states(session, [a.id for a in alerts if a.id is not None]):
        by_alert.setdefault(state.alert_id, []).append(state)
    summaries = []
    for alert in alerts:
        assert alert.id is not None
        flow = session.get(Flow, alert.flow_id) if alert.flow_id is not None else None
        states = []
        for state in by_alert.get(alert.id, []):
            judged = session.get(Flow, state.flow_id)
            if judged is None:
                continue
            states.append(
                FlowAlertState(
                    flow_id=state.flow_id,
                    flow=judged.name,
                    bot_id=judged.bot_id,
                    workflow_id=judged.workflow_id,
                    state=state.state,
                    value=format_value(alert.metric, state.value),
                    notifications=state.notifications,
                    changed_at=state.changed_at,
                    muted_until=state.muted_until,
                )
            )
        states.sort(key=lambda s: (s.state != "firing", s.flow.casefold(), s.flow_id))
        summaries.append(
            AlertSummary(
                id=alert.id,
                team_id=alert.team_id,
                created_by=alert.created_by,
                scope=flow.name if flow is not None else "all flows",
                condition=Condition.of(alert).describe(),
                recipients=tuple(alert.recipients),
                states=tuple(states),
            )
        )
    return summaries
