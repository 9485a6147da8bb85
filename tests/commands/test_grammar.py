"""The command grammar and button values."""

from __future__ import annotations

import pytest

from commands.grammar import (
    BadValue,
    CommandSyntaxError,
    DownloadRequest,
    ListFlows,
    ShowHelp,
    ShowReport,
    Target,
    parse_compare,
    parse_download,
    parse_report_command,
    parse_target,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ShowHelp()),
        ("   ", ShowHelp()),
        ("help", ShowHelp()),
        ("HELP", ShowHelp()),
        ("list", ListFlows()),
        ("wf_42", ShowReport("wf_42")),
        ("Diwali offers", ShowReport("Diwali offers")),
        ('"Diwali offers"', ShowReport("Diwali offers")),
        ("“Diwali offers” channel:sms", ShowReport("Diwali offers", "sms")),
        ("channel:WhatsApp 'Diwali offers'", ShowReport("Diwali offers", "WhatsApp")),
        ("Tom &amp; Jerry", ShowReport("Tom & Jerry")),
        ('"list"', ShowReport("list")),
        ("help me", ShowReport("help me")),
        ("Diwali's offers", ShowReport("Diwali's offers")),
        ("channel:'sms' Diwali", ShowReport("Diwali", "sms")),
        ("b1/wf_42 CHANNEL:email", ShowReport("b1/wf_42", "email")),
    ],
)
def test_command_text_is_understood(text: str, expected: object) -> None:
    assert parse_report_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"Diwali offers', "A quote is not closed; write the flow name in quotes."),
        ("channel:sms", "Name a flow before channel:, e.g. “Diwali offers” channel:sms."),
        ("wf_42 channel:", "channel: needs a channel name, e.g. channel:whatsapp."),
        ("wf_42 channel:sms channel:email", "Give at most one channel:<channel>."),
        ("x" * 1001, "That is too long for a flow name (1,001 characters)."),
    ],
)
def test_bad_command_text_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as caught:
        parse_report_command(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("target", [Target(42), Target(7, "whatsapp")])
def test_target_round_trips_through_a_value(target: Target) -> None:
    assert parse_target(target.encode()) == target


@pytest.mark.parametrize("value", ["", "42", "x|sms", "-1|sms", "1" * 19 + "|", "1|" + "s" * 65])
def test_tampered_values_are_rejected_naming_the_field(value: str) -> None:
    with pytest.raises(BadValue, match=r"^value: not a report reference"):
        parse_target(value)


@pytest.mark.parametrize(
    ("text", "flows"),
    [
        ("wf_42 vs wf_43", ("wf_42", "wf_43")),
        (
            '"Diwali offers" VS New year teaser vs. wf_44',
            ("Diwali offers", "New year teaser", "wf_44"),
        ),
        ('"Mums vs dads" versus “wf_43”', ("Mums vs dads", "wf_43")),
    ],
)
def test_compare_splits_flows_on_a_bare_vs(text: str, flows: tuple[str, ...]) -> None:
    assert parse_compare(text).flows == flows


@pytest.mark.parametrize(
    ("text", "message"),
    [("wf_42", "Write: compare"), ("wf_42 vs", "Write: compare"),
     (" vs ".join("abcdef"), "at most 5")],
)  # fmt: skip
def test_compare_refuses_too_few_or_too_many(text: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError, match=message):
        parse_compare(text)


@pytest.mark.parametrize(
    ("text", "flow", "formats"),
    [
        ("Diwali offers", "Diwali offers", "csv,pdf"),
        ('"Diwali offers" format:xlsx', "Diwali offers", "pdf,xlsx"),
        ("format:XLSX,csv wf_42", "wf_42", "csv,pdf,xlsx"),
        ("wf_42 format:pdf", "wf_42", "pdf"),
    ],
)
def test_download_takes_a_format(text: str, flow: str, formats: str) -> None:
    assert parse_download(text) == DownloadRequest(flow, formats)


def test_download_refuses_an_unknown_format() -> None:
    with pytest.raises(CommandSyntaxError, match="format: unknown format 'docx'"):
        parse_download("wf_42 format:docx")
