"""Readiness after an OAuth onboarding through the workflow: the mailbox is in the OAuth class, read per role
assignment (not per mailbox), and it is never a clean-up candidate."""

from __future__ import annotations

from workflow_helpers import APPROVER, REQUESTER

from bot.clock import FakeClock
from bot.readiness import AccountClass, unused_mailboxes
from bot.readiness.collect import build_report
from handlers.facts import OAuthApp

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"


def test_after_oauth_onboarding_the_mailbox_is_in_the_oauth_class(sandbox, m365, make_workflow):
    now = FakeClock(sandbox.state.clock.now())
    before = {a.upn: a for a in build_report(m365, days=30, now=now.now()).accounts}
    assert before["breakglass@contoso.com"].klass is AccountClass.ENABLED_UNUSED
    flow = make_workflow()
    view = flow.open_request("breakglass@contoso.com", REQUESTER, "C0OPS", app=OAuthApp(APP))
    for outcome in flow.approve_all(view.request.id, APPROVER):
        assert outcome.run
    assert sandbox.state.tenant("contoso").app_access.assignments  # the scoped role is there

    sandbox.state.requests.clear()
    report = build_report(m365, days=30, now=now.now())
    after = {a.upn: a for a in report.accounts}
    box = after["breakglass@contoso.com"]
    assert box.klass is AccountClass.OAUTH and box.oauth_apps == ["Scanner 3rd Floor (SMTP OAuth)"]
    assert "Scanner 3rd Floor (SMTP OAuth) may send as it with a token" in box.why
    assert ("breakglass@contoso.com", False) not in unused_mailboxes(report)  # never proposed for clean-up
    assert after["fax@contoso.com"].klass is AccountClass.ENABLED_UNUSED and not after["fax@contoso.com"].oauth
    assert any("FullAccess grants" in n for n in report.oauth_notes)
    # per role assignment, never per mailbox: the assignments, the scopes and one listing for its one scope
    cmdlets = [r.cmdlet for r in sandbox.state.requests if r.service == "exchange"]
    assert cmdlets.count("Get-ManagementRoleAssignment") == 1 and cmdlets.count("Get-ManagementScope") == 1
    assert cmdlets.count("Get-CASMailbox") == 2  # every mailbox, then the scope's


def test_a_mailbox_the_bot_gave_an_app_full_access_to_is_oauth_never_a_clean_up_candidate(sandbox, m365,
                                                                                        make_workflow):
    """Exchange lists FullAccess only per mailbox, so the report cannot see it: the bot's own verified onboarding
    (not undone) tells it. Turning SMTP AUTH off there would stop the app (the switch applies to XOAUTH2 too)."""
    now = FakeClock(sandbox.state.clock.now()).now()
    sandbox.state.grant(APP, "SMTP.SendAsApp")  # the full_access route needs the admin consent in Entra
    flow = make_workflow()
    view = flow.open_request("breakglass@contoso.com", REQUESTER, "C0OPS", app=OAuthApp(APP, "full_access"))
    for outcome in flow.approve_all(view.request.id, APPROVER):
        assert outcome.run
    steps = {s.handler_key: s for s in flow.store.requests.get_steps(view.request.id)}
    assert steps["oauth_full_access"].state == "verified"
    assert sandbox.state.tenant("contoso").app_access.mailbox_permissions  # FullAccess, no role assignment

    blind = build_report(m365, days=30, now=now)  # what Exchange alone shows: no sign of the app's use
    seen = {a.upn: a for a in blind.accounts}["breakglass@contoso.com"]
    assert seen.klass is AccountClass.ENABLED_UNUSED
    assert "cannot be seen (Exchange lists FullAccess one mailbox at a time)" in seen.why  # said where it matters
    assert any("known only where the bot's own /smtp-oauth onboarding made them" in n for n in blind.oauth_notes)

    assert flow.onboarded_mailboxes() == {"breakglass@contoso.com": [APP]}
    report = build_report(m365, days=30, now=now, onboarded=flow.onboarded_mailboxes())
    box = {a.upn: a for a in report.accounts}["breakglass@contoso.com"]
    assert box.klass is AccountClass.OAUTH and box.oauth_onboarded == [APP]
    assert f"the bot's /smtp-oauth onboarding gave app {APP} access to it" in box.why
    assert "breakglass@contoso.com" not in {upn for upn, _ in unused_mailboxes(report)}
    assert {upn for upn, _ in unused_mailboxes(report)} == {upn for upn, _ in unused_mailboxes(blind)} - {
        "breakglass@contoso.com"}  # nothing else changes

    grant = steps["oauth_full_access"]
    assert flow.request_undo(grant.id, REQUESTER).kind == "undo_requested"
    assert flow.onboarded_mailboxes() == {"breakglass@contoso.com": [APP]}  # asked, not done: the grant stands
    assert flow.decide(grant.id, APPROVER, approve=True).run and flow.run(grant.id).state == "reverted"
    assert flow.onboarded_mailboxes() == {}  # undone: the report no longer counts it
