"""Workspace grants: which Slack workspace may see which bot's flows (the writes)."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine

from store.db import write_session
from store.models import Bot, WorkspaceGrant, utcnow

TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")


class GrantError(ValueError):
    """The grant cannot be made; the message names the argument."""


def grant_workspace(engine: Engine, team_id: str, bot_id: str) -> bool:
    """Let workspace ``team_id`` see ``bot_id``'s flows; False when it already could."""
    if not TEAM_ID.match(team_id):
        raise GrantError(f"TEAM_ID: {team_id[:40]!r} is not a Slack team id (like T0123ABCD)")
    with write_session(engine) as session:
        if session.get(Bot, bot_id) is None:
            raise GrantError(f"unknown bot {bot_id!r}; import its flows first")
        if session.get(WorkspaceGrant, (team_id, bot_id)) is not None:
            return False
        session.add(WorkspaceGrant(team_id=team_id, bot_id=bot_id, created_at=utcnow()))
        session.commit()
    return True
