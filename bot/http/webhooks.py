"""``POST /webhooks/<kind>/<connector id>``: provider webhooks straight into the store.

Per delivery, in this order: the body is read (capped while reading); then, in the thread
pool (the event loop never waits for the database), the connector is found by kind and id,
its secret decrypted, and the signature checked on the raw body (constant-time; stale
timestamps refused) — only then is the body parsed, and its updates applied in one write
transaction, in which a Mailgun token is also claimed (a replay is refused).

Any refusal writes nothing but the connector's ``events refused`` counter: 401 for an
unknown id, another connector's id or kind, a missing, wrong or stale signature, a replayed
token, or a secret that cannot be read since SECRET_KEY changed (logged, naming the
connector that needs ``campaign-bot connector set-secret``); 400 for malformed JSON or form
data. WhatsApp's subscription ``GET`` answers the challenge as text, 403 on a wrong token.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.engine import Engine

from bot.http.bodies import read_body
from bot.http.deps import EngineDep, SettingsDep
from bot.http.ingest import IngestLockDep, ingest_slot
from bot.settings import Settings
from store.connectors import KINDS, whatsapp
from store.connectors.apply import WebhookSummary, apply_webhook
from store.connectors.base import SignatureError, WebhookPayloadError, WebhookRequest
from store.connectors.records import (
    StoredConnector,
    count_refusal,
    find_connector,
    unlock_secret,
)
from store.connectors.secrets import ConnectorSecretError, SecretBox, SecretKeyChanged
from store.models import utcnow

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024  # a SendGrid batch or a WhatsApp payload is far smaller
logger = logging.getLogger("campaign_report.webhooks")

# Called by providers, not by API-key holders: described in the README, not in /openapi.json.
router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)


class Refused(Exception):
    """A delivery answered with ``status`` and ``detail``, having written nothing."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def get_secret_box(request: Request, settings: SettingsDep) -> SecretBox | None:
    """The process's ``SecretBox`` (derived from SECRET_KEY once); None when it is unset."""
    state = request.app.state
    if not hasattr(state, "connector_box"):
        key = settings.SECRET_KEY.get_secret_value() if settings.SECRET_KEY else ""
        state.connector_box = SecretBox(key) if key else None
    box: SecretBox | None = state.connector_box
    return box


SecretBoxDep = Annotated[SecretBox | None, Depends(get_secret_box)]


def public_url(settings: Settings, kind: str, connector_id: str, request: Request) -> str:
    """The URL as the provider was given it (Twilio signs it): PUBLIC_BASE_URL, path, query."""
    url = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/webhooks/{kind}/{connector_id}"
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{url}?{query}" if query else url


def _refuse(
    engine: Engine, lock: threading.Lock, connector: StoredConnector, status: int, why: str
) -> Refused:
    logger.warning(
        "webhook refused (%s): %s connector %s of bot %r: %s",
        status, connector.kind, connector.id, connector.bot_id, why,
    )  # fmt: skip
    with ingest_slot(engine, lock):
        count_refusal(engine, connector)
    return Refused(status, why)


def take_delivery(
    engine: Engine,
    lock: threading.Lock,
    box: SecretBox | None,
    kind: str,
    connector_id: str,
    request: WebhookRequest,
    now: datetime,
) -> WebhookSummary:
    """Check and apply one delivery (runs in the thread pool); ``Refused`` when it is not."""
    provider = KINDS.get(kind)
    with engine.connect() as conn:
        connector = find_connector(conn, connector_id=connector_id, kind=kind) if provider else None
    if provider is None or connector is None:
        logger.warning("webhook refused (401): no %r connector %r", kind[:16], connector_id[:64])
        raise Refused(401, "unknown connector")
    try:
        secret = unlock_secret(connector, box)
        token = provider.verify(secret, request, now=now)
        parsed = provider.parse(request, now=now)
        with ingest_slot(engine, lock):
            return apply_webhook(engine, connector, parsed, token=token, now=now)
    except SecretKeyChanged as exc:
        if box is None:
            logger.error("SECRET_KEY is not set: no connector can check its webhooks")
            raise _refuse(engine, lock, connector, 401, "connectors are not set up") from None
        logger.error(
            "connector %s (%s, bot %r) needs its secret again (%s): run "
            "`campaign-bot connector set-secret %s`",
            connector.id, connector.kind, connector.bot_id, exc, connector.id,
        )  # fmt: skip
        raise _refuse(
            engine, lock, connector, 401, "the connector needs its secret again"
        ) from None
    except ConnectorSecretError as exc:
        why = f"the connector's secret is unusable: {exc}"
        raise _refuse(engine, lock, connector, 401, why) from None
    except SignatureError as exc:
        raise _refuse(engine, lock, connector, 401, str(exc)) from None
    except WebhookPayloadError as exc:
        raise _refuse(engine, lock, connector, 400, f"malformed webhook: {exc}") from None


@router.post("/{kind}/{connector_id}")
async def post_webhook(
    kind: str,
    connector_id: str,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    box: SecretBoxDep,
    lock: IngestLockDep,
) -> Any:
    """A provider's delivery: 200 ``{"accepted", "duplicates", "ignored", "waiting"}``."""
    body = await read_body(request, MAX_WEBHOOK_BYTES)
    webhook = WebhookRequest(
        body=body,
        headers=request.headers,
        url=public_url(settings, kind, connector_id, request),
    )
    try:
        summary = await run_in_threadpool(
            take_delivery, engine, lock, box, kind, connector_id, webhook, utcnow()
        )
    except Refused as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    return summary.to_json()


def answer_challenge(
    engine: Engine, box: SecretBox | None, connector_id: str, params: dict[str, str]
) -> str:
    """The ``hub.challenge`` to echo, or ``Refused(403)`` (runs in the thread pool)."""
    with engine.connect() as conn:
        connector = find_connector(conn, connector_id=connector_id, kind="whatsapp")
    if connector is None:
        raise Refused(403, "verification failed: unknown connector")
    try:
        verify_token = unlock_secret(connector, box).parts[1]
        return whatsapp.verify_challenge(verify_token, params)
    except (ConnectorSecretError, SignatureError) as exc:
        logger.warning("webhook verification refused: connector %s: %s", connector.id, exc)
        raise Refused(403, "verification failed") from None


@router.get("/whatsapp/{connector_id}", response_class=PlainTextResponse)
async def verify_subscription(
    connector_id: str, request: Request, engine: EngineDep, box: SecretBoxDep
) -> PlainTextResponse:
    """Meta's ``hub.mode=subscribe`` GET: the ``hub.challenge`` when the verify token matches."""
    params = dict(request.query_params)
    try:
        challenge = await run_in_threadpool(answer_challenge, engine, box, connector_id, params)
    except Refused as exc:
        return PlainTextResponse(exc.detail, status_code=exc.status)
    return PlainTextResponse(challenge)
