"""Who sees what: grants, invisible bots, unknown and non-reportable flows, the list."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.models import Flow
from tests.fakes.slack_requests import button
from tests.slack.conftest import OTHER_BOT, Harness, running_bot
from tests.slack.test_summary import elements, texts
from tests.support import flow, ingest


def test_help_and_empty_text_answer_in_the_ack(bot: Harness) -> None:
    for text in ("", "help"):
        ack, _ = bot.command(text)
        assert ack.status_code == 200
        assert "`/campaign-report list` — recent flows you can open" in texts(ack.json())
    assert bot.fake.calls_to("response_url", status=None) == []


def test_unclosed_quote_is_explained_in_the_ack(bot: Harness) -> None:
    ack, _ = bot.command('"Diwali offers')
    assert texts(ack.json()) == "A quote is not closed; write the flow name in quotes."


def test_list_shows_only_reportable_flows_of_granted_bots(bot: Harness) -> None:
    message = bot.ask("list")
    shown = texts(message)
    assert "*Diwali offers* · Completed" in shown
    assert "Holiday draft" not in shown
    assert "Diwali secrets" not in shown
    assert [e["text"]["text"] for e in elements(message)] == ["Open report"]


def test_list_button_opens_the_report(bot: Harness) -> None:
    listed = bot.ask("list")
    _, key = bot.click(button("open_report", elements(listed)[0]["value"]))
    opened = bot.answer(key)
    assert opened["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"


def test_unknown_flow_suggests_close_visible_flows_as_buttons(bot: Harness) -> None:
    message = bot.ask("diwali ofers")
    assert texts(message).startswith("No flow matches “diwali ofers”. Did you mean:")
    labels = [e["text"]["text"] for e in elements(message)]
    assert labels == ["Diwali offers (wf_42)"]
    _, key = bot.click(button("open_report", elements(message)[0]["value"]))
    assert bot.answer(key)["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"


def test_flows_of_ungranted_bots_are_not_found_by_id_or_name(bot: Harness) -> None:
    for query in ("Diwali secrets", "wf_9", f"{OTHER_BOT}/wf_9"):
        shown = texts(bot.ask(query))
        assert shown.startswith(f"No flow matches “{query}”")
        assert "secrets" not in shown.removeprefix(f"No flow matches “{query}”")


def test_button_naming_an_ungranted_flow_reveals_nothing(bot: Harness) -> None:
    with Session(bot.engine) as session:
        hidden = session.exec(select(Flow).where(Flow.bot_id == OTHER_BOT)).one()
    _, key = bot.click(button("show_channel_stats", f"{hidden.id}|"))
    assert texts(bot.answer(key)) == "That flow is no longer available to this workspace."


def test_tampered_button_value_is_rejected_naming_the_field(bot: Harness) -> None:
    _, key = bot.click(button("open_report", "<!channel>|sms"))
    assert texts(bot.answer(key)) == (
        "That request could not be read (value: not a report reference: '&lt;!channel&gt;|sms')."
    )


def test_draft_flow_gets_the_seeds_rule(bot: Harness) -> None:
    assert texts(bot.ask("Holiday draft")) == (
        "*Holiday draft* is draft. Reports are available only for scheduled, live and "
        "completed flows."
    )


def test_workspace_without_grants_is_told_how_to_get_access(bot: Harness) -> None:
    shown = texts(bot.ask("Diwali offers", team_id="T0NOBODY"))
    assert shown == (
        "This Slack workspace has not been given access to any bot's campaigns yet. "
        "Ask an admin to run `campaign-bot workspace grant T0NOBODY BOT_ID`."
    )


def test_two_flows_with_one_name_are_offered_as_buttons(campaigns_engine: Engine) -> None:
    ingest(campaigns_engine, flow(workflow_id="wf_43", name="Diwali offers", status="live"))
    with running_bot(campaigns_engine) as bot:
        message = bot.ask("diwali offers")
        labels = [e["text"]["text"] for e in elements(message)]
        assert texts(message).startswith("“diwali offers” matches 2 flows. Pick one:")
        assert labels == ["Diwali offers (b1/wf_42)", "Diwali offers (b1/wf_43)"]
        _, key = bot.click(button("open_report", elements(message)[1]["value"]))
        assert bot.answer(key)["blocks"][0]["text"]["text"] == "📊 Diwali offers — Live"
