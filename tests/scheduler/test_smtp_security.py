"""SMTP_SECURITY starttls and tls with a login, against aiosmtpd with a test CA (trustme)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from reports.content import ReportContent
from scheduler.delivery.base import Outgoing
from scheduler.delivery.email import EmailChannel, SmtpConfig
from tests.reports.test_pdf import make_report
from tests.scheduler.smtp import smtp_server

# aiosmtpd warns when AUTH does not require STARTTLS; with implicit TLS the link is encrypted.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CONTENT = ReportContent(
    request_id=7,
    report=make_report("Diwali offers\r\nBcc: victim@evil.example"),
    generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
    zone=ZoneInfo("UTC"),
)


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"reports", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throw-away certificate authority."""
    return trustme.CA()


def _contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_with_login(ca: trustme.CA, security: str) -> None:
    server_tls, client_tls = _contexts(ca)
    options: dict[str, Any] = {"authenticator": _authenticate, "auth_required": True}
    if security == "tls":
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the start.
        options |= {"ssl_context": server_tls, "auth_require_tls": False}
    else:
        options |= {"tls_context": server_tls, "require_starttls": True}
    with smtp_server(**options) as box:
        channel = EmailChannel(
            SmtpConfig(
                "127.0.0.1",
                box.port,
                security,
                "reports",
                "s3cret",
                "Reports <reports@acme.example>",
                client_tls,
                internal_domains=("acme.example",),
            )
        )
        for n in (1, 2):
            await channel.send(Outgoing(n, "email", f"ops{n}@acme.example", CONTENT))
        await channel.close()
        first, second = box.wait_for(2)
    # The subject's CR/LF was removed: no Bcc header was injected.
    assert first["Subject"].startswith("[Campaign report] Diwali offers  Bcc: victim@evil.example")
    assert first["Bcc"] is None
    assert [to for _, [to] in box.envelopes] == ["ops1@acme.example", "ops2@acme.example"]
    assert box.peers[0] == box.peers[1]  # one connection for the batch
    assert first["Message-ID"] == "<report-7.delivery-1@acme.example>"
    assert second["Message-ID"] == "<report-7.delivery-2@acme.example>"
