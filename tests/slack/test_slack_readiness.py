"""`/smtp-readiness` end to end: ack, a card updated with progress then the summary, and the CSV uploaded through
files.getUploadURLExternal + completeUploadExternal to the Slack stand-in."""

from __future__ import annotations

import csv
import io

from slack_helpers import REQUESTER, wait_until

from bot.clock import FakeClock
from bot.readiness.render import CSV_HEADER


class StepClock(FakeClock):
    """A fake clock whose monotonic time moves 3 s at every reading, so each progress report is due."""

    def monotonic(self) -> float:
        self.advance(3)
        return super().monotonic()


def test_card_progress_summary_and_csv(start_bot, standin):
    bot = start_bot(clock=StepClock())
    answer = bot.sender.command("/smtp-readiness", "--days 30", user_id=REQUESTER)
    assert answer.status_code == 200 and "Reading the tenant's SMTP AUTH readiness" in answer.text
    card = bot.wait_card(lambda text: "off by default at the end of December 2026" in text, what="summary card")
    versions = [v.text for v in card.versions]
    assert "reading" in versions[0] and any("reading mailboxes" in v for v in versions[1:-1])
    final = str(card.versions[-1].blocks)
    assert "Basic in use*: 4" in final and "Enabled but unused*: 3" in final and "printer@contoso.com" in final
    files = wait_until(lambda: [f for f in standin.files() if f.completed], what="the CSV upload")
    assert len(files) == 1 and files[0].filename.endswith(".csv") and files[0].channels == ("C0OPS",)
    assert files[0].thread_ts == card.ts
    rows = list(csv.reader(io.StringIO(files[0].data.decode())))
    assert tuple(rows[0]) == CSV_HEADER and {r[0] for r in rows[1:]} >= {"printer@contoso.com", "admin@contoso.com"}
    assert [c.method for c in standin.calls() if c.method.startswith("files.")] == [
        "files.getUploadURLExternal", "files.completeUploadExternal"]


def test_days_until_the_change_come_from_the_injected_clock(start_bot):
    bot = start_bot()  # FakeClock: 2026-11-28
    bot.sender.command("/smtp-readiness", "", user_id=REQUESTER)
    card = bot.wait_card(lambda text: "from now" in text, what="summary card")
    assert "*33 days* from now" in str(card.versions[-1].blocks)


def test_a_missing_licence_is_said_on_the_card(start_bot, sandbox):
    sandbox.state.tenant("contoso").entra_id_p1 = False
    bot = start_bot()
    bot.sender.command("/smtp-readiness", "", user_id=REQUESTER)
    card = bot.wait_card(lambda text: "from now" in text, what="summary card")
    text = str(card.versions[-1].blocks)
    assert "Sign-in logs could not be read" in text and "Entra ID P1" in text and "usage unknown*: 7" in text


def test_without_files_write_the_card_stands_and_the_user_is_told(start_bot, standin):
    standin.set_scopes(["commands", "chat:write", "usergroups:read", "channels:read", "groups:read"])
    bot = start_bot()
    bot.sender.command("/smtp-readiness", "", user_id=REQUESTER)
    bot.wait_card(lambda text: "from now" in text, what="summary card")
    wait_until(lambda: any("missing_scope" in t for t in bot.ephemeral_texts()), what="the upload refusal")
    assert not [f for f in standin.files() if f.completed]


def test_bad_arguments_get_the_usage(start_bot, standin):
    bot = start_bot()
    for text in ("--days 90", "--days x", "help", "everything"):
        answer = bot.sender.command("/smtp-readiness", text, user_id=REQUESTER)
        assert answer.status_code == 200 and "/smtp-readiness [--days N]" in answer.text
    assert standin.messages("C0OPS") == []


def test_the_status_view_counts_basic_users_after_a_report(start_bot):
    bot = start_bot()
    bot.sender.command("/smtp-readiness", "", user_id=REQUESTER)
    bot.wait_card(lambda text: "from now" in text, what="summary card")
    bot.sender.command("/smtp-status", "", user_id=REQUESTER)
    wait_until(lambda: any("counted 4 account(s) still sending with a password" in str(r.payload)
                           for r in bot.standin.responses()), what="the status view with the count")


def test_the_weekly_post_goes_to_the_alert_channel(start_bot, standin):
    bot = start_bot()
    bot.runtime.post_weekly_readiness()
    card = bot.wait_card(lambda text: "from now" in text, channel="C0ALERTS", what="weekly card")
    assert "Asked for by" not in str(card.versions[-1].blocks)
    wait_until(lambda: [f for f in standin.files() if f.completed and f.channels == ("C0ALERTS",)],
               what="the weekly CSV")
