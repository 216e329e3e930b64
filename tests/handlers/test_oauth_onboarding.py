"""OAuth onboarding against the sandbox: each check (present, absent, unreadable), each step's apply, verify
and undo (restoring exactly), the scoped and FullAccess routes, and the XOAUTH2 probe refused before, green after."""

from __future__ import annotations

import pytest

from bot.errors import BotError
from bot.probe import probe
from bot.probe.model import ProbeTarget
from bot.workflow.diagnose import diagnose
from bot.workflow.plan import make_plan
from handlers import CHECKS, REMEDIATIONS, Change, Status
from handlers.facts import Facts, OAuthApp
from handlers.oauth_mailbox_access import scope_name

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"  # the seeded scanner app: in Entra ID, not in Exchange
UPN = "scanner@contoso.com"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


def facts(m365, route="scoped", app=APP):
    return Facts(m365, app=OAuthApp(app, route))


def access(sandbox):
    return sandbox.state.tenant("contoso").app_access


def device_token(sandbox, make_m365):
    """A token of the scanner's own app (client credentials, Exchange scope) from the sandbox's Entra ID."""
    return make_m365(client_id=APP, client_secret=sandbox.state.client_secret(APP)).tokens.token(EXCHANGE_SCOPE)


def xoauth2(sandbox, token):
    target = ProbeTarget(name="scanner", mailbox=UPN, host="localhost", port=sandbox.smtp.port, auth="xoauth2",
                         ca_file=str(sandbox.ca_path), timeout=5)
    return probe(target, credential=token)


def test_checks_find_the_app_and_no_consent(m365):
    f = facts(m365)
    app = CHECKS["oauth_app"].inspect(f, UPN)
    assert app.status is Status.OK and app.evidence["appId"] == APP
    consent = CHECKS["oauth_consent"].inspect(f, UPN)
    assert consent.status is Status.OK and consent.evidence["consented"] is False  # scoped: none needed


def test_unknown_app_is_blocked_with_the_portal_path_and_consent_url(m365):
    other = "11111111-2222-3333-4444-555555555555"
    finding = CHECKS["oauth_app"].inspect(facts(m365, app=other), UPN)
    assert finding.status is Status.BLOCKED
    assert "App registrations › New registration" in finding.advice
    assert f"https://login.microsoftonline.com/{m365.tenant_id}/adminconsent?client_id={other}" in finding.advice
    assert REMEDIATIONS["exchange_service_principal"].inspect(facts(m365, app=other), UPN).status is Status.NOT_APPLICABLE


def test_consent_blocks_the_scoped_route_and_is_required_by_full_access(sandbox, m365):
    assert CHECKS["oauth_consent"].inspect(facts(m365, "full_access"), UPN).status is Status.BLOCKED
    blocked = CHECKS["oauth_consent"].inspect(facts(m365, "full_access"), UPN)
    assert "Grant admin consent" in blocked.advice and f"adminconsent?client_id={APP}" in blocked.advice
    sandbox.state.grant(APP, "SMTP.SendAsApp")
    assert CHECKS["oauth_consent"].inspect(facts(m365, "full_access"), UPN).status is Status.OK
    scoped = CHECKS["oauth_consent"].inspect(facts(m365, "scoped"), UPN)
    assert scoped.status is Status.BLOCKED and "Remove permission" in scoped.advice
    assert "mailbox permission" in scoped.summary and "every mailbox" not in scoped.summary
    sandbox.state.grant_mailbox(APP, UPN)  # it already sends by FullAccess: a warning, not a blocker
    moving = CHECKS["oauth_consent"].inspect(facts(m365, "scoped"), UPN)
    assert moving.status is Status.WARN and "FullAccess" in moving.summary and "Remove permission" in moving.advice


