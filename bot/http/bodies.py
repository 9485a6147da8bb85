"""Reading request bodies: the media type checked, the size capped and the time bounded while
reading, a client that goes away mid-body noted without a traceback."""

from __future__ import annotations

import asyncio
import logging

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

API_BODY_TIMEOUT_S = 60.0  # a 10 MB batch over a slow link; a stalled one is cut off
logger = logging.getLogger("campaign_report.http")


class ClientGone(Exception):
    """The client disconnected before sending the whole body; there is no one to answer."""


def media_type(request: Request, allowed: tuple[str, ...]) -> str:
    """The request's media type when it is one of ``allowed``; 415 otherwise."""
    found = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if found not in allowed:
        shown = found or "none"
        raise HTTPException(
            415, f"Content-Type {shown!r} is not accepted; use {' or '.join(allowed)}"
        )
    return found


async def read_body(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (whatever it declares)
    and with 408 when it has not all arrived within ``timeout`` seconds (default
    ``API_BODY_TIMEOUT_S``).

    Raises ``ClientGone`` when the client disconnects first.
    """
    if timeout is None:
        timeout = API_BODY_TIMEOUT_S
    too_large = HTTPException(413, f"request body is larger than {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(408, f"the request body did not arrive within {timeout:g} s") from None
    except ClientDisconnect:
        logger.info(
            "%s %s: the client disconnected before sending the whole body (%d bytes read)",
            request.method,
            request.url.path,
            size,
        )
        raise ClientGone() from None
    return b"".join(chunks)
