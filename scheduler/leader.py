"""Leader election: only one process per database runs the scheduler and the outbox.

On PostgreSQL the leader holds a session-level advisory lock on a connection it keeps open;
when the process dies its connection closes, the server releases the lock, and a standby
polling ``pg_try_advisory_lock`` takes over. SQLite databases are files on one host, so
there the lock is an exclusive ``flock`` on a file beside the database, which the kernel
releases when its holder dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger("campaign_report.leader")
# An arbitrary constant shared by every replica: "campaign-report scheduler".
ADVISORY_LOCK_KEY = 0x43524253


class LeaderLock:
    """A non-blocking, process-lifetime lock electing the scheduler's process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        """True while this process is the leader."""
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Become the leader if nobody is; True when this process holds the lock."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            return self._try_advisory()
        return self._try_flock()

    def _try_advisory(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _lock_path(self) -> Path:
        database = self.engine.url.database or ""
        if not database or database == ":memory:":
            return Path(f"/tmp/campaign-report-scheduler-{os.getuid()}.lock")  # noqa: S108
        return Path(database).expanduser().with_name(Path(database).name + ".scheduler.lock")

    def _try_flock(self) -> bool:
        handle = self._lock_path().open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """False when the leader's lock connection has gone (the lock went with it)."""
        if self._conn is None:
            return self._file is not None
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except Exception:
            logger.exception("lost the connection holding the scheduler lock")
            self._conn = None
            return False
        return True

    def release(self) -> None:
        """Give up leadership."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            finally:
                conn.close()
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
