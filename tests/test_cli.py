"""The command line: the Quick start's `python -m bot`, diagnose, check-config; as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from bot.cli import main
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any bot setting, as on a newcomer's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    env.update(extra)
    return env


def run_bot(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env or clean_env(), timeout=120)


def test_python_m_bot_without_credentials_runs_the_sandbox_console():
    script = "help\n# a comment\ndiagnose copier@contoso.com\ndiagnose not-an-address\nusers\nquit\n"
    done = run_bot(stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "sandbox" in out and "contoso" in out and "'quit' or Ctrl-D leaves" in out
    assert "== copier@contoso.com" in out
    assert "SMTP AUTH for this mailbox: not set (inherits the organisation) -> enabled" in out
    assert "'not-an-address' is not a user principal name" in out
    assert "printer@contoso.com" in out  # from `users`
    assert "Traceback" not in out + done.stderr and "INFO" not in done.stderr


def test_console_ends_at_end_of_input():
    done = run_bot(stdin="diagnose printer@contoso.com\n")
    assert done.returncode == 0 and "Nothing blocks SMTP AUTH for this mailbox." in done.stdout
    assert done.stdout.rstrip().endswith("Sandbox stopped.")


def test_diagnose_json_against_configured_tenant_without_leaking_the_secret(sandbox):
    env = clean_env(**sandbox.env())
    out = io.StringIO()
    assert main(["diagnose", "--json", "scanner@contoso.com", "erp@contoso.com"], env=env, stdout=out) == 0
    text = out.getvalue()
    data = json.loads(text)
    assert [[s["key"] for s in item["plan"]["steps"]] for item in data] == [["mailbox_smtp_auth"], ["per_user_mfa"]]
    assert data[0]["diagnosis"]["findings"]["mailbox_smtp_auth"]["current"] is True
    assert sandbox.creds()[2] not in text
    # read-only: nothing changed
    assert sandbox.state.tenant("contoso").user("scanner@contoso.com").mailbox.smtp_client_authentication_disabled


def test_diagnose_report_names_the_auth_mode_in_words(sandbox):
    out = io.StringIO()
    assert main(["diagnose", "--auth", "oauth", "erp@contoso.com"], env=clean_env(**sandbox.env()), stdout=out) == 0
    assert out.getvalue().startswith("== erp@contoso.com (auth: OAuth (XOAUTH2))")


def test_diagnose_report_gives_the_microsoft_page_of_each_step_and_advisory(sandbox):
    out = io.StringIO()
    assert main(["diagnose", "erp@contoso.com"], env=clean_env(**sandbox.env()), stdout=out) == 0
    lines = out.getvalue().splitlines()
    step = lines.index("     1. Legacy per-user MFA: enforced -> disabled")
    assert lines[step + 2] == "        docs: https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates"
    assert ("   docs (Conditional Access): "
            "https://learn.microsoft.com/entra/identity/conditional-access/policy-block-legacy-authentication") in lines
    [advice] = [line for line in lines if line.startswith("   Advice (Basic authentication retirement)")]
    assert "High Volume Email: https://learn.microsoft.com/exchange/mail-flow-best-practices/high-volume-mails-m365" \
        in advice


def test_diagnose_bad_upn_is_a_usage_error_with_no_request(sandbox):
    out = io.StringIO()
    assert main(["diagnose", "scanner at contoso"], env=clean_env(**sandbox.env()), stdout=out) == 2
    assert "is not a user principal name" in out.getvalue() and "scanner@contoso.com" in out.getvalue()
    assert len(sandbox.state.requests) == 0


def test_diagnose_unknown_user_exits_1(sandbox):
    out = io.StringIO()
    assert main(["diagnose", "ghost@contoso.com"], env=clean_env(**sandbox.env()), stdout=out) == 1
    assert "No user 'ghost@contoso.com'" in out.getvalue()


def test_diagnose_in_sandbox_mode_subprocess():
    done = run_bot("diagnose", "--json", "mfp@fabrikam.com", "crm@contoso.com")
    assert done.returncode == 1  # fabrikam is not the sandbox's default tenant: mfp is unknown there
    data = json.loads(done.stdout)
    assert data[0]["plan"]["error"].startswith("No user 'mfp@fabrikam.com'")
    assert data[1]["plan"]["blocked"] is True


def test_check_config_masks_secrets_and_fails_on_problems(tmp_path):
    secret = "s3cr3t-value-that-must-not-print"
    done = run_bot("check-config", env=clean_env(M365_TENANT_ID="contoso.onmicrosoft.com",
                                                 M365_CLIENT_ID="b7e4d1a2-9c3f-4e58-8a61-2d0f7c9e3b15",
                                                 M365_CLIENT_SECRET=secret))
    assert done.returncode == 0 and secret not in done.stdout and "***" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("m365:\n  cloud: mars\n  tenant_id: ${M365_TENANT_ID}\n")
    done = run_bot("--config", str(bad), "check-config", env=clean_env(M365_TENANT_ID="not a tenant"))
    assert done.returncode == 2 and "m365.cloud" in done.stdout and "m365.tenant_id" in done.stdout


def test_run_with_m365_but_no_slack_credentials_is_a_configuration_error_pointing_to_diagnose(sandbox):
    out = io.StringIO()
    assert main([], env=clean_env(**sandbox.env()), stdin=io.StringIO(""), stdout=out) == 2
    assert "Microsoft 365 is set but Slack is not: set bot_token" in out.getvalue()
    assert "python -m bot diagnose UPN" in out.getvalue()


def test_explain_names_the_cause_and_the_fix():
    out = io.StringIO()
    reply = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. "
             "Visit https://aka.ms/smtp_auth_disabled for more information. "
             "[BN8PR12CA0032.namprd12.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]")
    assert main(["explain", reply], env=clean_env(), stdout=out) == 0
    assert "[smtp_auth_disabled_mailbox]" in out.getvalue() and "mailbox_smtp_auth" in out.getvalue()


def test_explain_json_subprocess():
    done = run_bot("explain", "--json", "530 5.7.57 Client not authenticated to send mail.")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["cause"] == "not_authenticated" and data["code"] == 530 and data["enhanced_status"] == "5.7.57"
    assert {"steps", "advice"} <= set(data)


def test_explain_without_text_is_a_usage_error():
    out = io.StringIO()
    assert main(["explain", "  "], env=clean_env(), stdout=out) == 2
    assert "give the reply text" in out.getvalue()


def test_audit_refuses_a_database_that_does_not_exist_rather_than_creating_it(tmp_path):
    missing = tmp_path / "elsewhere.db"
    out = io.StringIO()

    code = main(["audit"], env={"DATABASE_URL": f"sqlite:///{missing}"}, stdout=out)

    assert code == 2 and f"the SQLite file {missing} does not exist" in out.getvalue()
    assert not missing.exists()


def test_commands_keep_library_log_lines_out_of_their_output():
    import logging

    from bot.cli import quiet_libraries

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        quiet_libraries()
        logging.getLogger("msal.application").warning("library noise")
        logging.getLogger("bot.doctor").warning("our own line")
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == "our own line\n"


def test_bolt_does_not_warn_that_the_environment_token_is_unused(monkeypatch, caplog):
    from slack_bolt import App
    from slack_sdk import WebClient

    import bot.slack.app  # noqa: F401  (installs the filter)

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    App(client=WebClient(token="xoxb-from-the-environment"), signing_secret="s", token_verification_enabled=False)

    assert "will be unused" not in caplog.text


def test_diagnose_with_an_app_is_the_onboarding_plan_ending_with_the_device_settings(sandbox):
    out = io.StringIO()
    app = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
    assert main(["diagnose", "--json", "scanner@contoso.com", "--app", app], env=clean_env(**sandbox.env()),
                stdout=out) == 0
    data = json.loads(out.getvalue())
    assert [s["key"] for s in data["plan"]["steps"]] == ["mailbox_smtp_auth", "exchange_service_principal",
                                                         "oauth_scoped_access"]
    assert data["plan"]["device"]["client_id"] == app and data["diagnosis"]["auth_mode"] == "oauth"
    assert sandbox.state.tenant("contoso").app_access.service_principals == []  # read-only


def test_diagnose_bad_app_id_is_a_usage_error_with_no_request(sandbox):
    out = io.StringIO()
    assert main(["diagnose", "scanner@contoso.com", "--app", "scanner-app"], env=clean_env(**sandbox.env()),
                stdout=out) == 2
    assert "is not an app (client) id" in out.getvalue() and len(sandbox.state.requests) == 0


def test_cleanup_opens_a_request_for_the_running_bot_to_post(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    out = io.StringIO()
    env = clean_env(**sandbox.env(), DATABASE_URL=url)
    args = ["cleanup", "--days", "45", "--as", "U0REQUEST", "--channel", "C0OPS", "crm@contoso.com", "fax@contoso.com"]
    assert main(args, env=env, stdout=out) == 0
    assert "2 mailboxes unused for 45 days; 1 step(s) waiting for approval" in out.getvalue()
    store = Store(url)
    [request] = store.requests.list()
    [step] = store.requests.get_steps(request.id)
    assert step.handler_key == "bulk_smtp_auth_off" and step.state == "pending"
    assert [(m.upn, m.prior) for m in store.bulk.mailboxes(step.id)] == [
        ("crm@contoso.com", False), ("fax@contoso.com", False)]
    assert store.outbox.backlog() == 1  # the card, for the running bot's outbox to post
    store.close()

    refused = io.StringIO()
    assert main([*args[:-2], "scanner@contoso.com"], env=env, stdout=refused) == 2
    assert "scanner@contoso.com: SMTP AUTH is already off" in refused.getvalue()


def test_cleanup_without_mailboxes_takes_them_from_the_readiness_report(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    out = io.StringIO()
    env = clean_env(**sandbox.env(), DATABASE_URL=url)
    args = ["cleanup", "--as", "U0REQUEST", "--channel", "C0OPS"]
    assert main(args, env=env, stdout=out) == 0
    assert "3 mailboxes unused for 30 days; 1 step(s) waiting for approval" in out.getvalue()
    store = Store(url)
    [request] = store.requests.list()
    [step] = store.requests.get_steps(request.id)
    assert sorted(m.upn for m in store.bulk.mailboxes(step.id)) == [
        "admin@contoso.com", "breakglass@contoso.com", "fax@contoso.com"]  # SMTP AUTH on, no password sign-in
    store.close()

    refused = io.StringIO()
    assert main([*args, "--org"], env=env, stdout=refused) == 2
    assert "--org goes with named mailboxes" in refused.getvalue()
