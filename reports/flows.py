"""Finding the flow a user means: by workflow id or name, with suggestions when unsure."""

from __future__ import annotations

import difflib
from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import Session, select

from store.models import Flow
from store.vocabulary import REPORTABLE_FLOW_STATUSES

MAX_SUGGESTIONS = 5


class FlowLookupError(Exception):
    """The text given does not name exactly one flow that has a report."""


class FlowNotFound(FlowLookupError):
    """No visible flow has that id or name; ``suggestions`` are the closest ones."""

    def __init__(self, query: str, suggestions: list[Flow]) -> None:
        self.query = query
        self.suggestions = suggestions
        hint = ""
        if suggestions:
            hint = " Did you mean: " + ", ".join(describe_flow(f) for f in suggestions) + "?"
        super().__init__(f"No flow matches {query!r}.{hint}")


class AmbiguousFlow(FlowLookupError):
    """Several visible flows share that id or name."""

    def __init__(self, query: str, candidates: list[Flow]) -> None:
        self.query = query
        self.suggestions = candidates
        names = ", ".join(f"{f.bot_id}/{f.workflow_id} ({f.name})" for f in candidates)
        super().__init__(
            f"{query!r} matches {len(candidates)} flows: {names}. Use BOT_ID/WORKFLOW_ID."
        )


class FlowNotReportable(FlowLookupError):
    """The flow exists but its status has no report (the seed: Completed and Scheduled)."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        super().__init__(
            f"{flow.name!r} is {flow.status}: reports exist only for scheduled, live and "
            "completed flows."
        )


def describe_flow(flow: Flow) -> str:
    """``Diwali offers (wf_42)``."""
    return flow.name if flow.name == flow.workflow_id else f"{flow.name} ({flow.workflow_id})"


def _visible(bot_ids: Collection[str] | None) -> sa.ColumnElement[bool]:
    return sa.true() if bot_ids is None else Flow.bot_id.in_(sorted(bot_ids))  # type: ignore[attr-defined]


def find_flow(
    session: Session,
    query: str,
    *,
    bot_ids: Collection[str] | None = None,
    reportable: bool = True,
) -> Flow:
    """The one flow ``query`` names (workflow id, ``BOT/WORKFLOW`` or name, any case)."""
    text = query.strip()
    if not text:
        raise FlowNotFound(query, [])
    flows = list(session.exec(select(Flow).where(_visible(bot_ids))))
    matches = [f for f in flows if f.workflow_id == text]
    if not matches and "/" in text:
        bot_id, _, workflow_id = text.partition("/")
        matches = [f for f in flows if f.bot_id == bot_id and f.workflow_id == workflow_id]
    if not matches:
        folded = text.casefold()
        matches = [f for f in flows if folded in (f.workflow_id.casefold(), f.name.casefold())]
    if not matches:
        raise FlowNotFound(query, suggest_flows(flows, text))
    if len(matches) > 1:
        raise AmbiguousFlow(query, sorted(matches, key=lambda f: (f.bot_id, f.workflow_id)))
    flow = matches[0]
    if reportable and flow.status not in REPORTABLE_FLOW_STATUSES:
        raise FlowNotReportable(flow)
    return flow


def suggest_flows(flows: list[Flow], text: str, limit: int = MAX_SUGGESTIONS) -> list[Flow]:
    """The flows whose name or id looks most like ``text``, best first."""
    folded = text.casefold()

    def score(flow: Flow) -> float:
        best = 0.0
        for candidate in (flow.name.casefold(), flow.workflow_id.casefold()):
            ratio = difflib.SequenceMatcher(None, folded, candidate).ratio()
            if folded in candidate or candidate in folded:
                ratio = max(ratio, 0.8)
            best = max(best, ratio)
        return best

    scored = sorted(((score(f), f.name, f) for f in flows), key=lambda t: (-t[0], t[1]))
    return [flow for value, _, flow in scored if value >= 0.5][:limit]


def recent_flows(
    session: Session, *, bot_ids: Collection[str] | None = None, limit: int = 10
) -> list[Flow]:
    """The flows with reports that most recently received data."""
    query = (
        select(Flow)
        .where(_visible(bot_ids), Flow.status.in_(sorted(REPORTABLE_FLOW_STATUSES)))  # type: ignore[attr-defined]
        .order_by(Flow.updated_at.desc(), Flow.name)  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list(session.exec(query))
