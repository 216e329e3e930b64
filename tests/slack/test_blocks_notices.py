"""The requester's notices in a card's thread and the App Home notice: who, what, when, within Slack's limits."""

from __future__ import annotations

import pytest
from blocks_helpers import NOW, STATES, joined, validate, with_states
from slack_sdk.models.blocks import Block
from test_blocks_views import FAILING_PROBE, other_request

from bot.slack.blocks import home_notice, home_view, local_time
from bot.slack.blocks.notices import SENTENCES, notice_message
from bot.workflow.model import NOTICES, NoticeKind

HOSTILE = "<!channel> & <https://evil.example|click>"


@pytest.mark.parametrize("notice", list(NoticeKind))
def test_each_notice_mentions_the_requester_once_and_says_who_and_when(notice):
    message = notice_message(notice, requester="U0REQUEST", request_id="CR-7F3K2Q", upn="scanner@contoso.com",
                             title="SMTP AUTH for this mailbox", actor="U0APPROVE", at=NOW,
                             error="Exchange said: " + HOSTILE * 100, undo_requested_by="U0OTHER")
    validate(message)
    assert [Block.parse(b).to_dict() for b in message["blocks"]] == message["blocks"]  # slack_sdk's own models
    text = message["blocks"][0]["text"]["text"]
    assert text.startswith("<@U0REQUEST> CR-7F3K2Q: *SMTP AUTH for this mailbox* for scanner@contoso.com ")
    assert text.count("<@U0REQUEST>") == 1 and message["text"].startswith("<@U0REQUEST> ")  # the mention notifies
    assert f"<!date^{int(NOW.timestamp())}^" in text  # each reader's own time zone...
    assert "<!date" not in message["text"] and "UTC" in message["text"]  # ...and UTC where Slack cannot show it
    assert "<!channel>" not in text and "<https://evil" not in text  # an error's text pings and links nobody
    if "{by}" in SENTENCES[notice]:
        assert "<@U0APPROVE>" in text


def test_the_requester_acting_on_their_own_step_is_you_not_a_second_mention():
    message = notice_message(NoticeKind.DENIED, requester="U0REQUEST", request_id="CR-7F3K2Q",
                             upn="scanner@contoso.com", title="SMTP AUTH", actor="U0REQUEST", at=NOW)
    assert "was denied by you at" in message["blocks"][0]["text"]["text"]


def test_every_notice_kind_is_sent_by_some_transition_and_each_outcome_is_covered():
    assert set(NOTICES.values()) == set(NoticeKind) == set(SENTENCES)
    told = {(new, action) for new, action in NOTICES}
    for outcome in ("step.approved", "step.denied", "step.expired", "step.verified", "step.failed", "undo.verified"):
        assert any(action == outcome for _, action in told), outcome


def test_the_app_home_notice_says_what_was_clicked_when_and_the_answer_and_fits_a_full_home():
    notice = home_notice("Approve", f"Already decided: this step is denied by <@U0APPROVE> {HOSTILE}", NOW)
    flood = [other_request(with_states(*STATES * 3), n) for n in range(30)]
    payload = home_view(viewer="U0APPROVE", pending=flood, recent=flood, probes=[FAILING_PROBE] * 40,
                        is_approver=True, now=NOW, notice=notice)
    validate(payload, view=True)
    first = payload["blocks"][0]["text"]["text"]
    assert first.startswith(":speech_balloon: You clicked *Approve* at <!date^")
    assert "denied by <@U0APPROVE>" in first and "<!channel>" not in first and "&lt;!channel&gt;" in first
    assert payload["blocks"][1]["type"] == "divider" and "Waiting for your approval" in joined(payload["blocks"])
    assert "more changes waiting" in joined(payload["blocks"])  # the notice took room, not Slack's limits


@pytest.mark.parametrize(("notice", "said"), [
    (NoticeKind.UNDONE, "was undone at {at} (asked by you, approved by <@U0APPROVE>)"),
    (NoticeKind.UNDO_FAILED, "stays: the undo (asked by you, approved by <@U0APPROVE>) failed at {at}."),
    (NoticeKind.UNDO_DENIED, "stays: the undo asked by you was denied by <@U0OTHER> at {at}."),
    (NoticeKind.UNDO_EXPIRED, "stays: the undo asked by you expired at {at} without a decision."),
])
def test_an_undos_notice_says_who_asked_and_who_decided(notice, said):
    message = notice_message(notice, requester="U0REQUEST", request_id="CR-7F3K2Q", upn="scanner@contoso.com",
                             title="SMTP AUTH", actor="U0OTHER" if notice == NoticeKind.UNDO_DENIED else "smtp-auth-bot",
                             at=NOW, undo_requested_by="U0REQUEST", undo_decided_by="U0APPROVE")
    assert said.format(at=local_time(NOW)) in message["blocks"][0]["text"]["text"]


def test_an_applied_step_with_failures_says_what_was_read_back_not_applied_and_verified():
    partial = "5 of 7 turned off; 2 could not be turned off: idle2@contoso.com (denied), idle5@contoso.com (denied)"
    message = notice_message(NoticeKind.APPLIED, requester="U0REQUEST", request_id="CR-7F3K2Q",
                             upn="7 mailboxes unused for 30 days", title="SMTP AUTH off", actor="smtp-auth-bot",
                             at=NOW, error=partial)
    text = message["blocks"][0]["text"]["text"]
    assert "applied and verified" not in text
    assert f"was applied at {local_time(NOW)}; what the bot read back: {partial} (the card has the details)." in text
    whole = notice_message(NoticeKind.APPLIED, requester="U0REQUEST", request_id="CR-7F3K2Q", upn="a@contoso.com",
                           title="SMTP AUTH", actor="smtp-auth-bot", at=NOW)
    assert f"was applied and verified at {local_time(NOW)}." in whole["blocks"][0]["text"]["text"]


def test_an_expiry_names_what_opens_the_request_anew_escaped():
    message = notice_message(NoticeKind.EXPIRED, requester="U0REQUEST", request_id="CR-7F3K2Q",
                             upn="7 mailboxes unused for 30 days", title="SMTP AUTH off", actor="smtp-auth-bot",
                             at=NOW, again="`/smtp-readiness --days 30` and click Close unused on its card")
    text = message["blocks"][0]["text"]["text"]
    assert "/smtp-enable" not in text
    assert text.endswith("nothing changed. Run `/smtp-readiness --days 30` and click Close unused on its card "
                         "again for a fresh plan.")
