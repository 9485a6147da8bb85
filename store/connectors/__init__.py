"""Provider webhook connectors (DESIGN.md, Connectors): the registry of kinds.

Each kind pairs a verifier and a pure mapping with what ``connector add`` needs: the secret
prompts (in the order the parts are read from standard input) and the channels it reports
(what to add to DELIVERY_REPORTING_CHANNELS to see delivered/read). A route does, in order:
``connector.verify(secret, request, now=...)`` on the raw request (Mailgun returns a replay
token to refuse if seen before), then ``connector.parse(request, now=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

from store.connectors import mailgun, sendgrid, twilio, whatsapp
from store.connectors.base import ParsedWebhook, WebhookRequest
from store.connectors.secrets import ConnectorSecret


@dataclass(frozen=True)
class Connector:
    """One provider kind: how to check its webhooks, map them, and ask for its secret."""

    kind: str
    module: ModuleType
    sources: tuple[str, ...]
    secret_prompts: tuple[str, ...]

    def verify(
        self, secret: ConnectorSecret, request: WebhookRequest, *, now: datetime
    ) -> str | None:
        """Raise ``SignatureError`` unless genuine; return a replay token to record, if any."""
        result: str | None = self.module.verify(secret.primary, request, now=now)
        return result

    def parse(self, request: WebhookRequest, *, now: datetime) -> ParsedWebhook:
        """Map a verified webhook to updates (``WebhookPayloadError`` when malformed)."""
        parsed: ParsedWebhook = self.module.parse(request, now=now)
        return parsed

    def check_secret(self, secret: ConnectorSecret) -> None:
        """Refuse, with a ValueError that never quotes it, a secret this kind cannot use."""
        if len(secret.parts) != len(self.secret_prompts):
            raise ValueError(
                f"{self.kind} needs {len(self.secret_prompts)} secret value(s): "
                + ", then ".join(self.secret_prompts)
            )
        checker: Callable[[str], None] | None = getattr(self.module, "check_secret", None)
        if checker is not None:
            checker(secret.primary)


KINDS: dict[str, Connector] = {
    "whatsapp": Connector("whatsapp", whatsapp, ("whatsapp",), ("app secret", "verify token")),
    "twilio": Connector("twilio", twilio, ("sms", "whatsapp"), ("auth token",)),
    "sendgrid": Connector("sendgrid", sendgrid, ("email",), ("verification public key (base64)",)),
    "mailgun": Connector("mailgun", mailgun, ("email",), ("webhook signing key",)),
}

__all__ = ["KINDS", "Connector"]
