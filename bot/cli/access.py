"""``workspace grant`` and ``api-key create``: who may see and who may write which bot."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli.common import CliError, engine_for, errors, out, say, settings
from store.api_keys import create_api_key
from store.grants import grant_workspace


def workspace_grant(
    team_id: Annotated[str, typer.Argument(help="Slack team id, e.g. T0123ABCD.")],
    bot_id: Annotated[str, typer.Argument(help="The bot whose flows the workspace may see.")],
) -> None:
    """Let a Slack workspace see one bot's flows."""
    with errors():
        grant_workspace(engine_for(settings()), team_id, bot_id)
        out.print(f"Workspace {team_id} can see bot {bot_id}.", highlight=False)


def api_key_create(
    bot_id: Annotated[str, typer.Argument(help="The bot the key may push events for.")],
) -> None:
    """Create an API key for one bot; it is printed once, on stdout, and stored hashed."""
    with errors():
        try:
            created = create_api_key(engine_for(settings()), bot_id)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        sys.stdout.write(created.token + "\n")
        new = " (new bot)" if created.bot_created else ""
        say(
            f"API key {created.prefix}… for bot {created.bot_id!r}{new}. It is shown only "
            "this once: store it now. Send it as 'Authorization: Bearer <key>'."
        )