def test_with_consent_the_scoped_role_alone_is_refused_and_works_once_the_consent_is_removed(sandbox, m365,
                                                                                           make_m365):
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    for step in plan.steps:
        assert REMEDIATIONS[step.key].verify(m365, REMEDIATIONS[step.key].apply(m365, UPN, step.current))
    assert xoauth2(sandbox, device_token(sandbox, make_m365)).ok
    sandbox.state.grant(APP, "SMTP.SendAsApp")  # an admin consents: the app's new tokens carry the claim
    assert not xoauth2(sandbox, device_token(sandbox, make_m365)).ok  # Exchange now wants a mailbox permission
    advice = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    assert [f.key for f in advice.advisories if f.status is Status.BLOCKED] == ["oauth_consent"]
    sandbox.state.revoke(APP, "SMTP.SendAsApp")
    assert xoauth2(sandbox, device_token(sandbox, make_m365)).ok


def test_checks_without_application_read_are_unknown_naming_the_permission(sandbox, make_m365):
    sandbox.state.revoke(sandbox.creds()[1], "Application.Read.All")
    finding = CHECKS["oauth_app"].inspect(facts(make_m365()), UPN)
    assert finding.status is Status.UNKNOWN and "Application.Read.All" in finding.summary + finding.advice


def test_register_service_principal_apply_verify_undo(sandbox, m365):
    step = REMEDIATIONS["exchange_service_principal"]
    finding = step.inspect(facts(m365), UPN)
    assert finding.status is Status.CHANGE and finding.current["registered"] is False
    before = finding.current
    change = step.apply(m365, UPN, before)
    assert change.after == {**before, "registered": True} and step.verify(m365, change)
    [sp] = access(sandbox).service_principals
    assert (sp.app_id, sp.object_id) == (APP, before["object_id"])
    assert step.inspect(facts(m365), UPN).status is Status.OK
    assert step.apply(m365, UPN, before) == change  # applied once: a second attempt finds it and adds nothing
    assert len(access(sandbox).service_principals) == 1
    undo = step.revert(m365, change)
    assert undo == Change(step.key, UPN, change.after, before) and step.verify(m365, undo)
    assert access(sandbox).service_principals == []


def test_scoped_route_plan_apply_verify_undo_and_probe(sandbox, m365, make_m365):
    token = device_token(sandbox, make_m365)
    assert not xoauth2(sandbox, token).ok  # refused before onboarding
    [diagnosis] = diagnose(m365, [UPN], app=OAuthApp(APP))
    plan = make_plan(diagnosis)
    assert [s.key for s in plan.steps] == ["mailbox_smtp_auth", "exchange_service_principal", "oauth_scoped_access"]
    assert plan.device["host"] == "smtp.office365.com" and plan.device["port"] == 587
    assert plan.device["scope"] == EXCHANGE_SCOPE and plan.device["client_id"] == APP
    assert plan.device["tenant_id"] == m365.tenant_id and plan.device["username"] == UPN
    changes = []
    for step in plan.steps:
        handler = REMEDIATIONS[step.key]
        change = handler.apply(m365, UPN, step.current)
        assert handler.verify(m365, change), step.key
        changes.append((handler, change))
    tenant = sandbox.state.tenant("contoso")
    [scope], [assignment] = tenant.app_access.scopes, tenant.app_access.assignments
    assert scope.recipient_restriction_filter == "PrimarySmtpAddress -eq 'scanner@contoso.com'"
    assert (assignment.role, assignment.custom_resource_scope) == ("Application SMTP.SendAsApp", scope.name)
    assert xoauth2(sandbox, token).ok  # green after
    printer = ProbeTarget(name="printer", mailbox="printer@contoso.com", host="localhost", port=sandbox.smtp.port,
                          auth="xoauth2", ca_file=str(sandbox.ca_path), timeout=5)
    assert not probe(printer, credential=token).ok  # the scope holds this mailbox only
    again = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    assert again.steps == [] and again.healthy
    for handler, change in reversed(changes):
        undo = handler.revert(m365, change)
        assert handler.verify(m365, undo), handler.key
    assert tenant.app_access.scopes == [] and tenant.app_access.assignments == []
    assert tenant.app_access.service_principals == []
    assert tenant.user(UPN).mailbox.smtp_client_authentication_disabled is True  # exactly as before
    assert not xoauth2(sandbox, device_token(sandbox, make_m365)).ok


