"""A TCP proxy on loopback that hangs up on the first connections: a flaky network.

Put it in front of the Slack stand-in to see that dropped connections are retried.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FlakyProxy:
    """Closes the first ``drop`` connections at once; forwards later ones to ``target``."""

    def __init__(self, target_port: int, drop: int) -> None:
        self.target_port = target_port
        self.drop = drop
        self.connections = 0
        self.port = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: hang up, or relay both ways."""
        self.connections += 1
        if self.connections <= self.drop:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


@contextmanager
def run_flaky_proxy(target_port: int, drop: int = 1) -> Iterator[FlakyProxy]:
    """Run the proxy on an ephemeral loopback port in a thread for the block."""
    proxy = FlakyProxy(target_port, drop)
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def start() -> asyncio.Server:
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        server.close()
        relays = asyncio.all_tasks(loop)
        for task in relays:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*relays, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the proxy did not start")
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
