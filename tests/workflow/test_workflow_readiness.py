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
