"""What routes take as parameters: the store's engine, the settings, the API key's bot, and
ids from the URL (checked before anything is written)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from bot.http.batches import BatchRejected, ItemError
from bot.settings import Settings
from store.api_keys import verify_api_key
from store.events import EventError, check_id


def get_engine(request: Request) -> Engine:
    """The app's one engine (``create_app`` puts it on ``app.state``)."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A key from `campaign-bot api-key create BOT_ID`; it acts for that bot only.",
)


def authenticated_bot(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bot of the request's API key; 401 when the key is missing or unknown."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'", challenge)
    with engine.connect() as conn:
        bot_id = verify_api_key(conn, credentials.credentials)
    if bot_id is None:
        raise HTTPException(401, "invalid API key", challenge)
    return bot_id


BotId = Annotated[str, Depends(authenticated_bot)]


def checked_workflow_id(
    workflow_id: Annotated[
        str, Path(description="The flow's id, exactly as stored (1 to 128 characters).")
    ],
) -> str:
    """The URL's workflow id; 422 naming it when it is not an id the store keeps as written."""
    try:
        return check_id(workflow_id, "workflow_id", "URL")
    except EventError as exc:
        error = ItemError(field="workflow_id", message=exc.message)
        raise BatchRejected(
            "invalid workflow_id in the URL; nothing was written", [error]
        ) from None


WorkflowId = Annotated[str, Depends(checked_workflow_id)]
