"""Settings that look set but are not usable stop start-up with a message naming them
(issue 10, #17), and never echo a secret."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

BAD = [
    ("SLACK_SIGNING_SECRET", "   ", "only whitespace"),
    ("SLACK_SIGNING_SECRET", " abc123 ", "leading or trailing whitespace"),
    ("SLACK_BOT_TOKEN", "\t", "only whitespace"),
    ("SLACK_BOT_TOKEN", "xoxb-1 ", "leading or trailing whitespace"),
    ("SLACK_APP_TOKEN", "  ", "only whitespace"),
    ("SECRET_KEY", "    ", "only whitespace"),
    ("SMTP_PASSWORD", " ", "only whitespace"),
    ("PUBLIC_BASE_URL", "http://", "with a host"),
    ("PUBLIC_BASE_URL", "https://", "with a host"),
    ("PUBLIC_BASE_URL", "http:///reports", "with a host"),
    ("PUBLIC_BASE_URL", "reports.example.com", "http(s) URL"),
    ("PUBLIC_BASE_URL", "http://reports.example.com:99999", "port"),
    ("PUBLIC_BASE_URL", "https://reports.example.com/?a=1", "query"),
    ("PUBLIC_BASE_URL", "https://reports example.com", "whitespace"),
    ("SLACK_API_URL", "https://", "with a host"),
    ("MAX_ATTACHMENT_MB", "inf", "finite"),
    ("MAX_ATTACHMENT_MB", "nan", "finite"),
    ("MAX_ATTACHMENT_MB", "0", "greater than 0"),
    ("MAX_ATTACHMENT_MB", "1e9", "less than or equal to 1024"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "reason"), BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_an_unusable_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    message = str(refused.value)
    assert f"{name}: " in message and reason in message, message
    if "SECRET" in name or "TOKEN" in name or "PASSWORD" in name:
        assert value.strip() not in message or not value.strip()


GOOD = [
    ("SLACK_SIGNING_SECRET", "", None),  # empty, as in .env.example: not set
    ("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5", "8f742231b10e8888abcd99yyyzzz85a5"),
    ("SMTP_PASSWORD", "pass phrase with spaces", "pass phrase with spaces"),
    ("PUBLIC_BASE_URL", "https://reports.example.com/campaigns", "https://reports.example.com/campaigns"),
    ("PUBLIC_BASE_URL", "http://[::1]:8000", "http://[::1]:8000"),
    ("SLACK_API_URL", "http://127.0.0.1:3001/api/", "http://127.0.0.1:3001/api/"),
    ("MAX_ATTACHMENT_MB", "2.5", 2.5),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "kept"), GOOD, ids=[f"{n}={v!r}" for n, v, _ in GOOD])
def test_usable_settings_are_kept(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, kept: object
) -> None:
    monkeypatch.setenv(name, value)
    setting = getattr(load_settings(_env_file=None), name)
    if hasattr(setting, "get_secret_value"):
        setting = setting.get_secret_value()
    assert setting == kept
