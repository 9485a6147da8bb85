"""Try Download report and a daily digest without Slack or a mail server.

    .venv/bin/python -m tests.scheduler.walkthrough

Starts the Slack Web API stand-in, an aiosmtpd server and the app with its scheduler (as
``campaign-bot serve`` runs it) on a throw-away store holding the “Diwali offers” flow, then
sends what Slack would send — signed slash commands and button clicks — and prints what
arrived: the files in the member's DM, the email to the guest, the digest.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bot.wiring import build_runtime
from commands.blocks.common import DOWNLOAD_REPORT
from scheduler.subscriptions import queue_digest
from store.db import create_db_engine, upgrade_database
from tests.fakes.slack_api import UPLOAD
from tests.fakes.slack_requests import button
from tests.scheduler.bot_harness import GUEST, MEMBER, running_bot_with_scheduler
from tests.scheduler.conftest import make_settings
from tests.slack.conftest import load_campaigns


def main() -> None:
    """Run the walkthrough and print each step's outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        engine = create_db_engine(f"sqlite:///{directory / 'walkthrough.db'}")
        upgrade_database(engine)
        load_campaigns(engine)
        with running_bot_with_scheduler(engine, directory) as (bot, mailbox):
            summary = bot.ask("Diwali offers")
            print("1. /campaign-report Diwali offers →", summary["text"])
            actions = summary["blocks"][-1]["elements"]
            value = next(e["value"] for e in actions if e.get("action_id") == DOWNLOAD_REPORT)

            _, key = bot.click(button(DOWNLOAD_REPORT, value), user_id=MEMBER)
            print("2. member clicks Download report →", bot.answer(key)["text"])
            [done] = bot.fake.wait_for("files.completeUploadExternal", timeout=60)
            sizes = {c.path: len(c.raw) for c in bot.fake.calls_to(UPLOAD)}
            print(f"   DM {done.data['channel_id']} received:",
                  ", ".join(f["title"] for f in done.data["files"]),
                  f"({sum(sizes.values()):,} bytes)")  # fmt: skip

            _, key = bot.click(button(DOWNLOAD_REPORT, value), user_id=GUEST)
            print("3. guest clicks Download report →", bot.answer(key)["text"])
            [mail] = mailbox.wait_for(1, timeout=60)
            files = [p.get_filename() for p in mail.iter_attachments()]
            print(f"   email to {mail['To']}: {mail['Subject']!r} with {', '.join(files)}")

            made = bot.ask('subscribe "Diwali offers" daily 09:00 to: me, ops@acme.example')
            print("4. subscribe →", made["blocks"][0]["text"]["text"])
            runtime = build_runtime(make_settings(engine, directory), engine, None)
            queue_digest(runtime, 1, force=True)  # what the 09:00 job does, now
            digest = mailbox.wait_for(2, timeout=60)[1]
            print(f"   digest email to {digest['To']}: {digest['Subject']!r}")
            deadline = time.monotonic() + 60
            while len(bot.fake.calls_to("files.completeUploadExternal")) < 2:
                assert time.monotonic() < deadline, "the digest DM never arrived"
                time.sleep(0.1)
            print("   digest DM posted with the PDF and the CSV")


if __name__ == "__main__":
    main()
