"""Settings (DESIGN.md contract names), read once at start from the environment and ``.env``.

Commands that only read the store (``kpis``, ``export``, ``import``…) need nothing but
``DATABASE_URL``; Slack and SMTP settings are checked by the commands that use them
(``Settings.require``), so a missing token is reported by name where it matters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL
from store.vocabulary import normalize_source


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip().lower() for item in value.split(",") if item.strip()]
    return value


SLACK_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
SECRETS = (*SLACK_SECRETS, "SMTP_PASSWORD", "SECRET_KEY")


def _url_problem(value: str) -> str | None:
    """Why ``value`` is not an http(s) base URL with a host (links and API calls need one)."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        return f"expected an http(s) URL with a valid port ({exc})"
    if parts.scheme not in ("http", "https"):
        return "expected an http(s) URL such as https://reports.example.com"
    if not parts.hostname:
        return "expected an http(s) URL with a host, such as https://reports.example.com"
    if any(c.isspace() for c in value):
        return "expected a URL without whitespace"
    if parts.query or parts.fragment:
        return "expected a base URL without a query or fragment"
    return None


class Settings(BaseSettings):
    """Every setting of the app; see ``.env.example`` for what each one does."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    DATABASE_URL: str = DEFAULT_DATABASE_URL
    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = "https://slack.com/api/"
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = Field(default=25, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_SECURITY: Literal["none", "starttls", "tls"] = "none"
    MAIL_FROM: str = "Campaign reports <reports@localhost>"
    INTERNAL_EMAIL_DOMAINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    ALLOWED_EMAIL_DOMAINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    PUBLIC_BASE_URL: str = "http://localhost:8000"
    REPORTS_DIR: Path = Path("./var/reports")
    REPORT_TIMEZONE: str = "UTC"
    REPORT_PAGE_SIZE: Literal["A4", "Letter"] = "A4"
    REPORT_LINK_TTL: int = Field(default=7 * 24 * 3600, gt=0, description="seconds")
    REPORT_RETENTION_DAYS: int = Field(default=30, gt=0)
    MAX_ATTACHMENT_MB: float = Field(default=10, gt=0, le=1024, allow_inf_nan=False)
    SECRET_KEY: SecretStr | None = None
    DELIVERY_REPORTING_CHANNELS: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["whatsapp"]
    )
    ALERT_INTERVAL: int = Field(default=300, gt=0, le=86400, description="seconds")

    _split = field_validator("INTERNAL_EMAIL_DOMAINS", "ALLOWED_EMAIL_DOMAINS", mode="before")(
        _split_list
    )

    @field_validator(*SECRETS, mode="before")
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        # Empty (as in .env.example) is unset; blank is a mistake that would sign or log in
        # with spaces. Slack's tokens and secrets never hold spaces, so a pasted one with a
        # space or newline at an end is refused too. The value is never echoed.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        if not value.strip():
            raise ValueError("is only whitespace; leave it empty to unset it")
        if info.field_name in SLACK_SECRETS and value != value.strip():
            raise ValueError("has leading or trailing whitespace")
        return value

    @field_validator("DELIVERY_REPORTING_CHANNELS", mode="before")
    @classmethod
    def _delivery_channels(cls, value: object) -> object:
        channels = _split_list(value)
        if isinstance(channels, list):
            return sorted({normalize_source(str(channel)) for channel in channels})
        return channels

    @field_validator("REPORT_TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Kolkata"
            ) from None
        return value

    @field_validator("REPORT_PAGE_SIZE", mode="before")
    @classmethod
    def _page_size(cls, value: object) -> object:
        # People write "letter" or "a4" in .env files; accept any case.
        if isinstance(value, str):
            return {"a4": "A4", "letter": "Letter"}.get(value.strip().lower(), value)
        return value

    @field_validator("SLACK_API_URL", "PUBLIC_BASE_URL")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = _url_problem(value)
        if problem:
            raise ValueError(f"{problem}, got {value!r}")
        return value

    @property
    def report_zone(self) -> ZoneInfo:
        """``REPORT_TIMEZONE`` as a ``ZoneInfo``."""
        return ZoneInfo(self.REPORT_TIMEZONE)

    def require(self, *names: str) -> None:
        """Raise ``SettingsError`` naming every one of ``names`` that is unset."""
        missing = [name for name in names if not _is_set(getattr(self, name))]
        if missing:
            raise SettingsError(f"missing setting(s): {', '.join(missing)} (see .env.example)")


def _is_set(value: object) -> bool:
    """False for None and for empty text, secret or not (``SLACK_SIGNING_SECRET=`` is unset)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value not in (None, "")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one message per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("bad setting(s): " + "; ".join(problems)) from None
