"""A long Slack outage through the outbox: nothing is lost, nothing is posted twice, dead items come back."""

from __future__ import annotations

from datetime import timedelta

from slack_helpers import OTHER, sandbox_probes, top_level, wait_until

from bot.health import Readiness

STEP = 15  # simulated seconds between two delivery rounds


def drive(bot, seconds: int, probe_every: int | None = None) -> None:
    """Deliver round by round for `seconds` of the fake clock, probing the printer every `probe_every` s."""
    for tick in range(0, seconds, STEP):
        if probe_every and tick % probe_every == 0:
            assert bot.runtime.scheduler.renew_lease()
            bot.runtime.scheduler.probe_target("printer")
        bot.runtime.outbox.deliver_due()
        bot.clock.advance(STEP)


def items(bot):
    store = bot.runtime.store
    return [item for n in range(1, 500) if (item := store.outbox.get(n)) is not None]


def test_a_thirty_minute_outage_loses_no_card_and_no_alert(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox, password="wrong-password"))
    bot.runtime.outbox.stop()  # the test drives delivery round by round
    standin.faults.add(method="chat.postMessage", kind="ratelimited", retry_after="45", times=3)
    outage = standin.faults.add(method="chat.*", kind="status", status=503, times=None)
    started = bot.clock.now()

    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    wait_until(lambda: any(i.kind == "card" for i in items(bot)), what="the card queued")
    drive(bot, 30 * 60, probe_every=5 * 60)
    assert top_level(standin, "C0OPS") == [] and standin.messages("C0ALERTS") == []
    assert {c.status for c in standin.calls("chat.postMessage")} == {429, 503}
    assert not [i for i in items(bot) if i.state == "dead"]

    standin.faults.remove(outage.id)
    drive(bot, 10 * 60)
    [card] = top_level(standin, "C0OPS")
    [view] = bot.runtime.workflow.requests_for("scanner@contoso.com")
    assert view.request.message_ts == card.ts
    alerts = standin.messages("C0ALERTS")
    [opening] = [m for m in alerts if m.thread_ts is None]
    assert all(m.thread_ts == opening.ts for m in alerts if m is not opening)
    assert not [i for i in items(bot) if i.state != "delivered"]
    assert bot.runtime.store.outbox.backlog() == 0
    first = min(items(bot), key=lambda i: i.id)
    assert first.kind == "card" and first.delivered_at - started >= timedelta(minutes=30)


def test_items_given_up_on_are_visible_and_come_back_when_slack_does(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox, password="wrong-password"), outbox_give_up_hours=0.5)
    bot.runtime.outbox.stop()
    outage = standin.faults.add(method="chat.*", kind="status", status=503, times=None)
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    wait_until(lambda: any(i.kind == "card" for i in items(bot)), what="the card queued")
    drive(bot, 50 * 60, probe_every=10 * 60)

    dead = {i.dedupe_key for i in items(bot) if i.state == "dead"}
    assert [k.split(":")[0] for k in dead] == ["card"]  # the opening died too, and the last update revived it
    report = Readiness.of(bot.runtime).report()
    assert "outbox_dead" in report["failing"] and report["checks"]["outbox_dead"]["value"] == len(dead)
    deaths = bot.runtime.metrics.registry.get_sample_value
    assert deaths("smtp_auth_bot_outbox_dead_total", {"kind": "card"}) == 1
    assert deaths("smtp_auth_bot_outbox_dead_total", {"kind": "alert"}) >= 1

    standin.faults.remove(outage.id)
    [view] = bot.runtime.workflow.requests_for("scanner@contoso.com")
    bot.runtime.cards.refresh(view.request.id)  # the next redraw revives the card nobody saw
    drive(bot, 10 * 60, probe_every=5 * 60)  # the next alert update revives its opening
    assert len(top_level(standin, "C0OPS")) == 1
    assert len([m for m in standin.messages("C0ALERTS") if m.thread_ts is None]) == 1
    assert not [i for i in items(bot) if i.state in ("pending", "delivering")]
