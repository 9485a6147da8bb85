"""The server's log as a test reads it: every record, and the ones an operator is paged for.

uvicorn's loggers do not propagate to the root, so the handler goes on them too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Records(logging.Handler):
    """Every log record of the server while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problems(self) -> list[str]:
        """Errors and tracebacks: what an operator would be paged for."""
        return [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]

    def wait_for(self, text: str, timeout: float = 10.0) -> bool:
        """Wait until a record holds ``text``; False if none did within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in r.getMessage() for r in self.records):
                return True
            time.sleep(0.02)
        return False


@contextmanager
def server_log() -> Iterator[Records]:
    """Collect the log (the app's info lines included) while the block runs."""
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error")]
    app_logger = logging.getLogger("campaign_report")
    level = app_logger.level
    app_logger.setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        app_logger.setLevel(level)
