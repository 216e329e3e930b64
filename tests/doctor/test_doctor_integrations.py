"""`python -m bot doctor` for the enabled integrations: Slack (the stand-in) and SMTP (the sandbox's)."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import AppConfig, load_config, with_overrides
from bot.doctor import SLACK_SCOPES, doctor_main
from sandbox.launcher import Sandbox
from sandbox.slack import SlackStandin, start_slack_standin

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-doctor-0000-bot-token"
PASSWORD = "printer-password-1234"
SIGNING_SECRET = "doctor-signing-secret"


@pytest.fixture(scope="module")
def standin_server() -> Iterator[SlackStandin]:
    standin = start_slack_standin(bot_token=BOT_TOKEN)
    yield standin
    standin.stop()


@pytest.fixture
def standin(standin_server: SlackStandin) -> SlackStandin:
    standin_server.reset()
    return standin_server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def full_config(sandbox: Sandbox, standin: SlackStandin, *, slack: dict[str, Any] | None = None,
                probes: dict[str, Any] | None = None) -> AppConfig:
    """Slack on (the stand-in) and one probe target on the sandbox's SMTP server; overrides merged in."""
    settings = {
        "m365": sandbox.m365_settings(),
        "slack": {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "api_url": standin.api_url,
                  "approvers": ["U0APPROVE", "S0ADMINS"], "alert_channel": "C0ALERTS"} | (slack or {}),
        "probes": {"smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path),
                   "timeout_seconds": 5,
                   "targets": [{"name": "printer", "mailbox": "printer@contoso.com", "password": PASSWORD}]}
        | (probes or {}),
    }
    return with_overrides(load_config(ROOT / "app.yaml", env={}), settings)


def run_doctor(cfg: AppConfig) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = doctor_main(cfg, out)
    return code, out.getvalue().splitlines()


def line(lines: list[str], check: str) -> str:
    [found] = [text for text in lines if text[5:].startswith(check + ":")]
    return found


def test_everything_present_is_all_ok_and_no_secret_is_printed(sandbox, standin):
    code, lines = run_doctor(full_config(sandbox, standin))
    assert code == 0, "\n".join(lines)
    checks = lines[1:-1]
    assert all(text.startswith("ok   ") for text in checks), "\n".join(checks)
    smtp = f"SMTP localhost port {sandbox.smtp.port}"
    assert [text[5:].split(":")[0] for text in checks[-5:]] == [
        "Slack token", "Slack scopes", "Slack alert channel", "Slack approvers", smtp
    ]
    assert line(lines, "Slack token") == (
        "ok   Slack token: valid: team Sandbox (T0SANDBOX), bot user @smtp-auth-bot (U0BOT)"
    )
    assert "reachable, STARTTLS works (TLSv1.3" in line(lines, smtp)
    assert lines[-1] == f"{len(checks)} checks: {len(checks)} ok, 0 warnings, 0 failed"
    text = "\n".join(lines)
    for secret in (BOT_TOKEN, sandbox.creds()[2], PASSWORD, SIGNING_SECRET):
        assert secret not in text
    assert not sandbox.smtp.messages  # the STARTTLS check submits nothing


def test_slack_scopes_match_the_manifest():
    manifest = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())
    assert sorted(SLACK_SCOPES) == sorted(manifest["oauth_config"]["scopes"]["bot"])


def test_a_missing_slack_scope_is_named_with_the_fix(sandbox, standin):
    standin.set_scopes(["commands", "chat:write", "usergroups:read", "channels:read", "groups:read",
                        "channels:history", "groups:history"])
    code, lines = run_doctor(full_config(sandbox, standin))
    assert code == 1
    scopes = line(lines, "Slack scopes")
    assert scopes.startswith("FAIL Slack scopes: the bot token lacks files:write (slack-manifest.yaml asks")
    assert "Bot Token Scopes > Add an OAuth Scope: files:write; then Reinstall to Workspace" in scopes


def test_the_alert_channel_check_needs_channels_read_which_the_manifest_grants(sandbox, standin):
    manifest = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())
    standin.set_scopes(manifest["oauth_config"]["scopes"]["bot"])
    assert line(run_doctor(full_config(sandbox, standin))[1], "Slack alert channel").startswith("ok   ")
    standin.set_scopes(["commands", "chat:write", "usergroups:read", "files:write"])
    channel = line(run_doctor(full_config(sandbox, standin))[1], "Slack alert channel")
    assert channel.startswith("warn Slack alert channel: cannot look up C0ALERTS without channels:read")


