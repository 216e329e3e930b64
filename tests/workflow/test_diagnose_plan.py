"""diagnose() and the least-change planner for each demo user, over HTTPS against the sandbox."""

from __future__ import annotations

import pytest

from bot.errors import InvalidInput, M365Error, UserNotFound
from bot.workflow.diagnose import Diagnosis, diagnose
from bot.workflow.plan import make_plan
from handlers import CHECKS, REMEDIATIONS, Finding, Status, in_report_order
from handlers.mailbox_smtp_auth import MailboxSmtpAuth
from handlers.org_smtp_auth import OrgSmtpAuth

# user, tenant, planned steps, {check: status} that must hold
DEMO_USERS = [
    ("printer@contoso.com", "contoso", [], {"account": Status.OK, "mailbox_smtp_auth": Status.OK}),
    ("scanner@contoso.com", "contoso", ["mailbox_smtp_auth"], {"mailbox_smtp_auth": Status.CHANGE}),
    ("copier@contoso.com", "contoso", ["mailbox_smtp_auth"], {"mailbox_smtp_auth": Status.CHANGE}),
    ("erp@contoso.com", "contoso", ["per_user_mfa"], {"per_user_mfa": Status.CHANGE}),
    ("crm@contoso.com", "contoso", [], {"conditional_access": Status.BLOCKED}),
    ("fax@contoso.com", "contoso", [], {"auth_policy": Status.BLOCKED}),
    ("oldscanner@contoso.com", "contoso", [], {"account": Status.BLOCKED}),
    ("kiosk@contoso.com", "contoso", [], {"account": Status.BLOCKED, "mailbox_smtp_auth": Status.NOT_APPLICABLE}),
    ("admin@contoso.com", "contoso", [], {"conditional_access": Status.BLOCKED}),
    ("breakglass@contoso.com", "contoso", [], {"conditional_access": Status.OK}),
    ("mfp@fabrikam.com", "fabrikam", ["security_defaults"], {"security_defaults": Status.CHANGE,
                                                            "mailbox_smtp_auth": Status.OK}),
]


@pytest.mark.parametrize(("upn", "tenant", "steps", "statuses"), DEMO_USERS, ids=[u[0] for u in DEMO_USERS])
def test_each_demo_user_gets_its_least_change_plan(make_m365, upn, tenant, steps, statuses):
    [diagnosis] = diagnose(make_m365(tenant), [upn])
    plan = make_plan(diagnosis)
    assert diagnosis.error is None
    assert [s.key for s in plan.steps] == steps
    for key, status in statuses.items():
        assert diagnosis.findings[key].status is status, (key, diagnosis.findings[key].summary)
    assert "org_smtp_auth" not in [s.key for s in plan.steps]  # never proposed unless asked for
    assert "security_defaults" in [s.key for s in plan.steps] or tenant == "contoso"


def test_healthy_and_blocked_flags(make_m365):
    diagnoses = diagnose(make_m365(), ["printer@contoso.com", "crm@contoso.com", "scanner@contoso.com"])
    printer, crm, scanner = (make_plan(d) for d in diagnoses)
    assert printer.healthy and not printer.blocked
    assert crm.blocked and not crm.healthy and not crm.steps
    assert not scanner.healthy and not scanner.blocked


def test_inheriting_mailbox_is_diagnosed_as_inherited(make_m365):
    [diagnosis] = diagnose(make_m365(), ["copier@contoso.com"])
    finding = diagnosis.findings["mailbox_smtp_auth"]
    assert finding.current is None
    assert finding.evidence == {"mailbox": None, "organization": True, "inherited": True}
    assert "inherits the organisation's setting: off" in finding.summary
    assert "disabled for the Tenant" in finding.summary
    [step] = make_plan(diagnosis).steps
    assert step.key == "mailbox_smtp_auth" and step.current_text.startswith("not set")


def test_org_switch_only_when_asked_and_only_for_inheriting_mailboxes(make_m365):
    copier, scanner = diagnose(make_m365(), ["copier@contoso.com", "scanner@contoso.com"])
    assert [s.key for s in make_plan(copier, include_org=True).steps] == ["org_smtp_auth"]
    # An explicit mailbox value wins over the org value: the org switch would not help the scanner.
    assert [s.key for s in make_plan(scanner, include_org=True).steps] == ["mailbox_smtp_auth"]


