"""What every command shares: one-line errors on stderr, the settings, the store's engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from bot.logs import LogFormat
from bot.settings import Settings, SettingsError, load_settings
from reports.access import UnknownChannel
from reports.flows import FlowLookupError
from store.db import (
    DatabaseUrlError,
    create_db_engine,
    describe_open_error,
    is_sqlite,
    is_up_to_date,
    sqlite_file,
    upgrade_database,
)
from store.events import EventError
from store.grants import GrantError
from store.models import utcnow
from store.rollups import RollupsOutOfDate, check_delivery_channels

out = Console()
err = Console(stderr=True)


class CliError(Exception):
    """A failure to report as one line on stderr."""


def say(message: str) -> None:
    """One plain line on stderr: no markup, no wrapping (scripts read it)."""
    err.print(message, markup=False, highlight=False, soft_wrap=True)


EXPECTED = (
    CliError,
    SettingsError,
    FlowLookupError,
    EventError,
    DatabaseUrlError,
    GrantError,
    UnknownChannel,
    RollupsOutOfDate,
)


@contextmanager
def errors() -> Iterator[None]:
    """Turn every expected failure into ``error: <one line>`` on stderr and exit status 1."""
    try:
        yield
    except EXPECTED as exc:
        message = str(exc)
    except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
        message = f"the store refused a value: {str(exc.orig).splitlines()[0]}"
    except sa.exc.OperationalError as exc:
        message = f"database unavailable: {str(exc.orig).splitlines()[0]}"
    else:
        return
    say(f"error: {message}")
    raise typer.Exit(1)


def settings() -> Settings:
    """The settings, read once per command."""
    return load_settings()


def engine_for(settings: Settings, *, upgrade: bool = True, create: bool = True) -> Engine:
    """The store's engine; a SQLite store is brought to the newest schema by itself.

    Commands that only read pass ``create=False``: a SQLite path with no file there is then
    an error, not a new empty store. A ``DATABASE_URL`` that cannot be opened (a file that is
    not SQLite, a server that refuses) is one ``DATABASE_URL: …`` line.
    """
    if not create:
        path = sqlite_file(settings.DATABASE_URL)
        if path is not None and not path.exists():
            raise CliError(f"no store at {path} (run `campaign-bot demo` or `import`)")
    engine = create_db_engine(settings.DATABASE_URL)
    try:
        if is_sqlite(engine) and upgrade:
            upgrade_database(engine)
        elif not is_up_to_date(engine):
            raise CliError("the database schema is not up to date; run `campaign-bot db upgrade`")
    except sa.exc.DBAPIError as exc:
        raise CliError(f"DATABASE_URL: {describe_open_error(engine, exc)}") from None
    check_delivery_channels(engine, frozenset(settings.DELIVERY_REPORTING_CHANNELS), now=utcnow())
    return engine


def show_version(value: bool) -> None:
    """``--version``: the installed package's version, then exit."""
    if value:
        typer.echo(f"campaign-bot {version('campaign-report-bot')}")
        raise typer.Exit()


LogFormatOption = Annotated[
    LogFormat, typer.Option(help="text, or json: one JSON object per line.")
]
