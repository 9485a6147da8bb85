"""``campaign-bot connector …``: secrets piped in, checked, never shown again.

The first test runs the installed command in a subprocess, as a user does; the others call
the same Typer app in-process (each subprocess costs seconds of imports).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.bot.test_cli import CLI
from tests.fakes.provider_webhooks import sendgrid_keys

KEY = "cli-test-secret-key-with-enough-entropy-0123456789"
PUBLIC = sendgrid_keys()[1]
URL = re.compile(r"^https://reports\.acme\.example/webhooks/(\w+)/(cn_[A-Za-z0-9_-]{22})$")


def environment(tmp_path: Path, secret_key: str | None) -> dict[str, str | None]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "200",
            "PUBLIC_BASE_URL": "https://reports.acme.example", "SECRET_KEY": secret_key}  # fmt: skip


class Run:
    """What a run left: exit status, stdout, stderr."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(tmp_path: Path, *args: str, stdin: str = "", secret_key: str | None = KEY) -> Run:
    """``campaign-bot ARGS`` in-process, with ``stdin`` piped in."""
    result = CliRunner().invoke(app, list(args), input=stdin,
                                env=environment(tmp_path, secret_key))  # fmt: skip
    return Run(result.exit_code, result.stdout, result.stderr)


def run_process(tmp_path: Path, *args: str, stdin: str = "") -> Run:
    """``campaign-bot ARGS`` as a subprocess."""
    env = {k: v for k, v in (os.environ | environment(tmp_path, KEY)).items() if v is not None}
    done = subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def add(tmp_path: Path, kind: str, stdin: str) -> str:
    result = run(tmp_path, "connector", "add", kind, "b1", stdin=stdin)
    assert result.returncode == 0, result.stderr
    match = URL.match(result.stdout.strip())
    assert match is not None, result.stdout
    assert match.group(1) == kind
    return match.group(2)


def test_add_prints_the_url_and_how_to_name_the_flow(tmp_path: Path) -> None:
    result = run_process(
        tmp_path, "connector", "add", "twilio", "b1", stdin="the-auth-token-value\n"
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert URL.match(url)
    assert f"{url}?workflow_id=wf_42" in result.stderr
    assert (
        "To see delivered and read for sms, add it to DELIVERY_REPORTING_CHANNELS (now "
        "whatsapp), then run `campaign-bot db rebuild-rollups`."
    ) in result.stderr
    whatsapp = add(tmp_path, "whatsapp", "app-secret-value\nverify-token-value\n")
    listed = run(tmp_path, "connector", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "cn_" in line]
    assert len(rows) == 2
    assert re.search(
        rf"{whatsapp}\s*│\s*whatsapp\s*│\s*b1\s*│\s*0\s*│\s*0\s*│\s*0\s*│\s*ok", rows[1]
    )
    everything = result.stdout + result.stderr + listed.stdout + listed.stderr
    assert "the-auth-token-value" not in everything
    assert b"verify-token-value" not in (tmp_path / "cli.db").read_bytes()


def test_secrets_are_checked_and_never_echoed(tmp_path: Path) -> None:
    one_line = run(tmp_path, "connector", "add", "whatsapp", "b1", stdin="lonely-secret\n")
    assert one_line.returncode == 1
    assert one_line.stderr.strip() == (
        "error: secret: expected the verify token on line 2 of standard input"
    )
    bad_key = run(tmp_path, "connector", "add", "sendgrid", "b1", stdin="not-a-public-key\n")
    assert bad_key.returncode == 1
    assert bad_key.stderr.startswith("error: secret: not a base64 (DER) or PEM public key")
    assert "not-a-public-key" not in bad_key.stderr
    unknown = run(tmp_path, "connector", "add", "pigeon", "b1", stdin="x\n")
    assert (unknown.returncode, unknown.stderr.split(";")[0]) == (
        1, "error: KIND: unknown kind 'pigeon'")  # fmt: skip
    no_key = run(tmp_path, "connector", "add", "mailgun", "b1", stdin="k\n", secret_key=None)
    assert no_key.returncode == 1
    assert "SECRET_KEY" in no_key.stderr
    assert "No connectors yet" in run(tmp_path, "connector", "list").stderr


def test_a_new_secret_key_says_which_connectors_need_their_secret_again(tmp_path: Path) -> None:
    twilio = add(tmp_path, "twilio", "auth-token\n")
    mailgun = add(tmp_path, "mailgun", "signing-key\n")
    rotated = run(tmp_path, "connector", "list", secret_key="a-brand-new-secret-key-0123456789")
    assert rotated.returncode == 0
    assert rotated.stderr.splitlines() == [
        f"connector {c} ({k}, bot 'b1') needs its secret again: SECRET_KEY changed since the "
        f"secret was entered; run `campaign-bot connector set-secret {c}`"
        for c, k in ((twilio, "twilio"), (mailgun, "mailgun"))
    ]
    fixed = run(tmp_path, "connector", "set-secret", twilio, stdin="auth-token\n",
                secret_key="a-brand-new-secret-key-0123456789")  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    again = run(tmp_path, "connector", "list", secret_key="a-brand-new-secret-key-0123456789")
    assert [line.split()[1] for line in again.stderr.splitlines()] == [mailgun]


def test_remove_deletes_the_connector(tmp_path: Path) -> None:
    connector = add(tmp_path, "mailgun", "signing-key\n")
    removed = run(tmp_path, "connector", "remove", connector)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"Removed connector {connector} (mailgun, bot 'b1')"
    again = run(tmp_path, "connector", "remove", connector)
    assert (again.returncode, again.stderr.strip()) == (
        1, f"error: ID: no connector '{connector}'")  # fmt: skip


def test_add_says_nothing_about_channels_that_already_report_delivery(tmp_path: Path) -> None:
    env = environment(tmp_path, KEY) | {"DELIVERY_REPORTING_CHANNELS": "email,sms,whatsapp"}
    result = CliRunner().invoke(app, ["connector", "add", "sendgrid", "b1"], input=PUBLIC + "\n",
                                env=env)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "DELIVERY_REPORTING_CHANNELS" not in result.stderr
