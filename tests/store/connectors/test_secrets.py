"""Connector secrets at rest: AES-GCM under an HKDF key, key id, context binding, no leaks."""

from __future__ import annotations

import pytest

from store.connectors.secrets import (
    ConnectorSecret,
    ConnectorSecretError,
    SecretBox,
    SecretCorrupted,
    SecretKeyChanged,
    token_key_id,
)

SECRET_KEY = "k3y-for-tests-0123456789abcdef0123456789abcdef"
APP_SECRET = "6a1f0c2e9b7d4e8fa3c5b1d0e2f4a6c8"
VERIFY_TOKEN = "meatyhamhock"
CONTEXT = "whatsapp:cn_7Hq2"


def whatsapp_secret() -> ConnectorSecret:
    return ConnectorSecret(APP_SECRET, VERIFY_TOKEN)


def test_round_trip_keeps_every_part_in_order() -> None:
    box = SecretBox(SECRET_KEY)
    stored = box.encrypt(whatsapp_secret(), context=CONTEXT)
    restored = box.decrypt(stored, context=CONTEXT)
    assert restored.parts == (APP_SECRET, VERIFY_TOKEN)
    assert restored.primary == APP_SECRET


def test_stored_form_names_the_key_and_hides_the_secret() -> None:
    box = SecretBox(SECRET_KEY)
    stored = box.encrypt(whatsapp_secret(), context=CONTEXT)
    version, key_id, payload = stored.split(".")
    assert (version, key_id) == ("v1", box.key_id)
    assert token_key_id(stored) == box.key_id
    assert APP_SECRET not in stored and VERIFY_TOKEN not in stored
    assert payload.isascii()


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox(SECRET_KEY)
    assert box.encrypt(whatsapp_secret(), context=CONTEXT) != box.encrypt(
        whatsapp_secret(), context=CONTEXT
    )


def test_key_id_depends_on_secret_key_only() -> None:
    assert SecretBox(SECRET_KEY).key_id == SecretBox(SECRET_KEY).key_id
    assert SecretBox(SECRET_KEY).key_id != SecretBox(SECRET_KEY + "x").key_id
    assert len(SecretBox(SECRET_KEY).key_id) == 16


def test_rotated_secret_key_is_told_apart() -> None:
    stored = SecretBox(SECRET_KEY).encrypt(whatsapp_secret(), context=CONTEXT)
    with pytest.raises(SecretKeyChanged) as err:
        SecretBox("a-brand-new-secret-key-after-rotation").decrypt(stored, context=CONTEXT)
    assert "another SECRET_KEY" in str(err.value)
    assert SECRET_KEY not in str(err.value) and APP_SECRET not in str(err.value)


def test_ciphertext_moved_to_another_connector_fails() -> None:
    box = SecretBox(SECRET_KEY)
    stored = box.encrypt(whatsapp_secret(), context=CONTEXT)
    with pytest.raises(SecretCorrupted, match="another connector"):
        box.decrypt(stored, context="whatsapp:cn_other")


def test_altered_ciphertext_fails() -> None:
    box = SecretBox(SECRET_KEY)
    stored = box.encrypt(whatsapp_secret(), context=CONTEXT)
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(SecretCorrupted):
        box.decrypt(flipped, context=CONTEXT)


@pytest.mark.parametrize(
    "stored",
    ["", "plaintext-token", "v2.0123456789abcdef.AAAA", "v1.short.AAAA", "v1.0123456789abcdef"],
)
def test_malformed_stored_values_fail_cleanly(stored: str) -> None:
    with pytest.raises(SecretCorrupted):
        SecretBox(SECRET_KEY).decrypt(stored, context=CONTEXT)


def test_truncated_or_non_base64_payload_fails_cleanly() -> None:
    box = SecretBox(SECRET_KEY)
    with pytest.raises(SecretCorrupted, match="truncated"):
        box.decrypt(f"v1.{box.key_id}.AAAA", context=CONTEXT)
    with pytest.raises(SecretCorrupted, match="base64"):
        box.decrypt(f"v1.{box.key_id}.A", context=CONTEXT)


def test_errors_share_a_base_class() -> None:
    assert issubclass(SecretKeyChanged, ConnectorSecretError)
    assert issubclass(SecretCorrupted, ConnectorSecretError)


def test_reprs_never_show_values() -> None:
    secret = whatsapp_secret()
    box = SecretBox(SECRET_KEY)
    for text in (repr(secret), str(secret), repr(box), f"{secret}", repr([secret])):
        assert APP_SECRET not in text and VERIFY_TOKEN not in text and SECRET_KEY not in text
    assert repr(secret) == "ConnectorSecret(<2 hidden>)"


@pytest.mark.parametrize("parts", [(), ("",), ("ok", "   "), ("x" * 4097,)])
def test_empty_or_absurd_parts_are_refused_without_echoing_them(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as err:
        ConnectorSecret(*parts)
    assert "x" * 50 not in str(err.value)


def test_parts_are_stripped_and_serialized_as_a_json_array() -> None:
    secret = ConnectorSecret("  auth-token \n")
    assert secret.parts == ("auth-token",)
    assert secret.to_bytes() == b'["auth-token"]'
    assert ConnectorSecret.from_bytes(secret.to_bytes()) == secret


@pytest.mark.parametrize("raw", [b"not json", b'{"a": 1}', b"[1]", b"[]"])
def test_unexpected_plaintext_is_corrupted(raw: bytes) -> None:
    with pytest.raises(SecretCorrupted):
        ConnectorSecret.from_bytes(raw)


def test_empty_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        SecretBox("")
