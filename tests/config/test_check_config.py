"""`check-config`: the masked effective configuration and modes, or every problem; never a secret."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from config_helpers import CLIENT, FULL_ENV, SHIPPED, TENANT, write

from bot.config import check_config_main, format_problems, load_config, masked

SECRETS = [v for k, v in FULL_ENV.items() if k not in ("M365_TENANT_ID", "M365_CLIENT_ID")]

CONFIG = """
m365:
  tenant_id: ${M365_TENANT_ID}
  client_id: ${M365_CLIENT_ID}
  client_secret: ${M365_CLIENT_SECRET}
slack:
  bot_token: ${SLACK_BOT_TOKEN}
  signing_secret: ${SLACK_SIGNING_SECRET}
  app_token: ${SLACK_APP_TOKEN}
  approvers: [U0123ABCD]
  alert_channel: C0123ABCD
probes:
  targets:
    - name: printer
      mailbox: printer@contoso.com
      password: ${PRINTER_PW}
database:
  url: ${DATABASE_URL}
"""
ENV = {
    **FULL_ENV,
    "PRINTER_PW": "printer-pw-never-printed",
    "DATABASE_URL": "postgresql://bot:db-pw-never@db/bot",
}


def run(path: Path, env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    return check_config_main(path, env, out), out.getvalue()


def test_check_config_prints_the_masked_effective_config_and_modes(tmp_path: Path) -> None:
    code, text = run(write(tmp_path, CONFIG), ENV)

    assert code == 0
    for secret in [*SECRETS, "printer-pw-never-printed", "db-pw-never"]:
        assert secret not in text
    shown = yaml.safe_load(text)
    assert shown["m365"]["client_secret"] == "***"
    assert shown["m365"]["client_cert_path"] is None
    assert shown["m365"]["endpoints"]["graph"] == "https://graph.microsoft.com"
    assert shown["slack"]["bot_token"] == shown["slack"]["signing_secret"] == "***"
    assert shown["slack"]["app_token"] is None
    assert shown["probes"]["targets"][0]["password"] == "***"
    assert shown["probes"]["targets"][0]["host"] == "smtp.office365.com"
    assert shown["database"]["url"] == "postgresql://bot:***@db/bot"
    assert f"Microsoft 365: tenant {TENANT}, cloud global, secret credential" in text
    assert "Slack: HTTP mode" in text


def test_check_config_on_the_shipped_file_reports_the_sandbox() -> None:
    code, text = run(SHIPPED, {})

    assert code == 0
    assert "Microsoft 365: sandbox (no credentials set)" in text
    assert "Slack: disabled" in text


def test_check_config_lists_every_problem_without_secrets_and_returns_2(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG.replace("${M365_CLIENT_SECRET}", "literal-secret-in-file"))
    env = {**ENV, "M365_CLIENT_ID": "not-a-guid", "SLACK_BOT_TOKEN": "xoxp-user-token-never-printed"}

    code, text = run(path, env)

    assert code == 2
    assert text.startswith(f"{path}: 3 configuration problems:\n")
    assert "  - m365.client_secret: must be a ${VAR} reference, not a literal" in text
    assert "  - m365.client_id (from $M365_CLIENT_ID): must be a GUID" in text
    assert "  - slack.bot_token (from $SLACK_BOT_TOKEN): must be a bot token (xoxb-…)" in text
    for secret in [*SECRETS, "literal-secret-in-file", "xoxp-user-token-never-printed"]:
        assert secret not in text


def test_masked_marks_unset_secrets_none_and_reprs_hide_secrets(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, CONFIG), {**ENV, "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""})
    shown = masked(cfg)

    assert shown["slack"]["bot_token"] is None and shown["m365"]["client_secret"] == "***"
    assert shown["m365"]["client_id"] == CLIENT
    for secret in [*SECRETS, "printer-pw-never-printed", "db-pw-never"]:
        assert secret not in repr(cfg)


def test_format_problems() -> None:
    assert format_problems(["a: x"], "app.yaml") == "app.yaml: 1 configuration problem:\n  - a: x"
    assert format_problems(["a: x", "b: y"]) == "2 configuration problems:\n  - a: x\n  - b: y"