def diagnosed(changes: dict[str, dict], upn: str = "dev@contoso.com") -> Diagnosis:
    """A diagnosis where the handlers in `changes` need a change (with that evidence) and the rest are OK."""
    findings = {
        h.key: Finding(h.key, h.title, Status.CHANGE if h.key in changes else Status.OK, "s",
                       evidence=changes.get(h.key, {}))
        for h in in_report_order()
    }
    return Diagnosis(upn=upn, auth_mode="basic", findings=findings)


# findings that need a change, include_org, planned keys, {not proposed key: why}
SMALLER = ("Enabling SMTP AUTH for this mailbox is the smaller change; `--org` asks for the organisation switch "
           "instead.")
PLANNER_CASES = [
    ({"org_smtp_auth": {}}, False, [], {"org_smtp_auth": "Not needed for this mailbox."}),
    ({"org_smtp_auth": {}}, True, [], {"org_smtp_auth": "Not needed for this mailbox."}),
    ({"mailbox_smtp_auth": {"inherited": True}, "org_smtp_auth": {}}, False, ["mailbox_smtp_auth"],
     {"org_smtp_auth": SMALLER}),
    ({"mailbox_smtp_auth": {"inherited": True}, "org_smtp_auth": {}, "per_user_mfa": {}}, True,
     ["per_user_mfa", "org_smtp_auth"], {"mailbox_smtp_auth": "The organisation switch was asked for instead."}),
    ({"security_defaults": {}, "per_user_mfa": {}, "mailbox_smtp_auth": {}}, False,
     ["mailbox_smtp_auth", "per_user_mfa", "security_defaults"], {}),
]


@pytest.mark.parametrize(("changes", "include_org", "planned", "why"), PLANNER_CASES)
def test_planner_rules(changes, include_org, planned, why):
    plan = make_plan(diagnosed(changes), include_org=include_org)
    assert [s.key for s in plan.steps] == planned
    assert {f.key: reason for f, reason in plan.not_proposed} == why


def test_security_defaults_are_not_touched_when_only_the_mailbox_is_off(make_m365, sandbox):
    sandbox.state.tenant("fabrikam").user("mfp@fabrikam.com").mailbox.smtp_client_authentication_disabled = True
    [diagnosis] = diagnose(make_m365("fabrikam"), ["mfp@fabrikam.com"], auth_mode="oauth")
    assert [s.key for s in make_plan(diagnosis).steps] == ["mailbox_smtp_auth"]
    assert diagnosis.findings["security_defaults"].status is Status.OK


def test_oauth_devices_are_not_blocked_by_basic_only_settings(make_m365):
    erp, fax, crm = diagnose(make_m365(), ["erp@contoso.com", "fax@contoso.com", "crm@contoso.com"],
                             auth_mode="oauth")
    assert make_plan(erp).healthy and make_plan(fax).healthy
    assert make_plan(crm).healthy


def test_in_oauth_mode_only_policies_for_every_client_app_are_a_conditional_access_finding(make_m365):
    crm, admin = diagnose(make_m365(), ["crm@contoso.com", "admin@contoso.com"], auth_mode="oauth")
    legacy_only = crm.findings["conditional_access"]  # enforced legacy block, report-only legacy block
    assert legacy_only.status is Status.OK and "do not affect OAuth" in legacy_only.summary
    every_client = admin.findings["conditional_access"]
    assert every_client.status is Status.WARN
    assert every_client.summary == ("Policies for every client app, OAuth included, apply to this user: "
                                    "Require MFA for admins.")
    assert "app-only token (SMTP.SendAsApp)" in every_client.advice


def test_each_finding_and_planned_step_links_its_handlers_microsoft_page(make_m365):
    [diagnosis] = diagnose(make_m365(), ["erp@contoso.com"])
    handlers = {**CHECKS, **REMEDIATIONS}
    assert {k: f.docs for k, f in diagnosis.findings.items()} == {k: handlers[k].docs for k in diagnosis.findings}
    plan = make_plan(diagnosis).to_dict()
    assert [s["docs"] for s in plan["steps"]] == [REMEDIATIONS["per_user_mfa"].docs]
    assert all(f["docs"].startswith("https://") for f in plan["advisories"])


