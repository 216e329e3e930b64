"""/smtp-oauth end to end over real HTTP: the plan card, Approve all, and the XOAUTH2 probe of the device's own
app (a probe target with `client_id`) run by the bot once the last step is verified; refused before, green after."""

from __future__ import annotations

from slack_helpers import APPROVER, REQUESTER, sandbox_probes, wait_until

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"


def test_oauth_onboarding_end_to_end_with_the_devices_probe(start_bot, sandbox, standin):
    probes = sandbox_probes(sandbox, name="scanner-oauth", mailbox="scanner@contoso.com", password=None,
                            auth="xoauth2", client_id=APP, client_secret=sandbox.state.client_secret(APP))
    bot = start_bot(probes=probes)
    [target] = bot.runtime.cfg.probes.targets
    before = bot.runtime.probe_now(target)
    assert not before.ok and before.reply.raw.startswith("535 5.7.3")  # the device's app has no mailbox yet

    ack = bot.sender.command("/smtp-oauth", f"scanner@contoso.com --app {APP}", user_id=REQUESTER)
    assert ack.status_code == 200 and "Checking OAuth (XOAUTH2) onboarding" in ack.text
    card = bot.card()
    text = str(card.blocks)
    assert "SMTP OAuth onboarding for scanner@contoso.com" in text and "What the device needs" in text
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="request_approve_all")
    [request] = bot.runtime.store.requests.list()

    def probed() -> list:
        return [r for r in bot.runtime.store.requests.audit_rows(request_id=request.id) if r.action == "oauth.probe"]

    [row] = wait_until(probed, what="the onboarding probe")
    assert row.detail["ok"] is True and row.detail["probe_target"] == "scanner-oauth"
    assert row.detail["reply"].startswith("235 ")
    updated = bot.wait_card(lambda blocks: "XOAUTH2 probe" in blocks, what="the card with the probe's result")
    assert "signed in" in str(updated.blocks) and "235 2.7.0 Authentication successful" in str(updated.blocks)
    [after] = bot.runtime.store.probes.history("scanner-oauth")[-1:]
    assert after.ok and after.auth_mode == "oauth"
    assert sandbox.state.client_secret(APP) not in str(bot.runtime.store.requests.audit_rows())


def test_no_probe_without_a_target_for_that_app(start_bot, sandbox):
    bot = start_bot(probes=sandbox_probes(sandbox))  # a password target only
    bot.sender.command("/smtp-oauth", f"scanner@contoso.com --app {APP}", user_id=REQUESTER)
    card = bot.card()
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="request_approve_all")
    [request] = bot.runtime.store.requests.list()
    wait_until(lambda: all(s.state == "verified" for s in bot.runtime.store.requests.get_steps(request.id)),
               what="every step verified")
    assert not [r for r in bot.runtime.store.requests.audit_rows(request_id=request.id) if r.action == "oauth.probe"]
    assert bot.runtime.store.probes.history("printer") == []
