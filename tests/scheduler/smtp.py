"""A real SMTP server (aiosmtpd) on loopback that keeps what it accepts and can misbehave."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """The aiosmtpd handler: accepted messages, refusals to make, a hook before accepting."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # the client's address, per message
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." reply
    defer_data: int = 0  # answer the next N DATA commands with 451
    before_accept: Any = None  # callable(session) -> bool: False drops the message
    _changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        """Refuse the addresses in ``refuse``."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (or defer it with 451)."""
        if self.defer_data > 0:
            self.defer_data -= 1
            return "451 Try again later"
        if self.before_accept is not None and not await self.before_accept(session):
            return "451 Connection lost"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.peers.append(session.peer)
            self._changed.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """Block until ``count`` messages arrived."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            return list(self.messages)


@contextmanager
def smtp_server(
    port: int | None = None, mailbox: Mailbox | None = None, **options: Any
) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1:``port`` for the duration of the block (``options``: TLS, auth)."""
    box = mailbox or Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()
