"""``/campaign-report compare A vs B``: flows side by side, only those the workspace sees."""

from __future__ import annotations

from commands.blocks.common import MAX_BLOCKS
from tests.slack.conftest import Harness
from tests.slack.test_summary import texts
from tests.support import flow, ingest, kpis, msg


def _second_flow(bot: Harness) -> None:
    ingest(
        bot.engine,
        flow(workflow_id="wf_43", name="New year teaser"),
        *(msg(f"n-{i}", f"+9300{i}", "whatsapp", "read", workflow_id="wf_43") for i in range(3)),
        msg("n-f", "+93009", "whatsapp", "failed", workflow_id="wf_43"),
    )


def test_compare_shows_kpis_and_rates_side_by_side_with_differences(bot: Harness) -> None:
    _second_flow(bot)
    answer = bot.ask('compare "Diwali offers" vs wf_43')
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "⚖️ 2 flows side by side"
    shown = texts(answer)
    assert "*A*: Diwali offers (wf_42) (completed) · *B*: New year teaser (wf_43)" in shown
    first, second = kpis(bot.engine), kpis(bot.engine, "wf_43")
    assert second["analysis"]["impressions"] == 3 and second["rates"]["failure_rate"] == 25.0
    impressions = first["analysis"]["impressions"]
    assert (
        f"Impressions: A {impressions:,} · B 3 (−{impressions - 3:,})" in shown
    )  # one line per KPI
    rate = first["rates"]["failure_rate"]
    assert f"Failure rate: A {rate:.1f}% · B 25.0% (+{25.0 - rate:.1f} pp)" in shown
    assert "Differences are to A" in shown
    assert len(answer["blocks"]) <= MAX_BLOCKS


def test_compare_never_reveals_another_workspaces_flow(bot: Harness) -> None:
    answer = bot.ask("compare Diwali offers vs Diwali secrets")  # b2's flow: not granted
    shown = str(answer["blocks"])
    assert "No flow matches “Diwali secrets”" in shown
    assert "wf_9" not in shown


def test_compare_needs_two_to_five_different_flows(bot: Harness) -> None:
    assert "Write: compare FLOW vs FLOW" in bot.ask("compare wf_42")["text"]
    many = " vs ".join(["wf_42"] * 6)
    assert "at most 5 flows" in bot.ask(f"compare {many}")["text"]
    assert "named twice" in bot.ask("compare wf_42 vs Diwali offers")["text"]
