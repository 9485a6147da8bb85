"""``db rebuild-rollups``: recount impressions and reach for DELIVERY_REPORTING_CHANNELS.

Beside ``db upgrade`` (``data``) in the ``db`` group; its own module because it is the one
command that changes what the rollups count (``store.ingest.reporting`` says why).
"""

from __future__ import annotations

from bot.cli.common import CliError, errors, out, settings
from store.db import create_db_engine, is_sqlite, is_up_to_date, upgrade_database
from store.ingest.reporting import format_channels
from store.models import utcnow
from store.rollups import rebuild_rollups


def db_rebuild_rollups() -> None:
    """Recount every flow's impressions and reach for DELIVERY_REPORTING_CHANNELS."""
    with errors():
        config = settings()
        engine = create_db_engine(config.DATABASE_URL)
        if is_sqlite(engine):
            upgrade_database(engine)
        elif not is_up_to_date(engine):
            raise CliError("the database schema is not up to date; run `campaign-bot db upgrade`")
        wanted = frozenset(config.DELIVERY_REPORTING_CHANNELS)
        done = rebuild_rollups(engine, wanted, now=utcnow())
        before = format_channels(done.before) or "(none)"
        after = format_channels(done.after) or "(none)"
        out.print(
            f"Rollups rebuilt over {done.messages:,} messages: delivery-reporting channels "
            f"{before} → {after}.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
