"""``campaign-bot scheduler``: the scheduler and the outbox alone, as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from store.requests import Recipient
from tests.scheduler.conftest import deliveries, load_flow, request_report
from tests.scheduler.smtp import smtp_server

CLI = str(Path(sys.executable).with_name("campaign-bot"))
SECRET_KEY = "scheduler-test-secret-key"


def test_the_scheduler_command_delivers_logs_json_and_stops_on_sigterm(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
    with smtp_server() as box:
        env = os.environ | {
            "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(box.port),
            "MAIL_FROM": "Campaign reports <reports@acme.example>",
            "REPORTS_DIR": str(tmp_path / "reports"),
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_EMAIL_DOMAINS": "partner.example",
            "SLACK_BOT_TOKEN": "",
        }
        process = subprocess.Popen(
            [CLI, "scheduler", "--log-format", "json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            [message] = box.wait_for(1, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            out, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert message["To"] == "guest@partner.example"
    assert [d.state for d in deliveries(sqlite_engine)] == ["sent"]
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    [sent] = [entry for entry in lines if entry.get("event") == "delivery"]
    assert sent["outcome"] == "sent" and sent["recipient"] == "guest@partner.example"
    assert any(entry.get("message") == "this process runs the scheduler" for entry in lines)
    assert SECRET_KEY not in out + errors
