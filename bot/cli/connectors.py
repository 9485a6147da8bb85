"""``connector add|list|remove|set-secret``: provider webhooks into a bot's store.

A secret is read from standard input — a hidden prompt on a terminal, else one line per
part from a pipe (WhatsApp: the app secret, then the verify token) — and is never printed,
logged or shown again. The webhook URL goes to stdout (scripts read it), advice to stderr.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli.common import CliError, engine_for, errors, out, say, settings
from bot.settings import Settings
from store.connectors import KINDS
from store.connectors.records import (
    ConnectorError,
    create_connector,
    find_connector,
    list_connectors,
    remove_connector,
    set_connector_secret,
)
from store.connectors.secrets import ConnectorSecret, SecretBox

# Where the URL goes in each provider's console, and the flow hint to send with each message.
SETUP = {
    "whatsapp": "Meta App Dashboard → WhatsApp → Configuration → Webhook: paste it as the "
    "Callback URL with the verify token you entered, then subscribe to the 'messages' field. "
    "Name each message's flow with biz_opaque_callback_data set to its workflow id.",
    "twilio": "Give it as each message's StatusCallback (or the Messaging Service's status "
    "callback URL), with ?workflow_id=<workflow id> appended to name the flow, e.g. {url}"
    "?workflow_id=wf_42. The URL must match PUBLIC_BASE_URL exactly: Twilio signs it.",
    "sendgrid": "Settings → Mail Settings → Event Webhooks: paste it as the Post URL, turn on "
    "the Signed Event Webhook (its verification key is the secret you entered). Name each "
    "message's flow with the custom arg workflow_id.",
    "mailgun": "Sending → Webhooks: add it for Accepted, Delivered, Opened, Clicked and "
    "Permanent Failure. Name each message's flow with the variable v:workflow_id "
    "(X-Mailgun-Variables).",
}

ConnectorId = Annotated[str, typer.Argument(help="The connector id (cn_…), from `connector list`.")]


def read_secret(kind: str) -> ConnectorSecret:
    """The secret's parts, from a hidden prompt each on a terminal, or one line each from a pipe."""
    prompts = KINDS[kind].secret_prompts
    if sys.stdin.isatty():
        parts = [typer.prompt(f"{kind} {p}", hide_input=True, err=True) for p in prompts]
    else:
        parts = [sys.stdin.readline().rstrip("\r\n") for _ in prompts]
    for number, (prompt, part) in enumerate(zip(prompts, parts, strict=True), start=1):
        if not part.strip():
            raise CliError(f"secret: expected the {prompt} on line {number} of standard input")
    try:
        return ConnectorSecret(*parts)
    except ValueError as exc:
        raise CliError(f"secret: {exc}") from None


def secret_box(config: Settings) -> SecretBox:
    """The box for SECRET_KEY, which connectors cannot do without."""
    config.require("SECRET_KEY")
    assert config.SECRET_KEY is not None
    return SecretBox(config.SECRET_KEY.get_secret_value())


def webhook_url(config: Settings, kind: str, connector_id: str) -> str:
    """``PUBLIC_BASE_URL/webhooks/<kind>/<id>``."""
    return f"{config.PUBLIC_BASE_URL.rstrip('/')}/webhooks/{kind}/{connector_id}"


def connector_add(
    kind: Annotated[str, typer.Argument(help="whatsapp, twilio, sendgrid or mailgun.")],
    bot_id: Annotated[str, typer.Argument(help="The bot whose messages the provider sends.")],
) -> None:
    """Add a provider webhook for a bot; the secret is read from standard input."""
    with errors():
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise CliError(f"KIND: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        config = settings()
        box = secret_box(config)
        engine = engine_for(config)
        secret = read_secret(kind)
        try:
            created = create_connector(
                engine=engine, kind=kind, bot_id=bot_id, secret=secret, box=box
            )
        except ConnectorError as exc:
            raise CliError(str(exc)) from None
        url = webhook_url(config, kind, created.id)
        sys.stdout.write(url + "\n")
        say(f"Connector {created.id} ({kind}) for bot {created.bot_id!r}; its secret is stored "
            "encrypted and will not be shown again.")  # fmt: skip
        say(SETUP[kind].format(url=url))
        missing = [s for s in KINDS[kind].sources if s not in config.DELIVERY_REPORTING_CHANNELS]
        if missing:
            say(
                f"To see delivered and read for {' and '.join(missing)}, add "
                f"{'them' if len(missing) > 1 else 'it'} to DELIVERY_REPORTING_CHANNELS (now "
                f"{','.join(config.DELIVERY_REPORTING_CHANNELS) or 'empty'}), then run "
                "`campaign-bot db rebuild-rollups`."
            )


def connector_list() -> None:
    """List connectors: id, kind, bot, events taken and refused, statuses waiting."""
    with errors():
        config = settings()
        key = config.SECRET_KEY.get_secret_value() if config.SECRET_KEY else ""
        box = SecretBox(key) if key else None
        connectors = list_connectors(engine=engine_for(config), box=box)
        if not connectors:
            say("No connectors yet: add one with `campaign-bot connector add KIND BOT_ID`.")
            return
        table = Table("ID", "Kind", "Bot", "Events taken", "Events refused", "Waiting", "Secret")
        for c in connectors:
            table.add_row(
                Text(c.id, no_wrap=True), c.kind, Text(c.bot_id), f"{c.events_taken:,}",
                f"{c.events_refused:,}", f"{c.waiting:,}",
                "ok" if c.secret_problem is None else "enter again",
            )  # fmt: skip
        out.print(table)
        for c in connectors:
            if c.secret_problem is not None:
                say(
                    f"connector {c.id} ({c.kind}, bot {c.bot_id!r}) needs its secret again: "
                    f"{c.secret_problem}; run `campaign-bot connector set-secret {c.id}`"
                )


def connector_remove(connector_id: ConnectorId) -> None:
    """Remove a connector: its webhook URL answers 401 from now on."""
    with errors():
        try:
            removed = remove_connector(engine=engine_for(settings()), connector_id=connector_id)
        except ConnectorError as exc:
            raise CliError(str(exc)) from None
        dropped = f"; {removed.waiting_dropped:,} waiting status(es) dropped"
        out.print(
            f"Removed connector {removed.id} ({removed.kind}, bot {removed.bot_id!r})"
            + (dropped if removed.waiting_dropped else ""),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def connector_set_secret(connector_id: ConnectorId) -> None:
    """Enter a connector's secret again (after a SECRET_KEY change or a provider rotation)."""
    with errors():
        config = settings()
        box = secret_box(config)
        engine = engine_for(config)
        with engine.connect() as conn:
            found = find_connector(conn, connector_id=connector_id)
        if found is None:
            raise CliError(f"ID: no connector {connector_id!r}")
        secret = read_secret(found.kind)
        try:
            set_connector_secret(engine=engine, connector_id=found.id, secret=secret, box=box)
        except ConnectorError as exc:
            raise CliError(str(exc)) from None
        url = webhook_url(config, found.kind, found.id)
        say(
            f"Connector {found.id} ({found.kind}, bot {found.bot_id!r}) has its new secret; "
            f"its webhook URL is unchanged: {url}"
        )
