"""Access rules every surface shares (reports.access), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from reports.access import (
    FlowUnavailable,
    InvalidChannel,
    NoGrants,
    UnknownChannel,
    check_channel,
    find_visible_flow,
    recent_visible_flows,
    subscription_flows,
    visible_flow,
)
from reports.flows import FlowNotFound, FlowNotReportable
from store.grants import GrantError, grant_workspace
from store.models import Flow, Subscription, WorkspaceGrant
from tests.support import flow, ingest, msg


def _load(engine: Engine) -> dict[str, int]:
    ingest(
        engine,
        flow(channels=["whatsapp"]),
        flow(workflow_id="wf_draft", name="Draft", status="draft"),
        flow(bot_id="b2", workflow_id="wf_9", name="Diwali secrets"),
        msg("m-1", "+1", "sms", "sent"),
    )
    with Session(engine) as session:
        return {f.workflow_id: f.id for f in session.exec(select(Flow)) if f.id is not None}


def test_a_workspace_sees_only_the_flows_of_its_granted_bots(store_engine: Engine) -> None:
    ids = _load(store_engine)
    with Session(store_engine) as session, pytest.raises(NoGrants):
        visible_flow(session, "T0TEST", ids["wf_42"])
    assert grant_workspace(store_engine, "T0TEST", "b1") is True
    assert grant_workspace(store_engine, "T0TEST", "b1") is False  # already could
    with Session(store_engine) as session:
        assert visible_flow(session, "T0TEST", ids["wf_42"]).name == "Diwali offers"
        with pytest.raises(FlowUnavailable):  # another bot's flow: same answer as "gone"
            visible_flow(session, "T0TEST", ids["wf_9"])
        with pytest.raises(FlowUnavailable):
            visible_flow(session, "T0TEST", 10_000)
        with pytest.raises(FlowNotReportable):
            visible_flow(session, "T0TEST", ids["wf_draft"])
        with pytest.raises(FlowNotFound) as found:
            find_visible_flow(session, "T0TEST", "Diwali secrets")
        assert all(f.bot_id == "b1" for f in found.value.suggestions)
        assert [f.workflow_id for f in recent_visible_flows(session, "T0TEST")] == ["wf_42"]


def test_grants_name_a_real_team_and_bot(store_engine: Engine) -> None:
    _load(store_engine)
    with pytest.raises(GrantError, match="TEAM_ID"):
        grant_workspace(store_engine, "not-a-team", "b1")
    with pytest.raises(GrantError, match="unknown bot 'nobody'"):
        grant_workspace(store_engine, "T0TEST", "nobody")


def test_a_channel_filter_is_normalized_or_refused_with_the_flows_channels(
    store_engine: Engine,
) -> None:
    ids = _load(store_engine)
    with Session(store_engine) as session:
        found = session.get(Flow, ids["wf_42"])
        assert found is not None
        conn = session.connection()
        assert check_channel(conn, found, None) is None
        assert check_channel(conn, found, " WhatsApp ") == "whatsapp"
        assert check_channel(conn, found, "SMS") == "sms"  # seen in its messages
        with pytest.raises(UnknownChannel) as unknown:
            check_channel(conn, found, "fax")
        assert unknown.value.channels == ["sms", "whatsapp"]
        with pytest.raises(InvalidChannel) as invalid:
            check_channel(conn, found, "no spaces")
        assert "invalid source" in invalid.value.reason


def test_a_digest_covers_nothing_once_the_grant_is_withdrawn(store_engine: Engine) -> None:
    ids = _load(store_engine)
    grant_workspace(store_engine, "T0TEST", "b1")
    with Session(store_engine) as session:
        one = Subscription(team_id="T0TEST", created_by="U1", flow_id=ids["wf_42"],
                           schedule="daily 09:00", cron="0 9 * * *")  # fmt: skip
        every = Subscription(team_id="T0TEST", created_by="U1", flow_id=None,
                             schedule="daily 09:00", cron="0 9 * * *")  # fmt: skip
        assert [f.workflow_id for f in subscription_flows(session, one)] == ["wf_42"]
        assert [f.workflow_id for f in subscription_flows(session, every)] == ["wf_42"]
        session.delete(session.get(WorkspaceGrant, ("T0TEST", "b1")))
        session.commit()
        assert subscription_flows(session, one) == []
        assert subscription_flows(session, every) == []
