"""A plan card is posted once even when the process posting it dies before it stores the card's ts."""

from __future__ import annotations

from typing import Any

import pytest
from slack_helpers import OTHER, wait_until

from bot.slack.cards import POST_LEASE


class Killed(BaseException):
    """kill -9: nothing after the call runs, not even the outbox's bookkeeping."""


class DiesAfterPosting:
    """A Slack client whose process dies once Slack has accepted chat.postMessage."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def chat_postMessage(self, **kwargs: Any) -> Any:
        self.client.chat_postMessage(**kwargs)
        raise Killed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_card_posted_by_a_process_killed_before_storing_its_ts_is_adopted_not_posted_again(start_bot, standin):
    bot = start_bot()
    bot.runtime.outbox.stop()  # the test delivers round by round
    cards = bot.runtime.cards
    client = cards.client
    cards.client = DiesAfterPosting(client)
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    wait_until(lambda: bot.runtime.store.outbox.backlog() > 0, what="the card queued")
    with pytest.raises(Killed):
        bot.runtime.outbox.deliver_due()
    [posted] = standin.messages("C0OPS")
    [view] = bot.runtime.workflow.requests_for("scanner@contoso.com")
    assert view.request.message_ts is None

    cards.client, cards.holder = client, "the process started after the kill"
    bot.clock.advance(max(POST_LEASE, bot.runtime.outbox.claim_lease).total_seconds() + 1)
    bot.runtime.outbox.deliver_due()
    assert bot.runtime.store.outbox.backlog() == 0
    [card] = standin.messages("C0OPS")
    assert card.ts == posted.ts and card.metadata == {"event_type": "smtp_auth_plan_card",
                                                       "event_payload": {"request_id": view.request.id}}
    [view] = bot.runtime.workflow.requests_for("scanner@contoso.com")
    assert view.request.message_ts == card.ts
    [history] = standin.calls("conversations.history")
    assert history.args["channel"] == "C0OPS" and history.args["include_all_metadata"] in ("1", "true")

    cards.refresh(view.request.id)
    bot.runtime.cards.send({"request_id": view.request.id})
    assert [m.ts for m in standin.messages("C0OPS")] == [card.ts]
    assert {c.args["ts"] for c in standin.calls("chat.update")} == {card.ts}
    assert len(standin.message("C0OPS", card.ts).versions) >= 2


def test_a_first_post_looks_nothing_up(start_bot, standin):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    card = bot.card()
    assert card.metadata["event_type"] == "smtp_auth_plan_card"
    assert standin.calls("conversations.history") == []


def test_without_the_history_scopes_the_card_is_posted_again_rather_than_never(start_bot, standin):
    bot = start_bot()
    bot.runtime.outbox.stop()
    standin.set_scopes(["commands", "chat:write", "usergroups:read", "files:write", "channels:read", "groups:read"])
    cards = bot.runtime.cards
    client, cards.client = cards.client, DiesAfterPosting(cards.client)
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    wait_until(lambda: bot.runtime.store.outbox.backlog() > 0, what="the card queued")
    with pytest.raises(Killed):
        bot.runtime.outbox.deliver_due()
    cards.client, cards.holder = client, "the process started after the kill"
    bot.clock.advance(max(POST_LEASE, bot.runtime.outbox.claim_lease).total_seconds() + 1)
    bot.runtime.outbox.deliver_due()
    assert bot.runtime.store.outbox.backlog() == 0
    assert [c.error for c in standin.calls("conversations.history")] == ["missing_scope"]
    first, second = standin.messages("C0OPS")
    [view] = bot.runtime.workflow.requests_for("scanner@contoso.com")
    assert view.request.message_ts == second.ts
