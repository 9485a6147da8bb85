"""Connector secrets at rest: AES-256-GCM under a key derived from SECRET_KEY by HKDF-SHA256.

Why AES-GCM rather than Fernet: GCM authenticates *associated data*, so each ciphertext is
bound to the connector it belongs to (the caller passes e.g. ``"twilio:<connector id>"`` as
``context``): a ciphertext copied onto another connector's row fails to decrypt instead of
handing that connector someone else's token. It also takes the full 256-bit derived key
(Fernet splits 256 bits into AES-128 + HMAC) and needs no timestamp. A random 96-bit nonce
is safe here: a key encrypts one secret per ``connector add``, far below GCM's nonce budget.

Stored form (ASCII, one column): ``v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. The
key id is a separate 64-bit HKDF output of SECRET_KEY (another ``info``), so it reveals
nothing about the encryption key; it lets ``decrypt`` tell "encrypted under another
SECRET_KEY" (``SecretKeyChanged``: ask for that connector's secret again) from a damaged or
misplaced value (``SecretCorrupted``). Guessing a weak SECRET_KEY is as easy with the key id
as with the GCM tag itself, so it adds no exposure: SECRET_KEY must be long and random.

Multi-part secrets (WhatsApp: app secret, then verify token) are one ``ConnectorSecret``
serialized as a JSON array of strings before encryption. Secret values never appear in a
repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = "v1"
_SALT = b"campaign-report-bot/connectors"
_ENCRYPTION_INFO = b"connector secret encryption v1"
_KEY_ID_INFO = b"connector secret key id v1"
_NONCE_BYTES = 12
_MAX_PART_CHARS = 4096


class ConnectorSecretError(Exception):
    """A stored connector secret cannot be used (never says what the secret is)."""


class SecretKeyChanged(ConnectorSecretError):
    """The secret was encrypted under another SECRET_KEY: enter the provider's secret again."""


class SecretCorrupted(ConnectorSecretError):
    """The stored value is malformed, was altered, or belongs to another connector."""


class ConnectorSecret:
    """One connector's secret: one or more text parts (WhatsApp has two), hidden in reprs."""

    __slots__ = ("_parts",)

    def __init__(self, *parts: str) -> None:
        if not parts:
            raise ValueError("a connector secret needs at least one part")
        for index, part in enumerate(parts, start=1):
            if not isinstance(part, str) or not part.strip():
                raise ValueError(f"secret part {index} is empty")
            if len(part) > _MAX_PART_CHARS:
                raise ValueError(f"secret part {index} is longer than {_MAX_PART_CHARS} chars")
        self._parts = tuple(part.strip() for part in parts)

    @property
    def parts(self) -> tuple[str, ...]:
        """The secret values in prompt order."""
        return self._parts

    @property
    def primary(self) -> str:
        """The value that verifies signatures (the first prompt's answer)."""
        return self._parts[0]

    def to_bytes(self) -> bytes:
        """The serialization that gets encrypted: a JSON array of strings."""
        return json.dumps(list(self._parts), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ConnectorSecret:
        """Inverse of ``to_bytes``; raises ``SecretCorrupted`` on anything else."""
        try:
            parts = json.loads(data)
        except ValueError:
            raise SecretCorrupted("decrypted secret is not in the expected format") from None
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise SecretCorrupted("decrypted secret is not in the expected format")
        try:
            return cls(*parts)
        except ValueError:
            raise SecretCorrupted("decrypted secret is not in the expected format") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectorSecret) and self._parts == other._parts

    def __hash__(self) -> int:
        return hash(self._parts)

    def __repr__(self) -> str:
        return f"ConnectorSecret(<{len(self._parts)} hidden>)"

    __str__ = __repr__


def _hkdf(secret_key: str, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=info).derive(
        secret_key.encode()
    )


class SecretBox:
    """Encrypts and decrypts connector secrets under one SECRET_KEY (derived once)."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("SECRET_KEY is empty")
        self._aead = AESGCM(_hkdf(secret_key, _ENCRYPTION_INFO, 32))
        self.key_id = _hkdf(secret_key, _KEY_ID_INFO, 8).hex()

    def encrypt(self, secret: ConnectorSecret, *, context: str) -> str:
        """The stored form of ``secret``, bound to ``context`` (kind and connector id)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.to_bytes(), context.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT_VERSION}.{self.key_id}.{payload}"

    def decrypt(self, token: str, *, context: str) -> ConnectorSecret:
        """The secret back; ``SecretKeyChanged`` or ``SecretCorrupted`` when it cannot be."""
        _, token_key, payload = _split(token)
        if token_key != self.key_id:
            raise SecretKeyChanged(
                f"encrypted with another SECRET_KEY (key id {token_key}, current {self.key_id})"
            )
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise SecretCorrupted("stored secret is not valid base64") from None
        if len(raw) <= _NONCE_BYTES + 16:
            raise SecretCorrupted("stored secret is truncated")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise SecretCorrupted(
                "stored secret was altered or belongs to another connector"
            ) from None
        return ConnectorSecret.from_bytes(plain)

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"


def token_key_id(token: str) -> str:
    """The key id a stored secret was encrypted under (no decryption, no SECRET_KEY needed)."""
    return _split(token)[1]


def _split(token: str) -> tuple[str, str, str]:
    pieces = token.split(".") if isinstance(token, str) else []
    if len(pieces) != 3 or pieces[0] != FORMAT_VERSION or len(pieces[1]) != 16:
        raise SecretCorrupted("stored secret is not in the v1 format")
    return pieces[0], pieces[1], pieces[2]
