"""Every remediation's inspect -> apply -> verify -> revert round trip over HTTPS against the sandbox."""

from __future__ import annotations

import pytest

from bot.errors import MailboxNotFound, PermissionMissing
from handlers import REMEDIATIONS, Change, Status
from handlers.facts import Facts

ROUND_TRIPS = [
    # remediation, tenant, user, value before, value after apply
    ("mailbox_smtp_auth", "contoso", "scanner@contoso.com", True, False),
    ("mailbox_smtp_auth", "contoso", "copier@contoso.com", None, False),  # inherits: null comes back as null
    ("org_smtp_auth", "contoso", "copier@contoso.com", True, False),
    ("per_user_mfa", "contoso", "erp@contoso.com", "enforced", "disabled"),
    ("security_defaults", "fabrikam", "mfp@fabrikam.com", True, False),
]


@pytest.mark.parametrize(("key", "tenant", "upn", "before", "after"), ROUND_TRIPS,
                         ids=[f"{r[0]}-{r[2].split('@')[0]}" for r in ROUND_TRIPS])
def test_inspect_apply_verify_revert(make_m365, sandbox, key, tenant, upn, before, after):
    m365 = make_m365(tenant)
    step = REMEDIATIONS[key]
    finding = step.inspect(Facts(m365), upn)
    assert finding.status is Status.CHANGE and finding.current == before and finding.proposed == after

    change = step.apply(m365, upn, before)
    assert change == Change(key, upn, before, after)
    assert step.verify(m365, change)
    assert step.inspect(Facts(m365), upn).status is Status.OK

    undo = step.revert(m365, change)
    assert undo == Change(key, upn, after, before)
    assert step.verify(m365, undo)
    assert step.read(Facts(m365), upn) == before
    assert step.inspect(Facts(m365), upn).status is Status.CHANGE


def test_apply_reaches_the_sandbox_state(make_m365, sandbox):
    m365 = make_m365()
    REMEDIATIONS["mailbox_smtp_auth"].apply(m365, "scanner@contoso.com", True)
    user = sandbox.state.tenant("contoso").user("scanner@contoso.com")
    assert user.mailbox.smtp_client_authentication_disabled is False
    sets = [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Set-CASMailbox"]
    assert len(sets) == 1 and sets[0].anchor_mailbox == "UPN:scanner@contoso.com"


def test_verify_fails_when_the_setting_did_not_stick(make_m365, sandbox):
    m365 = make_m365()
    change = REMEDIATIONS["mailbox_smtp_auth"].apply(m365, "scanner@contoso.com", True)
    sandbox.state.tenant("contoso").user("scanner@contoso.com").mailbox.smtp_client_authentication_disabled = True
    assert not REMEDIATIONS["mailbox_smtp_auth"].verify(m365, change)


def test_revert_of_enabled_mfa_accepts_enforced(make_m365, sandbox):
    """Graph turns 'enabled' into 'enforced' for users with a registered method; that is still a revert."""
    m365 = make_m365()
    step = REMEDIATIONS["per_user_mfa"]
    sandbox.state.tenant("contoso").user("erp@contoso.com").per_user_mfa_state = "enabled"
    change = step.apply(m365, "erp@contoso.com", "enabled")
    assert change.before == "enabled"
    undo = step.revert(m365, change)
    assert step.read(Facts(m365), "erp@contoso.com") == "enforced"
    assert step.verify(m365, undo)


def test_missing_write_permission_is_named_and_changes_nothing(make_m365, sandbox):
    _, client_id, _ = sandbox.creds("fabrikam")
    sandbox.state.revoke(client_id, "Policy.ReadWrite.SecurityDefaults")
    m365 = make_m365("fabrikam")
    with pytest.raises(PermissionMissing) as err:
        REMEDIATIONS["security_defaults"].apply(m365, "mfp@fabrikam.com", True)
    assert err.value.permission == "Policy.ReadWrite.SecurityDefaults"
    assert sandbox.state.tenant("fabrikam").security_defaults_enabled is True


def test_mailbox_step_on_a_user_without_mailbox(make_m365):
    m365 = make_m365()
    assert REMEDIATIONS["mailbox_smtp_auth"].inspect(Facts(m365), "kiosk@contoso.com").status is Status.NOT_APPLICABLE
    with pytest.raises(MailboxNotFound):
        REMEDIATIONS["mailbox_smtp_auth"].apply(m365, "kiosk@contoso.com", None)


def test_per_user_mfa_enabled_is_a_warning_not_a_change(make_m365, sandbox):
    """Only enforced per-user MFA blocks Basic auth; enabled becomes enforced when a method is registered."""
    sandbox.state.tenant("contoso").user("erp@contoso.com").per_user_mfa_state = "enabled"
    finding = REMEDIATIONS["per_user_mfa"].inspect(Facts(make_m365()), "erp@contoso.com")
    assert (finding.status, finding.current, finding.proposed) == (Status.WARN, "enabled", None)
    assert "becomes enforced when the user registers" in finding.summary
