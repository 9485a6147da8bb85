"""``campaign-bot serve``, as a newcomer runs it, answers Slack against the stand-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.fakes.slack_api import FakeSlack, run_fake_slack
from tests.fakes.slack_requests import post_signed, slash_command
from tests.fakes.socket_mode import run_socket_mode_server
from tests.slack.conftest import SECRET, TEAM
from tests.slack.test_summary import texts

CLI = str(Path(sys.executable).with_name("campaign-bot"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(campaigns_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, FakeSlack]]:
    """``campaign-bot serve`` in a subprocess, configured through the environment."""
    port = _free_port()
    with run_fake_slack() as fake:
        env = os.environ | {
            "DATABASE_URL": campaigns_engine.url.render_as_string(hide_password=False),
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
                time.sleep(0.05)
            yield base_url, fake
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_serve_answers_a_signed_slash_command(served: tuple[str, FakeSlack]) -> None:
    base_url, fake = served
    form = slash_command("Diwali offers", team_id=TEAM, response_url=fake.response_url("cli"))
    with httpx.Client(timeout=10) as http:
        ack = post_signed(http, f"{base_url}/slack/events", SECRET, form)
        unsigned = http.post(f"{base_url}/slack/events", data=form)
    assert ack.status_code == 200
    assert unsigned.status_code == 401
    assert "*User engagement overview*" in texts(fake.wait_for_response("cli"))


def test_serve_without_signing_secret_stops_naming_it(tmp_path: Path) -> None:
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "",
    }
    result = subprocess.run(
        [CLI, "serve", "--port", "0"], cwd=tmp_path, env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 1
    assert "missing setting(s): SLACK_SIGNING_SECRET" in result.stderr.decode()


def test_serve_in_socket_mode_answers_over_the_websocket(
    campaigns_engine: Engine, tmp_path: Path
) -> None:
    with run_fake_slack() as fake, run_socket_mode_server() as socket_mode:
        fake.socket_url = socket_mode.url
        env = os.environ | {
            "DATABASE_URL": campaigns_engine.url.render_as_string(hide_password=False),
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_APP_TOKEN": fake.app_token,
            "SLACK_SIGNING_SECRET": "",  # not needed: Socket Mode requests are not signed
            "SLACK_API_URL": fake.api_url,
        }
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(_free_port())],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            socket_mode.wait_connected()
            payload = slash_command("help", team_id=TEAM, response_url=fake.response_url("u"))
            usage = socket_mode.send("slash_commands", payload)
            payload = slash_command("wf_42", team_id=TEAM, response_url=fake.response_url("s"))
            socket_mode.send("slash_commands", payload)
            summary = fake.wait_for_response("s")
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert "`/campaign-report list` — recent flows you can open" in texts(usage["payload"])
    assert summary["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"
    assert [c.method for c in fake.calls][:1] == ["apps.connections.open"]
