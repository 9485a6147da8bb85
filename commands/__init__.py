"""Slack text in → Block Kit out: the slash command, its buttons, the text of deliveries.

``register(app, deps)`` wires every listener (this module is wiring only). ``grammar`` parses
what people type and what buttons carry; ``answers`` builds each answer from the store;
``listeners`` acknowledge and answer; ``blocks/`` are pure Block Kit builders; ``mrkdwn``
escapes every outside text. Nothing here imports ``bot`` or ``scheduler``: the composition
root passes in what is needed (``deps.CommandDeps``).
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from commands.alert_listeners import (
    alert_report_action,
    answer_alert_command,
    answer_mute_click,
    answer_remove_alert_click,
    is_alert_command,
)
from commands.blocks.common import (
    ALERT_CHANNEL_STATS,
    ALERT_OPEN_REPORT,
    COMMAND,
    DOWNLOAD_EXCEL,
    DOWNLOAD_REPORT,
    FILTER_CHANNEL,
    MUTE_ALERT,
    OPEN_REPORT,
    REMOVE_ALERT,
    SHARE_REPORT,
    SHOW_CHANNEL_STATS,
    UNSUBSCRIBE,
)
from commands.deps import CommandDeps, deps_middleware
from commands.listeners import (
    ack_at_once,
    ack_report_command,
    answer_download_click,
    answer_download_excel_click,
    answer_report_command,
    answer_subcommand,
    answer_unsubscribe_click,
    is_subcommand,
    report_action,
)


def register(app: AsyncApp, deps: CommandDeps) -> None:
    """Attach every listener to ``app``; ``deps`` reach them through the request context."""
    app.middleware(deps_middleware(deps))
    # ack first, answer later: lazy listeners start after the ack has been sent.
    # Subcommands come first: Bolt runs only the first listener that matches.
    app.command(COMMAND, matchers=[is_alert_command])(ack=ack_at_once, lazy=[answer_alert_command])
    app.command(COMMAND, matchers=[is_subcommand])(ack=ack_at_once, lazy=[answer_subcommand])
    app.command(COMMAND)(ack=ack_report_command, lazy=[answer_report_command])
    app.action(OPEN_REPORT)(ack=ack_at_once, lazy=[report_action("summary")])
    app.action(FILTER_CHANNEL)(ack=ack_at_once, lazy=[report_action("summary", selected=True)])
    app.action(SHOW_CHANNEL_STATS)(ack=ack_at_once, lazy=[report_action("stats")])
    app.action(SHARE_REPORT)(ack=ack_at_once, lazy=[report_action("share")])
    app.action(DOWNLOAD_REPORT)(ack=ack_at_once, lazy=[answer_download_click])
    app.action(DOWNLOAD_EXCEL)(ack=ack_at_once, lazy=[answer_download_excel_click])
    app.action(UNSUBSCRIBE)(ack=ack_at_once, lazy=[answer_unsubscribe_click])
    app.action(REMOVE_ALERT)(ack=ack_at_once, lazy=[answer_remove_alert_click])
    app.action(MUTE_ALERT)(ack=ack_at_once, lazy=[answer_mute_click])
    app.action(ALERT_OPEN_REPORT)(ack=ack_at_once, lazy=[alert_report_action("summary")])
    app.action(ALERT_CHANNEL_STATS)(ack=ack_at_once, lazy=[alert_report_action("stats")])
