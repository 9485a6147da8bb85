"""Slack's Socket Mode side of the stand-in: a WebSocket server on loopback (aiohttp).

``apps.connections.open`` on the Web API stand-in hands out this server's URL. The test
pushes envelopes (``slash_commands``, ``interactive``) to the connected app and reads the
app's acknowledgements back, as Slack would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    """A one-connection Socket Mode server that records the app's acks."""

    def __init__(self) -> None:
        self.url = ""
        self.acks: list[dict[str, Any]] = []
        self._ws: web.WebSocketResponse | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = threading.Condition()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        with self._changed:
            self._ws = ws
            self._changed.notify_all()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                with self._changed:
                    self.acks.append(json.loads(message.data))
                    self._changed.notify_all()
        return ws

    def wait_connected(self, timeout: float = 20.0) -> None:
        """Block until the app has opened its WebSocket."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._ws is not None, timeout=timeout):
                raise AssertionError("the app never connected over Socket Mode")

    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Push an envelope of ``kind`` to the app; return its ack (with any ack payload)."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        assert self._ws is not None and self._loop is not None
        asyncio.run_coroutine_threadsafe(self._ws.send_json(envelope), self._loop).result(timeout)

        def acked() -> bool:
            return any(a.get("envelope_id") == envelope_id for a in self.acks)

        with self._changed:
            if not self._changed.wait_for(acked, timeout=timeout):
                raise AssertionError(f"no ack for the {kind} envelope")
            return next(a for a in self.acks if a.get("envelope_id") == envelope_id)


@contextmanager
def run_socket_mode_server() -> Iterator[FakeSocketMode]:
    """Serve the Socket Mode stand-in on an ephemeral loopback port in a thread."""
    fake = FakeSocketMode()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/link", fake._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        fake.url = f"ws://127.0.0.1:{port}/link"
        fake._loop = asyncio.get_running_loop()
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the Socket Mode stand-in did not start")
    try:
        yield fake
    finally:
        assert fake._loop is not None and stop is not None
        fake._loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