def test_full_access_route_needs_consent_and_grants_the_mailbox(sandbox, m365, make_m365):
    [diagnosis] = diagnose(m365, [UPN], app=OAuthApp(APP, "full_access"))
    plan = make_plan(diagnosis)
    assert plan.blocked and [f.key for f in plan.advisories if f.status is Status.BLOCKED] == ["oauth_consent"]
    assert [s.key for s in plan.steps] == ["mailbox_smtp_auth", "exchange_service_principal", "oauth_full_access"]
    sandbox.state.grant(APP, "SMTP.SendAsApp")
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP, "full_access"))[0])
    assert not plan.blocked
    changes = [(REMEDIATIONS[s.key], REMEDIATIONS[s.key].apply(m365, UPN, s.current)) for s in plan.steps]
    assert all(h.verify(m365, c) for h, c in changes)
    tenant = sandbox.state.tenant("contoso")
    [permission] = tenant.app_access.mailbox_permissions
    assert permission.access_rights == ["FullAccess"] and tenant.app_access.assignments == []
    assert xoauth2(sandbox, device_token(sandbox, make_m365)).ok
    handler, change = changes[2]
    undo = handler.revert(m365, change)
    assert handler.verify(m365, undo) and tenant.app_access.mailbox_permissions == []
    assert not xoauth2(sandbox, device_token(sandbox, make_m365)).ok


def test_scoped_verify_fails_when_the_scope_misses_the_mailbox(sandbox, m365):
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    steps = {s.key: s for s in plan.steps}
    REMEDIATIONS["exchange_service_principal"].apply(m365, UPN, steps["exchange_service_principal"].current)
    handler = REMEDIATIONS["oauth_scoped_access"]
    change = handler.apply(m365, UPN, steps["oauth_scoped_access"].current)
    sandbox.state.tenant("contoso").app_access.scopes[0].recipient_restriction_filter = "Alias -eq 'printer'"
    assert not handler.verify(m365, change)  # Test-ServicePrincipalAuthorization says not in scope


LONG_A = "frontdesk-scanner.manufacturing.building-seven.floor-3@contoso.com"
LONG_B = "frontdesk-scanner.manufacturing.building-seven.floor-4@contoso.com"


def onboard_scoped(m365, upn):
    """Plan and apply a scoped onboarding of `upn`; returns the grant's handler and change."""
    plan = make_plan(diagnose(m365, [upn], app=OAuthApp(APP))[0])
    changes = {}
    for step in plan.steps:
        handler = REMEDIATIONS[step.key]
        changes[step.key] = handler.apply(m365, upn, step.current)
        assert handler.verify(m365, changes[step.key]), (upn, step.key)
    return REMEDIATIONS["oauth_scoped_access"], changes["oauth_scoped_access"]


def test_scope_names_stay_distinct_readable_and_within_exchanges_limit():
    assert LONG_A[:50] == LONG_B[:50]  # the old names (cut at 64 characters) were the same for both
    names = {upn: scope_name(APP, upn) for upn in (LONG_A, LONG_B, UPN)}
    assert len(set(names.values())) == 3 and all(len(n) <= 64 for n in names.values())
    assert all(n.startswith("SMTP OAuth 3c9e7a51 ") for n in names.values())
    assert UPN in names[UPN] and LONG_A[:20] in names[LONG_A]  # the address while it fits, its start when not
    assert scope_name(APP, UPN) == scope_name(APP, UPN.upper())  # one mailbox, one name
    assert scope_name(APP, UPN) != scope_name("11111111-2222-3333-4444-555555555555", UPN)


def test_two_long_addresses_sharing_a_beginning_each_get_their_own_scoped_grant(sandbox, m365):
    for upn in (LONG_A, LONG_B):
        sandbox.state.add_user("contoso", upn, smtp_client_authentication_disabled=True)
    first, first_change = onboard_scoped(m365, LONG_A)
    second, second_change = onboard_scoped(m365, LONG_B)  # verify: Test-ServicePrincipalAuthorization covers it
    tenant = sandbox.state.tenant("contoso")
    assert sorted(s.recipient_restriction_filter for s in tenant.app_access.scopes) == [
        f"PrimarySmtpAddress -eq '{LONG_A}'", f"PrimarySmtpAddress -eq '{LONG_B}'"]
    assert len(tenant.app_access.assignments) == 2
    assert second.verify(m365, second.revert(m365, second_change))  # undo takes only its own
    assert [s.recipient_restriction_filter for s in tenant.app_access.scopes] == [f"PrimarySmtpAddress -eq '{LONG_A}'"]
    assert first.verify(m365, first_change)


