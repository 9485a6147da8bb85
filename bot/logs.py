"""Logging of ``serve`` and ``scheduler``: text by default, one JSON object per line with
``--log-format json`` (for log shippers), and no secret ever written.

The standard library rather than structlog: every library here — uvicorn, APScheduler,
slack_sdk, aiosmtplib, SQLAlchemy — logs through ``logging``, so one formatter on the root
handler turns all of their lines and ours into JSON, with no processor chain, no bridge to
configure and no new dependency. Structured fields travel the standard way, as
``extra={"event": "delivery", "outcome": "sent", ...}`` (see ``scheduler.outbox`` and
``scheduler.threaded``); the text format appends them as ``key=value``.

Secrets: the values of every secret setting (tokens, signing secret, SMTP password,
``SECRET_KEY``, the database password) are replaced by ``[redacted]`` in every message,
field and traceback before anything is formatted, whoever logged it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

import sqlalchemy as sa
from pydantic import SecretStr

from bot.settings import Settings

REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter values would redact ordinary words
# Attributes every LogRecord has; anything else on a record is a structured field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_HANDLER_NAME = "campaign-report"


class LogFormat(StrEnum):
    """``--log-format``: ``text`` for people, ``json`` for log pipelines."""

    text = "text"
    json = "json"


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record carries (its ``extra``)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class Redactor(logging.Filter):
    """Replaces secret values in a record's message, fields and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        found = {s for s in secrets if s and len(s) >= MIN_SECRET}
        self.secrets = sorted(found, key=len, reverse=True)  # a longer one may contain another

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message now, redacted (the arguments go), and redact the rest."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in fields_of(record).items():
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data |= fields_of(record)
        if record.exc_info or record.exc_text:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-27 09:00:00,123 INFO campaign_report.outbox: delivery 3 sent … key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, then the structured fields that have a value."""
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in fields_of(record).items() if v is not None)
        if not extra:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {extra}{newline}{rest}"


def secrets_of(settings: Settings) -> list[str]:
    """The values of every secret setting, and the password in ``DATABASE_URL``."""
    values = [
        value.get_secret_value()
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
    ]
    try:
        password = sa.engine.make_url(settings.DATABASE_URL).password
    except sa.exc.ArgumentError:
        password = None
    if password:
        values.append(str(password))
    return values


def configure_logging(
    log_format: LogFormat | str,
    secrets: Iterable[str] = (),
    *,
    level: int = logging.INFO,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every logger's lines to ``stream`` (stderr) in ``log_format``; returns the handler.

    Called again, it replaces its own handler (tests call it more than once).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(Redactor(secrets))
    handler.setFormatter(
        JsonFormatter() if LogFormat(log_format) is LogFormat.json else TextFormatter()
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler's two lines per run ("Running job", "executed successfully") give way to
    # the one line per job run of scheduler.threaded.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    return handler