def test_not_applicable_findings_are_kept_apart_from_the_settings_already_ok(make_m365):
    [kiosk] = diagnose(make_m365(), ["kiosk@contoso.com"])
    [erp] = diagnose(make_m365(), ["erp@contoso.com"], auth_mode="oauth")
    kiosk_plan, erp_plan = make_plan(kiosk), make_plan(erp)
    assert [f.key for f in kiosk_plan.not_applicable] == ["mailbox_smtp_auth"]
    assert "mailbox_smtp_auth" not in [f.key for f in kiosk_plan.ok]
    assert [f.key for f in erp_plan.not_applicable] == ["basic_auth_retirement"]
    assert "basic_auth_retirement" not in [f.key for f in erp_plan.ok]
    assert erp_plan.to_dict()["not_applicable"][0]["status"] == "n/a"


def test_unknown_user_is_reported_and_others_still_diagnosed(make_m365):
    ghost, printer = diagnose(make_m365(), ["ghost@contoso.com", "printer@contoso.com"])
    assert isinstance(ghost.error, UserNotFound) and "ghost@contoso.com" in ghost.error.message
    assert make_plan(ghost).error and not make_plan(ghost).steps
    assert printer.error is None and make_plan(printer).healthy


@pytest.mark.parametrize("bad", ["scanner", "scanner@", "@contoso.com", "scan ner@contoso.com",
                                 "scanner@contoso", "a..b@contoso.com", "", "x" * 70 + "@contoso.com"])
def test_malformed_upn_is_rejected_before_any_request(make_m365, sandbox, bad):
    m365 = make_m365()
    with pytest.raises(InvalidInput, match="not a user principal name|No user given"):
        diagnose(m365, ["printer@contoso.com", bad])
    assert len(sandbox.state.requests) == 0


def test_slack_mailto_form_is_accepted(make_m365):
    [diagnosis] = diagnose(make_m365(), ["<mailto:Scanner@Contoso.com|Scanner@Contoso.com>"])
    assert diagnosis.upn == "scanner@contoso.com" and diagnosis.error is None


def test_missing_read_permission_is_named_in_the_finding(make_m365, sandbox):
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Policy.Read.All")
    [diagnosis] = diagnose(make_m365(), ["erp@contoso.com"])
    for key in ("conditional_access", "security_defaults"):
        finding = diagnosis.findings[key]
        assert finding.status is Status.UNKNOWN
        assert "Policy.Read.All" in finding.summary + finding.advice
        assert finding.docs == {**CHECKS, **REMEDIATIONS}[key].docs
    assert diagnosis.findings["mailbox_smtp_auth"].status is Status.OK  # Exchange reads still worked


def test_missing_exchange_role_is_named(make_m365, sandbox):
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Exchange Administrator")
    [diagnosis] = diagnose(make_m365(), ["scanner@contoso.com"])
    finding = diagnosis.findings["mailbox_smtp_auth"]
    assert finding.status is Status.UNKNOWN and "Exchange" in finding.summary and "role" in finding.summary


def non_token_requests(sandbox) -> list:
    return [r for r in sandbox.state.requests if r.service != "login"]


def test_one_user_needs_at_most_eight_requests(make_m365, sandbox):
    diagnose(make_m365(), ["scanner@contoso.com"])
    assert len(non_token_requests(sandbox)) <= 8


def test_hundred_users_need_at_most_twenty_five_requests(make_m365, sandbox):
    upns = [f"device{n:03}@contoso.com" for n in range(100)]
    for upn in upns:
        sandbox.state.add_user("contoso", upn)
    results = diagnose(make_m365(), upns)
    assert all(d.error is None for d in results)
    assert len(non_token_requests(sandbox)) <= 25


def test_throttled_batch_items_during_diagnosis_are_retried(make_m365, sandbox, clock):
    sandbox.state.faults.add("status", service="graph", path="/users/scanner", in_batch=True, status=429,
                             retry_after="2.5")
    [diagnosis] = diagnose(make_m365(), ["scanner@contoso.com"])
    assert diagnosis.error is None and clock.sleeps == [2.5]