def test_a_scope_of_the_same_name_for_another_mailbox_is_not_taken_for_this_grant(sandbox, m365):
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    steps = {s.key: s for s in plan.steps}
    REMEDIATIONS["exchange_service_principal"].apply(m365, UPN, steps["exchange_service_principal"].current)
    value = steps["oauth_scoped_access"].current
    m365.exchange.invoke("New-ManagementScope", {"Name": value["name"],
                                                 "RecipientRestrictionFilter": "Alias -eq 'printer'"})
    m365.exchange.invoke("New-ManagementRoleAssignment", {"Name": value["name"], "App": value["object_id"],
                                                          "Role": "Application SMTP.SendAsApp",
                                                          "CustomResourceScope": value["name"]})
    handler = REMEDIATIONS["oauth_scoped_access"]
    assert not handler.present(facts(m365), UPN, value)  # the name matches, the mailbox does not
    with pytest.raises(BotError, match="exists with another recipient filter"):
        handler.apply(m365, UPN, value)
    [scope] = access(sandbox).scopes
    assert scope.recipient_restriction_filter == "Alias -eq 'printer'" and len(access(sandbox).assignments) == 1


def test_grant_before_registration_fails_and_changes_nothing(sandbox, m365):
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    step = next(s for s in plan.steps if s.key == "oauth_scoped_access")
    with pytest.raises(Exception, match="couldn't be found"):
        REMEDIATIONS["oauth_scoped_access"].apply(m365, UPN, step.current)
    access = sandbox.state.tenant("contoso").app_access
    assert access.assignments == [] and access.scopes == []  # the scope it had just made is removed again


def test_a_basic_diagnosis_runs_no_onboarding_check(m365):
    [diagnosis] = diagnose(m365, [UPN])
    assert not {"oauth_app", "oauth_consent", "exchange_service_principal", "oauth_scoped_access"} & set(
        diagnosis.findings) and diagnosis.device is None


def test_unregistering_an_app_that_still_has_the_mailbox_is_refused(sandbox, m365):
    plan = make_plan(diagnose(m365, [UPN], app=OAuthApp(APP))[0])
    steps = {s.key: s for s in plan.steps}
    register, grant = REMEDIATIONS["exchange_service_principal"], REMEDIATIONS["oauth_scoped_access"]
    registered = register.apply(m365, UPN, steps["exchange_service_principal"].current)
    granted = grant.apply(m365, UPN, steps["oauth_scoped_access"].current)
    with pytest.raises(BotError, match="undo its mailbox access first"):
        register.revert(m365, registered)
    assert len(sandbox.state.tenant("contoso").app_access.service_principals) == 1  # nothing removed
    grant.revert(m365, granted)
    assert register.verify(m365, register.revert(m365, registered))


@pytest.mark.parametrize(("cloud", "host", "scope", "login"), [
    ("global", "smtp.office365.com", "https://outlook.office365.com/.default", "https://login.microsoftonline.com"),
    ("usgovhigh", "smtp.office365.us", "https://outlook.office365.us/.default", "https://login.microsoftonline.us"),
    ("china", "smtp.partner.outlook.cn", "https://partner.outlook.cn/.default", "https://login.chinacloudapi.cn"),
])
def test_device_settings_follow_the_tenants_cloud(cloud, host, scope, login):
    from types import SimpleNamespace

    from bot.m365.clouds import CLOUDS
    from handlers.oauth_app import device_settings

    m365 = SimpleNamespace(exchange=SimpleNamespace(scope=CLOUDS[cloud].exchange_scope), tenant_id="t-1")
    device = device_settings(m365, UPN, APP)
    assert (device["host"], device["port"], device["scope"]) == (host, 587, scope)
    assert device["token_endpoint"] == f"{login}/t-1/oauth2/v2.0/token"