def test_an_unknown_alert_channel_says_to_invite_the_bot_or_fix_it(sandbox, standin):
    code, lines = run_doctor(full_config(sandbox, standin, slack={"alert_channel": "C0NOPE"}))
    assert code == 1
    channel = line(lines, "Slack alert channel")
    assert channel.startswith("FAIL Slack alert channel: C0NOPE: channel_not_found")
    assert "/invite @smtp-auth-bot" in channel and "slack.alert_channel" in channel


def test_an_invalid_bot_token_fails_and_skips_the_other_slack_checks(sandbox, standin):
    code, lines = run_doctor(full_config(sandbox, standin, slack={"bot_token": "xoxb-not-the-token"}))
    assert code == 1
    token = line(lines, "Slack token")
    assert token.startswith("FAIL Slack token: auth.test refused the bot token: invalid_auth. Fix: ")
    assert "SLACK_BOT_TOKEN" in token
    assert not [text for text in lines if text[5:].startswith(("Slack scopes", "Slack alert channel"))]
    assert line(lines, "Slack workspace").startswith("skip")
    assert "xoxb-not-the-token" not in "\n".join(lines)


def test_an_empty_approver_group_warns(sandbox, standin):
    standin.set_usergroup("S0ADMINS", [])
    code, lines = run_doctor(full_config(sandbox, standin))
    assert code == 0
    approvers = line(lines, "Slack approvers")
    assert approvers.startswith("warn Slack approvers: user group S0ADMINS has no members")


def test_slack_off_is_one_skip_line(sandbox):
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    _, lines = run_doctor(cfg)
    assert line(lines, "Slack") == "skip Slack: Slack is off (SLACK_BOT_TOKEN not set); nothing to check"


def test_smtp_on_a_closed_port_fails_with_the_detail(sandbox, standin):
    port = closed_port()
    code, lines = run_doctor(full_config(sandbox, standin, probes={"port": port}))
    assert code == 1
    smtp = line(lines, f"SMTP localhost port {port}")
    assert smtp.startswith(f"FAIL SMTP localhost port {port}: ") and "connection_refused" in smtp
    assert f"allow outbound TCP to localhost:{port}" in smtp


def test_smtp_with_an_untrusted_certificate_fails_naming_the_ca_bundle(sandbox, standin):
    code, lines = run_doctor(full_config(sandbox, standin, probes={"ca_bundle": None}))
    assert code == 1
    smtp = line(lines, f"SMTP localhost port {sandbox.smtp.port}")
    assert "(tls_failure, untrusted)" in smtp and "probes.ca_bundle" in smtp


def test_xoauth2_targets_without_smtp_send_as_app_warn_naming_both_onboarding_routes(sandbox, standin):
    oauth = {"targets": [{"name": "scanner", "mailbox": "scanner@contoso.com", "auth": "xoauth2"}]}
    code, lines = run_doctor(full_config(sandbox, standin, probes=oauth))
    permission = line(lines, "SMTP permission SMTP.SendAsApp")
    assert permission.startswith("warn SMTP permission SMTP.SendAsApp: not in the Exchange Online token, which is "
                                 "fine only if the app is onboarded through Exchange's RBAC for Applications")
    assert code == 0 and "scanner (scanner@contoso.com)" in permission
    assert "Grant admin consent" in permission and "Add-MailboxPermission" in permission
    assert "with no API permission" in permission and "-Role 'Application SMTP.SendAsApp'" in permission

    sandbox.state.grant(sandbox.creds()[1], "SMTP.SendAsApp")
    code, lines = run_doctor(full_config(sandbox, standin, probes=oauth))
    assert code == 0
    assert line(lines, "SMTP permission SMTP.SendAsApp").startswith("ok")


def test_a_target_with_its_own_app_is_not_judged_by_the_bots_token(sandbox, standin):
    app = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
    own = {"targets": [{"name": "scanner", "mailbox": "scanner@contoso.com", "auth": "xoauth2", "client_id": app,
                        "client_secret": sandbox.state.client_secret(app)}]}
    code, lines = run_doctor(full_config(sandbox, standin, probes=own))
    assert not [text for text in lines if text.split(":")[0].endswith("SMTP permission SMTP.SendAsApp")]
    assert sandbox.state.client_secret(app) not in "\n".join(lines)


def test_no_probe_targets_is_one_skip_line(sandbox, standin):
    _, lines = run_doctor(full_config(sandbox, standin, probes={"targets": []}))
    assert line(lines, "SMTP") == "skip SMTP: no probe targets (probes.targets); nothing to check"
