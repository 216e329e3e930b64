"""`python -m bot doctor` against the sandbox tenant: tokens, Graph and Exchange permissions, Entra roles."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from bot.cli import main
from bot.config import AppConfig, load_config, with_overrides
from bot.doctor import doctor_main
from sandbox.cli import doctor_main as sandbox_doctor_main
from sandbox.launcher import Sandbox

ROOT = Path(__file__).resolve().parents[2]
ROLE_FIX = "Fix: Entra admin center > Roles & admins > Roles and administrators > Exchange Administrator > "


def tenant_config(sandbox: Sandbox, **m365: Any) -> AppConfig:
    return with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings() | m365})


def run_doctor(cfg: AppConfig, mailbox: str | None = "scanner@contoso.com") -> tuple[int, list[str]]:
    out = io.StringIO()
    code = doctor_main(cfg, out, mailbox=mailbox)
    return code, out.getvalue().splitlines()


def line(lines: list[str], check: str) -> str:
    [found] = [text for text in lines if text[5:].startswith(check + ":")]
    return found


def client_id(sandbox: Sandbox) -> str:
    return sandbox.creds()[1]


def test_everything_granted_is_all_ok(sandbox):
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 0
    assert lines[0] == f"Checking tenant {sandbox.creds()[0]} (global cloud), app {client_id(sandbox)}."
    assert [text.split(":")[0] for text in lines[1:-1]] == [
        "ok   Configuration",
        "ok   Entra token for Microsoft Graph",
        "ok   Entra token for Exchange Online",
        "ok   Graph permission Application.Read.All",
        "ok   Graph permission GroupMember.Read.All",
        "ok   Graph permission Policy.Read.All",
        "ok   Graph permission Policy.ReadWrite.AuthenticationMethod",
        "ok   Graph permission Policy.ReadWrite.SecurityDefaults",
        "ok   Graph permission RoleManagement.Read.Directory",
        "ok   Graph permission User.Read.All",
        "ok   Sign-in logs (readiness report)",
        "ok   Exchange permission Exchange.ManageAsApp",
        "ok   Exchange role",
        "ok   Exchange read (Get-OrganizationConfig)",
        "ok   Exchange write (Set-CASMailbox)",
        "skip Slack",
        "skip SMTP",
    ]
    assert lines[-1] == "15 checks: 15 ok, 0 warnings, 0 failed (2 skipped)"
    assert sandbox.creds()[2] not in "\n".join(lines)


def test_a_missing_graph_permission_is_named_with_its_feature_and_fix(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Policy.ReadWrite.SecurityDefaults")
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 1
    assert line(lines, "Graph permission Policy.ReadWrite.SecurityDefaults") == (
        "FAIL Graph permission Policy.ReadWrite.SecurityDefaults: missing (change) — needed to turn security "
        "defaults off or on (step security_defaults). Fix: Entra admin center > App registrations > "
        f"smtp-auth-bot (client id {client_id(sandbox)}) > API permissions > Add a permission > "
        "Microsoft Graph > Application permissions > Policy.ReadWrite.SecurityDefaults, then Grant admin "
        "consent."
    )
    assert lines[-1] == "15 checks: 14 ok, 0 warnings, 1 failed (2 skipped)"


def test_a_readwrite_permission_covers_the_matching_read(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Policy.Read.All")
    code, lines = run_doctor(tenant_config(sandbox))
    # security defaults and per-user MFA are readable with their ReadWrite permissions; CA policies are not
    assert code == 1
    failed = line(lines, "Graph permission Policy.Read.All")
    assert failed.startswith("FAIL Graph permission Policy.Read.All: missing (read) — needed to list "
                             "Conditional Access policies (check conditional_access). Fix: ")
    assert "security_defaults" not in failed and "per_user_mfa" not in failed

    sandbox.state.grant(client_id(sandbox), "Policy.ReadWrite.ConditionalAccess")
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 0
    assert line(lines, "Graph permission Policy.Read.All") == (
        "ok   Graph permission Policy.Read.All: not granted, but covered by "
        "Policy.ReadWrite.AuthenticationMethod, Policy.ReadWrite.ConditionalAccess, "
        "Policy.ReadWrite.SecurityDefaults"
    )


def test_no_exchange_role_names_the_entra_role_to_assign(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Exchange Administrator")
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 1
    assert line(lines, "Exchange role") == (
        "FAIL Exchange role: the app's service principal cannot run the bot's Exchange cmdlets: it has no "
        f"Entra role. {ROLE_FIX}Add assignments > select the service principal of smtp-auth-bot "
        f"(client id {client_id(sandbox)})."
    )
    read = line(lines, "Exchange read (Get-OrganizationConfig)")
    assert read.startswith("FAIL") and ROLE_FIX in read and "this read needs Global Reader" in read


def test_recipient_administrator_alone_is_unconfirmed_until_the_no_op_write_proves_it(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Exchange Administrator")
    sandbox.state.grant(client_id(sandbox), "Exchange Recipient Administrator")
    before = sandbox.state.tenant("contoso").user("scanner@contoso.com").mailbox.smtp_client_authentication_disabled
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 0
    role = line(lines, "Exchange role")
    assert role.startswith("warn Exchange role: Exchange Recipient Administrator covers only part")
    assert ("step mailbox_smtp_auth needs Exchange Administrator; Exchange Recipient Administrator may be enough, "
            "which no Microsoft source confirms (the write check below tries)") in role
    assert "step org_smtp_auth won't work (it needs Exchange Administrator)" in role
    assert "org-level settings" in role and ROLE_FIX in role
    assert line(lines, "Exchange read (Get-CASMailbox)").startswith("ok")
    assert line(lines, "Exchange write (Set-CASMailbox)") == (
        "ok   Exchange write (Set-CASMailbox): set scanner@contoso.com's SmtpClientAuthenticationDisabled to its "
        f"current value, {'empty (inherits)' if before is None else '$' + str(before).lower()}: the app can change "
        "a mailbox's SMTP AUTH switch")
    assert sandbox.state.tenant("contoso").user("scanner@contoso.com").mailbox.smtp_client_authentication_disabled == before
    assert [r.cmdlet for r in sandbox.state.requests.for_service("exchange")][-2:] == ["Get-CASMailbox",
                                                                                     "Set-CASMailbox"]
    assert lines[-1] == "15 checks: 14 ok, 1 warnings, 0 failed (2 skipped)"


def test_global_reader_alone_reads_but_the_no_op_write_fails(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Exchange Administrator")
    sandbox.state.grant(client_id(sandbox), "Global Reader")
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 1
    role = line(lines, "Exchange role")
    assert role.startswith("warn") and "step mailbox_smtp_auth won't work" in role
    assert line(lines, "Exchange read (Get-OrganizationConfig)").startswith("ok")
    write = line(lines, "Exchange write (Set-CASMailbox)")
    assert write.startswith("FAIL Exchange write (Set-CASMailbox): scanner@contoso.com: The app is not allowed to "
                            "run Set-CASMailbox")
    assert write.endswith("Fix: assign Exchange Administrator to the app's service principal, or make the service "
                          "principal a member of a custom Exchange role group whose roles include Set-CASMailbox.")


def test_security_reader_is_unconfirmed_for_org_settings_so_doctor_tries_the_org_read(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Exchange Administrator")
    sandbox.state.grant(client_id(sandbox), "Security Reader")
    code, lines = run_doctor(tenant_config(sandbox))
    role = line(lines, "Exchange role")
    assert "Security Reader may read org-level settings, which no Microsoft source confirms" in role
    assert line(lines, "Exchange read (Get-OrganizationConfig)").startswith("ok")
    assert line(lines, "Exchange write (Set-CASMailbox)").startswith("FAIL") and code == 1


def test_without_a_mailbox_the_write_check_is_skipped_and_says_how_to_run_it(sandbox):
    _, lines = run_doctor(tenant_config(sandbox), mailbox=None)
    assert line(lines, "Exchange write (Set-CASMailbox)") == (
        "skip Exchange write (Set-CASMailbox): no mailbox to try a no-op change on (pass --mailbox UPN, or "
        "configure a probe target)")


def test_missing_manage_as_app_is_named(sandbox):
    sandbox.state.revoke(client_id(sandbox), "Exchange.ManageAsApp")
    code, lines = run_doctor(tenant_config(sandbox))
    assert code == 1
    permission = line(lines, "Exchange permission Exchange.ManageAsApp")
    assert permission.startswith("FAIL Exchange permission Exchange.ManageAsApp: missing from the Exchange "
                                 "Online token — needed to run Get-/Set-CASMailbox (step mailbox_smtp_auth)")
    assert "Office 365 Exchange Online > Application permissions > Exchange.ManageAsApp" in permission
    assert "Exchange.ManageAsApp" in line(lines, "Exchange read (Get-OrganizationConfig)")


def test_wrong_client_secret_shows_the_aadsts_hint_and_skips_what_needs_a_token(sandbox):
    code, lines = run_doctor(tenant_config(sandbox, client_secret="not-the-secret"))
    assert code == 1
    for service in ("Microsoft Graph", "Exchange Online"):
        failed = line(lines, f"Entra token for {service}")
        assert failed.startswith("FAIL") and "AADSTS7000215" in failed
        assert failed.endswith(
            "Fix: The client secret is wrong. Copy the secret's *value* (not its ID) into M365_CLIENT_SECRET."
        )
    assert line(lines, "Graph permissions").startswith("skip")
    assert line(lines, "Exchange").startswith("skip")
    assert lines[-1] == "3 checks: 1 ok, 0 warnings, 2 failed (5 skipped)"
    assert "not-the-secret" not in "\n".join(lines)


def test_sandbox_mode_without_credentials_checks_a_fresh_sandbox_and_says_so():
    out = io.StringIO()
    assert sandbox_doctor_main(load_config(ROOT / "app.yaml", env={}), out) == 0
    text = out.getvalue()
    assert text.startswith("Sandbox: no Microsoft 365 credentials are set, so this checks a local stand-in")
    assert "Microsoft 365: sandbox (no credentials set)" in text
    assert "ok   Exchange read (Get-OrganizationConfig)" in text


def test_cli_doctor_against_the_configured_tenant(sandbox):
    out = io.StringIO()
    assert main(["--config", str(ROOT / "app.yaml"), "doctor"], env=sandbox.env(), stdout=out) == 0
    assert "ok   Entra token for Exchange Online" in out.getvalue()
    assert sandbox.creds()[2] not in out.getvalue()


def test_cli_doctor_lists_configuration_problems_and_exits_2(tmp_path):
    bad = tmp_path / "app.yaml"
    bad.write_text("m365:\n  client_id: not-a-guid\n  tenant_id: contoso.com\n  client_secret: ${SECRET}\n")
    out = io.StringIO()
    assert main(["--config", str(bad), "doctor"], env={"SECRET": "s3cret-value"}, stdout=out) == 2
    assert out.getvalue().splitlines() == [
        f"FAIL Configuration: {bad} has 1 problem, listed below. Fix: correct those keys, or the environment "
        "variables they name, and run doctor again.",
        "       - m365.client_id: must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
        "1 checks: 0 ok, 0 warnings, 1 failed",
    ]


def test_sign_in_logs_without_the_permission_or_the_licence_are_warnings_naming_the_fix(sandbox):
    sandbox.state.tenant("contoso").entra_id_p1 = False
    code, lines = run_doctor(tenant_config(sandbox))
    licence = line(lines, "Sign-in logs (readiness report)")
    assert code == 0 and licence.startswith("warn") and "Microsoft Entra ID P1" in licence
    sandbox.state.revoke(client_id(sandbox), "AuditLog.Read.All")
    code, lines = run_doctor(tenant_config(sandbox))
    permission = line(lines, "Sign-in logs (readiness report)")
    assert code == 0 and permission.startswith("warn") and "AuditLog.Read.All is not granted" in permission
    assert "Application permissions > AuditLog.Read.All, then Grant admin consent" in permission
