"""Reading request bodies: the media type checked, the size capped while reading."""

from __future__ import annotations

from fastapi import HTTPException, Request


def media_type(request: Request, allowed: tuple[str, ...]) -> str:
    """The request's media type when it is one of ``allowed``; 415 otherwise."""
    found = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if found not in allowed:
        shown = found or "none"
        raise HTTPException(
            415, f"Content-Type {shown!r} is not accepted; use {' or '.join(allowed)}"
        )
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (whatever it declares)."""
    too_large = HTTPException(413, f"request body is larger than {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
