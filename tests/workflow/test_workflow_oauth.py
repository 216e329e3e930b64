"""OAuth onboarding through the gate and the store: stored options, one step per change, applied once, verified,
audited with before/after, undone exactly; a crash while applying is settled by reading the app's access back."""

from __future__ import annotations

import re

import pytest
from workflow_helpers import APPROVER, REQUESTER

from bot.errors import InvalidInput
from bot.workflow.model import BOT_ACTOR, StepState
from handlers.facts import OAuthApp

S = StepState
APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
UPN = "scanner@contoso.com"


def test_onboarding_request_applies_each_step_once_and_undo_restores_exactly(make_workflow, sandbox, store):
    flow = make_workflow()
    view = flow.open_request(UPN, REQUESTER, "C0OPS", app=OAuthApp(APP.upper()))
    assert view.request.options == {"auth_mode": "oauth", "include_org": False, "app_id": APP, "route": "scoped"}
    assert [s.handler_key for s in view.steps] == ["mailbox_smtp_auth", "exchange_service_principal",
                                                   "oauth_scoped_access"]
    assert view.plan["device"]["client_id"] == APP
    outcomes = flow.approve_all(view.request.id, APPROVER)
    assert [o.kind for o in outcomes] == ["approved"] * 3
    steps = {s.handler_key: s for s in store.requests.get_steps(view.request.id)}
    assert {s.state for s in steps.values()} == {S.VERIFIED}
    access = sandbox.state.tenant("contoso").app_access
    assert len(access.service_principals) == 1 and len(access.assignments) == 1
    grant = steps["oauth_scoped_access"]
    assert grant.before["granted"] is False and grant.after == {**grant.before, "granted": True}
    new_cmdlets = [r.cmdlet for r in sandbox.state.requests.for_service("exchange")
                   if r.cmdlet.startswith(("New-", "Add-"))]
    assert sorted(new_cmdlets) == ["New-ManagementRoleAssignment", "New-ManagementScope", "New-ServicePrincipal"]

    for key in ("oauth_scoped_access", "exchange_service_principal", "mailbox_smtp_auth"):
        step = steps[key]
        assert flow.request_undo(step.id, REQUESTER).kind == "undo_requested"
        assert flow.decide(step.id, APPROVER, approve=True).run
        assert flow.run(step.id).state == S.REVERTED, key
    assert access.service_principals == [] and access.assignments == [] and access.scopes == []
    assert sandbox.state.tenant("contoso").user(UPN).mailbox.smtp_client_authentication_disabled is True


def test_unknown_app_holds_the_plan(make_workflow):
    view = make_workflow().open_request(UPN, REQUESTER, "C0OPS", app=OAuthApp("11111111-2222-3333-4444-555555555555"))
    assert view.held and "The app in Entra ID" in view.blockers()
    assert [s.handler_key for s in view.steps] == ["mailbox_smtp_auth"]


@pytest.mark.parametrize(("app", "message"), [(OAuthApp("not-a-guid"), "not an app (client) id"),
                                              (OAuthApp(APP, "everything"), "Unknown route")])
def test_bad_app_or_route_is_refused_before_anything_is_stored(make_workflow, store, app, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        make_workflow().receive(UPN, REQUESTER, "C0OPS", app=app)
    assert store.requests.list() == []


def test_a_registration_that_landed_before_a_crash_is_verified_at_restart(make_workflow, sandbox, store, clock):
    flow = make_workflow()
    view = flow.open_request(UPN, REQUESTER, "C0OPS", app=OAuthApp(APP))
    step = next(s for s in view.steps if s.handler_key == "exchange_service_principal")
    flow.decide(step.id, APPROVER, approve=True)
    assert store.requests.transition_step(step.id, S.APPROVED, S.APPLYING, BOT_ACTOR, "step.applying")
    app = sandbox.state.tenant("contoso").app(APP)
    sandbox.state.grant_mailbox(APP, "printer@contoso.com")  # registers the service principal, as the write did
    assert app.service_principal_id in {sp.object_id for sp in sandbox.state.tenant("contoso").app_access
                                        .service_principals}
    clock.advance(flow.claims.ttl.total_seconds() + 1)  # the dead process's claim on the step runs out
    make_workflow().recover()
    settled = store.requests.get_step(step.id)
    assert settled.state == S.VERIFIED and settled.before["registered"] is False


def test_an_expired_onboarding_says_which_command_opens_it_anew(make_workflow, clock):
    flow = make_workflow()
    view = flow.open_request(UPN, REQUESTER, "C0OPS", app=OAuthApp(APP, "full_access"))
    clock.advance(3601)
    outcome = flow.decide(view.steps[0].id, APPROVER, approve=True)
    assert outcome.kind == "expired"
    assert f"Run /smtp-oauth {UPN} --app {APP} --full-access again" in outcome.message


def onboard(flow, upn, route):
    view = flow.open_request(upn, REQUESTER, "C0OPS", app=OAuthApp(APP, route))
    assert all(o.kind == "approved" for o in flow.approve_all(view.request.id, APPROVER))
    return {s.handler_key: s for s in flow.store.requests.get_steps(view.request.id)}


def undo(flow, step):
    asked = flow.request_undo(step.id, REQUESTER)
    if asked.kind != "undo_requested":
        return asked
    assert flow.decide(step.id, APPROVER, approve=True).run
    return flow.run(step.id)


@pytest.mark.parametrize("route", ["full_access", "scoped"])
def test_the_registration_is_not_undone_while_another_onboarding_with_the_app_holds_a_grant(make_workflow, sandbox,
                                                                                           route):
    if route == "full_access":
        sandbox.state.grant(APP, "SMTP.SendAsApp")
    flow = make_workflow()
    first = onboard(flow, UPN, route)
    grant_key = "oauth_full_access" if route == "full_access" else "oauth_scoped_access"
    second = onboard(flow, "printer@contoso.com", route)
    assert "exchange_service_principal" not in second  # registered already, by the first onboarding
    assert undo(flow, first[grant_key]).state == S.REVERTED

    refused = undo(flow, first["exchange_service_principal"])
    assert refused.kind == "refused" and "printer@contoso.com" in refused.message
    assert flow.store.requests.get_step(first["exchange_service_principal"].id).state == S.VERIFIED
    access = sandbox.state.tenant("contoso").app_access
    assert len(access.service_principals) == 1  # the printer's grant still has its service principal
    assert not [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Remove-ServicePrincipal"]

    assert undo(flow, second[grant_key]).state == S.REVERTED
    assert undo(flow, first["exchange_service_principal"]).state == S.REVERTED
    assert access.service_principals == [] and access.mailbox_permissions == [] and access.assignments == []


def test_a_grant_made_after_the_undo_was_asked_for_still_stops_the_unregistering(make_workflow, sandbox):
    sandbox.state.grant(APP, "SMTP.SendAsApp")
    flow = make_workflow()
    first = onboard(flow, UPN, "full_access")
    assert undo(flow, first["oauth_full_access"]).state == S.REVERTED
    registration = first["exchange_service_principal"]
    assert flow.request_undo(registration.id, REQUESTER).kind == "undo_requested"
    onboard(flow, "printer@contoso.com", "full_access")  # meanwhile, another device is onboarded with the app
    assert flow.decide(registration.id, APPROVER, approve=True).run
    stopped = flow.run(registration.id)
    assert stopped.state == S.VERIFIED and "FullAccess on printer@contoso.com" in stopped.error
    assert len(sandbox.state.tenant("contoso").app_access.service_principals) == 1
