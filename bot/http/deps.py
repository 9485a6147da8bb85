"""What routes take as parameters: the store's engine, the settings, the API key's bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from bot.settings import Settings
from store.api_keys import verify_api_key


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