def test_role_scoped_policy_without_role_read_is_unknown_not_ignored(make_m365, sandbox):
    """Without RoleManagement.Read.Directory Graph hides roleTemplateId; the role policy cannot be evaluated."""
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "RoleManagement.Read.Directory")
    [diagnosis] = diagnose(make_m365(), ["admin@contoso.com"])
    finding = diagnosis.findings["conditional_access"]
    assert finding.status is Status.UNKNOWN
    assert "policy Require MFA for admins:" in finding.summary
    assert "RoleManagement.Read.Directory" in finding.advice


class SwitchFacts:
    """Just the two SMTP AUTH switches: the mailbox's and the organisation's (None: it cannot be read)."""

    def __init__(self, mailbox: bool | None, org: bool | None) -> None:
        self._mailbox, self._org = mailbox, org

    def mailbox(self, upn: str) -> dict:
        return {"SmtpClientAuthenticationDisabled": self._mailbox}

    require_mailbox = mailbox

    def transport_config(self) -> dict:
        if self._org is None:
            raise M365Error("Get-TransportConfig refused")
        return {"SmtpClientAuthenticationDisabled": self._org}


OFF, ON, INHERITS, UNREADABLE = True, False, None, None
MAILBOX_ONLY, ORG_ONLY, NOTHING = ["mailbox_smtp_auth"], ["org_smtp_auth"], []
WOULD_NOT_HELP = ("Would not help: this mailbox's own setting (off) wins over the organisation's; turning it on for "
                  "the mailbox is what fixes it.")
ON_ITSELF = "Not needed: this mailbox turns SMTP AUTH on itself, which wins over the organisation's setting."
# mailbox SmtpClientAuthenticationDisabled, org's, include_org -> planned steps, {not proposed key: why}
SWITCH_TABLE = [
    (OFF, OFF, False, MAILBOX_ONLY, {"org_smtp_auth": WOULD_NOT_HELP}),
    (OFF, OFF, True, MAILBOX_ONLY, {"org_smtp_auth": WOULD_NOT_HELP}),
    (OFF, ON, False, MAILBOX_ONLY, {}),
    (OFF, ON, True, MAILBOX_ONLY, {}),
    (OFF, UNREADABLE, False, MAILBOX_ONLY, {}),
    (OFF, UNREADABLE, True, MAILBOX_ONLY, {}),
    (ON, OFF, False, NOTHING, {"org_smtp_auth": ON_ITSELF}),
    (ON, OFF, True, NOTHING, {"org_smtp_auth": ON_ITSELF}),
    (ON, ON, False, NOTHING, {}),
    (ON, ON, True, NOTHING, {}),
    (ON, UNREADABLE, False, NOTHING, {}),
    (ON, UNREADABLE, True, NOTHING, {}),
    (INHERITS, OFF, False, MAILBOX_ONLY, {"org_smtp_auth": SMALLER}),
    (INHERITS, OFF, True, ORG_ONLY, {"mailbox_smtp_auth": "The organisation switch was asked for instead."}),
    (INHERITS, ON, False, NOTHING, {}),
    (INHERITS, ON, True, NOTHING, {}),
    (INHERITS, UNREADABLE, False, NOTHING, {}),
    (INHERITS, UNREADABLE, True, NOTHING, {}),
]


@pytest.mark.parametrize(("mailbox", "org", "include_org", "planned", "why"), SWITCH_TABLE)
def test_the_org_switch_is_proposed_only_in_place_of_the_switch_of_a_mailbox_that_inherits(
        mailbox, org, include_org, planned, why):
    facts = SwitchFacts(mailbox, org)
    findings = {h.key: h.inspect(facts, "dev@contoso.com") for h in (MailboxSmtpAuth(), OrgSmtpAuth())}
    plan = make_plan(Diagnosis("dev@contoso.com", "basic", findings=findings), include_org=include_org)
    assert [s.key for s in plan.steps] == planned
    assert {f.key: reason for f, reason in plan.not_proposed} == why
