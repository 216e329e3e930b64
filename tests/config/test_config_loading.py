"""Loading app.yaml: modes, ${VAR} interpolation, effective values, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import (
    BOT_TOKEN,
    CLIENT,
    FAKE_CERT_PEM,
    FULL_ENV,
    SECRET,
    SHIPPED,
    SIGNING_SECRET,
    TENANT,
    problems,
    write,
)

from bot.config import AppConfig, load_config, with_overrides
from bot.errors import ConfigError
from bot.m365.clouds import CLOUDS

M365_ENV = {k: v for k, v in FULL_ENV.items() if k.startswith("M365_")}

SLACK_ON = """
m365:
  tenant_id: ${M365_TENANT_ID}
  client_id: ${M365_CLIENT_ID}
  client_secret: ${M365_CLIENT_SECRET}
slack:
  bot_token: ${SLACK_BOT_TOKEN}
  signing_secret: ${SLACK_SIGNING_SECRET}
  app_token: ${SLACK_APP_TOKEN}
  approvers: [U0123ABCD, S0456EFGH]
  alert_channel: "#mail-alerts"
"""


def test_shipped_file_loads_with_an_empty_environment_as_the_sandbox() -> None:
    cfg = load_config(SHIPPED, {})

    assert cfg.sandbox
    assert not cfg.slack.enabled and cfg.slack.mode == "disabled"
    assert cfg.source == SHIPPED
    assert cfg.m365.credential is None
    assert cfg.m365.cloud == "global"
    assert cfg.slack.api_url is None
    assert cfg.probes.targets == []
    assert cfg.probes.smtp_host == "smtp.office365.com"
    assert cfg.database.url == "sqlite:///smtp-auth-bot.db"
    assert cfg.logging.level == "INFO"


def test_the_injected_environment_is_the_only_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in M365_ENV.items():
        monkeypatch.setenv(key, value)

    assert load_config(SHIPPED, {}).sandbox
    assert not load_config(SHIPPED).sandbox


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_full_credentials_give_real_mode_with_the_clouds_urls(tmp_path: Path, cloud: str) -> None:
    text = SHIPPED.read_text().replace("cloud: global", f"cloud: {cloud}")
    cfg = load_config(write(tmp_path, text), M365_ENV)
    info = CLOUDS[cloud]

    assert not cfg.sandbox
    assert cfg.m365.tenant_id == TENANT and cfg.m365.client_id == CLIENT
    assert cfg.m365.client_secret is not None and cfg.m365.client_secret.get_secret_value() == SECRET
    assert cfg.m365.credential == "secret"
    assert cfg.m365.cloud_info is info
    assert (cfg.m365.login_url, cfg.m365.graph_url, cfg.m365.exchange_url) == (
        info.login_url,
        info.graph_url,
        info.exchange_url,
    )
    assert cfg.m365.graph_scope == f"{info.graph_url}/.default"
    assert cfg.m365.exchange_scope == f"{info.exchange_url}/.default"
    assert cfg.probes.smtp_host == info.smtp_host


def test_cloud_table_matches_the_published_hosts() -> None:
    assert CLOUDS["global"].graph_scope == "https://graph.microsoft.com/.default"
    assert CLOUDS["global"].exchange_scope == "https://outlook.office365.com/.default"
    assert CLOUDS["usgovhigh"].graph_url == "https://graph.microsoft.us"
    assert CLOUDS["dod"].graph_url == "https://dod-graph.microsoft.us"
    assert CLOUDS["dod"].exchange_url == "https://outlook-dod.office365.us"
    assert CLOUDS["china"].login_url == "https://login.chinacloudapi.cn"
    assert CLOUDS["china"].smtp_host == "smtp.partner.outlook.cn"


def test_endpoint_overrides_move_the_urls_but_keep_the_real_scopes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
m365:
  tenant_id: ${M365_TENANT_ID}
  client_id: ${M365_CLIENT_ID}
  client_secret: ${M365_CLIENT_SECRET}
  cloud: usgovhigh
  endpoints:
    login: https://127.0.0.1:8443/
    graph: https://127.0.0.1:8443/graph/
    exchange: ${EXO_URL}
""",
    )
    cfg = load_config(path, {**M365_ENV, "EXO_URL": "https://proxy.example:9000"})

    assert cfg.m365.login_url == "https://127.0.0.1:8443"
    assert cfg.m365.graph_url == "https://127.0.0.1:8443/graph"
    assert cfg.m365.exchange_url == "https://proxy.example:9000"
    assert cfg.m365.graph_scope == "https://graph.microsoft.us/.default"
    assert cfg.m365.exchange_scope == "https://outlook.office365.us/.default"


def test_var_with_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
probes:
  port: ${SMTP_PORT:-2525}
  smtp_host: ${SMTP_HOST:-smtp.example.net}
  interval_minutes: ${INTERVAL}
logging:
  level: ${LOG_LEVEL:-warning}
database:
  url: sqlite:///${DB_DIR:-var}/bot.db
""",
    )

    defaults = load_config(path, {})
    assert defaults.probes.port == 2525
    assert defaults.probes.smtp_host == "smtp.example.net"
    assert defaults.probes.interval_minutes == 5  # unset ${VAR} without a default: the key's default
    assert defaults.logging.level == "WARNING"
    assert defaults.database.url == "sqlite:///var/bot.db"

    empty = load_config(path, {"SMTP_PORT": "", "LOG_LEVEL": ""})  # ":-" also covers set-but-empty
    assert (empty.probes.port, empty.logging.level) == (2525, "WARNING")

    env = {"SMTP_PORT": "25", "SMTP_HOST": "relay.local", "INTERVAL": "0.5", "DB_DIR": "/data"}
    given = load_config(path, env)
    assert (given.probes.port, given.probes.smtp_host, given.probes.interval_minutes) == (
        25,
        "relay.local",
        0.5,
    )
    assert given.database.url == "sqlite:////data/bot.db"


def test_unset_variable_inside_a_longer_value_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: postgresql://bot@${DB_HOST}/bot\n")

    assert problems(path) == ["database.url: environment variable DB_HOST is not set"]


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
m365:
  tenant_id: not a tenant
  client_id: ${M365_CLIENT_ID}
  client_secret: ${M365_CLIENT_SECRET}
  cloud: mars
  endpoints:
    graph: http://graph.example
  timeout_seconds: 0
slack:
  bot_token: ${SLACK_BOT_TOKEN}
  signing_secret: ${SLACK_SIGNING_SECRET}
  approvers: [U0123ABCD, bob]
  approval_ttl_minutes: 0
  alert_channel: general
probes:
  per_mailbox_connections: 5
  targets:
    - name: printer
      mailbox: printer@contoso.com
      password: ${PRINTER_PW}
    - name: printer
      mailbox: not-an-address
    - name: Scanner 2
      mailbox: scanner@contoso.com
      auth: ntlm
      password: ${SCANNER_PW}
alerts:
  flap_threshold: 21
database:
  url: mysql://db/bot
logging:
  level: chatty
""",
    )
    env = {**FULL_ENV, "PRINTER_PW": "pw1", "SCANNER_PW": "pw2"}

    assert problems(path, env) == [
        "m365.tenant_id: must be a GUID or a domain name (contoso.onmicrosoft.com)",
        "m365.cloud: must be one of global, usgovhigh, dod, china",
        "m365.endpoints.graph: must be an https:// URL (MSAL and the clients require TLS)",
        "m365.timeout_seconds: must be > 0",
        "slack.approvers[1]: not a Slack user id (U…, W…) or user-group id (S…)",
        "slack.approval_ttl_minutes: must be > 0",
        "slack.alert_channel: must be a channel id (C…, G…) or #channel-name",
        "probes.per_mailbox_connections: must be <= 3",
        "probes.targets[1].mailbox: not an email address",
        "probes.targets[1].password: required for auth login (a ${VAR} reference)",
        "probes.targets[2].name: must be a slug (lowercase letters, digits, - and _)",
        "probes.targets[2].auth: must be one of login, plain, xoauth2",
        "probes.targets[1].name: duplicate of targets[0].name",
        "alerts.flap_threshold: must be < flap_window (21 probes hold at most 20 state changes)",
        "database.url: must be a URL starting with one of sqlite://, postgresql://, postgres://, "
        "postgresql+psycopg://",
        "logging.level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ]


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("m365:\n  client_secret: hunter2-literal\n", "m365.client_secret"),
        ("slack:\n  bot_token: xoxb-literal-token\n", "slack.bot_token"),
        ("slack:\n  signing_secret: literal-signing\n", "slack.signing_secret"),
        ("slack:\n  app_token: xapp-literal-token\n", "slack.app_token"),
        ("slack:\n  signing_secret: pre-${SUFFIX}\n", "slack.signing_secret"),
        (
            "probes:\n  targets:\n    - name: p\n      mailbox: p@contoso.com\n      password: literal-pw\n",
            "probes.targets[0].password",
        ),
    ],
)
def test_a_secret_written_in_the_file_is_refused(tmp_path: Path, yaml_text: str, key: str) -> None:
    found = problems(write(tmp_path, yaml_text), {"SUFFIX": "x"})

    assert f"{key}: must be a ${{VAR}} reference, not a literal" in found
    assert not any("literal-" in p or "hunter2" in p for p in found)


def test_a_database_password_written_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: postgresql://bot:pa55@db/bot\n")

    assert problems(path) == [
        "database.url: the password must come from the environment (${DATABASE_URL}), not the file"
    ]
    url = "postgres://bot:pa55@db:5432/bot"
    assert (
        load_config(
            write(tmp_path, "database:\n  url: ${DATABASE_URL}\n"), {"DATABASE_URL": url}
        ).database.url
        == url
    )


def test_partial_credentials_name_each_missing_key(tmp_path: Path) -> None:
    why = "required once any Microsoft 365 credential is set{} (unset them all to run the sandbox)"

    assert problems(SHIPPED, {"M365_TENANT_ID": TENANT}) == [
        f"m365.client_id (from $M365_CLIENT_ID, which is not set): {why.format('')}",
        f"m365.client_secret (from $M365_CLIENT_SECRET, which is not set): {why.format(', unless client_cert_path is')}",
    ]
    assert problems(SHIPPED, {"M365_CLIENT_SECRET": SECRET}) == [
        f"m365.tenant_id (from $M365_TENANT_ID, which is not set): {why.format('')}",
        f"m365.client_id (from $M365_CLIENT_ID, which is not set): {why.format('')}",
    ]


def test_a_certificate_credential(tmp_path: Path) -> None:
    pem = write(tmp_path, FAKE_CERT_PEM, "app.pem")
    env = {**M365_ENV, "M365_CLIENT_SECRET": "", "M365_CLIENT_CERT_PATH": str(pem)}

    cfg = load_config(SHIPPED, env)
    assert (cfg.m365.credential, cfg.m365.client_cert_path, cfg.m365.client_secret) == (
        "certificate",
        pem,
        None,
    )

    missing = tmp_path / "missing.pem"
    assert problems(SHIPPED, {**env, "M365_CLIENT_CERT_PATH": str(missing)}) == [
        f"m365.client_cert_path (from $M365_CLIENT_CERT_PATH): no such file: {missing}"
    ]
    only_cert = write(tmp_path, "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", "c.pem")
    encrypted = write(tmp_path, FAKE_CERT_PEM.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), "e.pem")
    assert problems(SHIPPED, {**env, "M365_CLIENT_CERT_PATH": str(only_cert)}) == [
        f"m365.client_cert_path (from $M365_CLIENT_CERT_PATH): {only_cert} must be a PEM file holding the private key and its certificate"
    ]
    assert problems(SHIPPED, {**env, "M365_CLIENT_CERT_PATH": str(encrypted)}) == [
        f"m365.client_cert_path (from $M365_CLIENT_CERT_PATH): {encrypted} holds an encrypted private key; the bot needs it unencrypted"
    ]


def test_secret_and_certificate_together_is_a_problem(tmp_path: Path) -> None:
    pem = write(tmp_path, FAKE_CERT_PEM, "app.pem")

    assert problems(SHIPPED, {**M365_ENV, "M365_CLIENT_CERT_PATH": str(pem)}) == [
        "m365.client_cert_path (from $M365_CLIENT_CERT_PATH): set client_secret or client_cert_path, not both"
    ]


def test_ids_must_have_the_right_shape() -> None:
    assert problems(SHIPPED, {**M365_ENV, "M365_CLIENT_ID": "my-app", "M365_TENANT_ID": "contoso"}) == [
        "m365.tenant_id (from $M365_TENANT_ID): must be a GUID or a domain name (contoso.onmicrosoft.com)",
        "m365.client_id (from $M365_CLIENT_ID): must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
    ]
    assert load_config(SHIPPED, {**M365_ENV, "M365_TENANT_ID": "contoso.onmicrosoft.com"}).m365.tenant_id == (
        "contoso.onmicrosoft.com"
    )


def test_unknown_keys_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m365:\n  tennant_id: x\nslak: {}\n"
        "probes:\n  targets:\n    - {name: a, mailbox: a@b.co, pasword: x}\n",
    )

    assert problems(path) == [
        "m365.tennant_id: unknown key",
        "probes.targets[0].pasword: unknown key",
        "probes.targets[0].password: required for auth login (a ${VAR} reference)",
        "slak: unknown key",
    ]


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "m365:\n  cloud: global\n   oops: here\n")

    assert problems(path) == [f"{path}: line 3, column 8: mapping values are not allowed here"]


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "m365:\n  cloud: global\n  cloud: dod\n")

    assert problems(path) == [f"{path}: line 3, column 3: duplicate key 'cloud'"]


def test_missing_file_and_non_mapping_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    assert problems(missing) == [f"{missing}: no such file (pass another path or set APP_CONFIG)"]
    listing = write(tmp_path, "- m365\n")
    assert problems(listing) == [
        f"{listing}: the top level must be a mapping of sections (m365:, slack:, ...)"
    ]
    assert load_config(write(tmp_path, ""), {}).sandbox


def test_app_config_names_another_file_and_an_explicit_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = write(tmp_path, "logging:\n  level: debug\n", "other.yaml")
    monkeypatch.chdir(tmp_path)  # ./app.yaml does not exist here

    assert load_config(env={"APP_CONFIG": str(other)}).source == other
    assert load_config(env={"APP_CONFIG": str(other)}).logging.level == "DEBUG"
    assert load_config(SHIPPED, {"APP_CONFIG": str(other)}).source == SHIPPED
    with pytest.raises(ConfigError, match="app.yaml: no such file"):
        load_config(env={})


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "disabled"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, "http"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-socket"}, "socket"),
    ],
)
def test_slack_modes(tmp_path: Path, env: dict[str, str], mode: str) -> None:
    cfg = load_config(write(tmp_path, SLACK_ON), {**M365_ENV, **env})

    assert cfg.slack.mode == mode
    assert cfg.slack.enabled is (mode != "disabled")


def test_slack_problems(tmp_path: Path) -> None:
    path = write(tmp_path, SLACK_ON)

    assert problems(path, {"SLACK_BOT_TOKEN": BOT_TOKEN}) == [
        "slack.signing_secret (from $SLACK_SIGNING_SECRET, which is not set): required when bot_token is set (or set app_token for Socket Mode)"
    ]
    assert problems(path, {"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_APP_TOKEN": "xoxb-wrong"}) == [
        "slack.bot_token (from $SLACK_BOT_TOKEN): must be a bot token (xoxb-…)",
        "slack.app_token (from $SLACK_APP_TOKEN): must be an app-level token (xapp-…)",
    ]
    assert problems(path, {"SLACK_SIGNING_SECRET": SIGNING_SECRET}) == [
        "slack.bot_token (from $SLACK_BOT_TOKEN, which is not set): required when signing_secret or app_token is set (unset them to turn Slack off)"
    ]
    assert problems(SHIPPED, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}) == [
        "slack.approvers: list at least one approver when Slack is on"
    ]


def test_slack_api_url_comes_from_the_environment_with_a_trailing_slash() -> None:
    assert load_config(SHIPPED, {"SLACK_API_URL": "http://127.0.0.1:3000/api"}).slack.api_url == (
        "http://127.0.0.1:3000/api/"
    )


def test_probe_targets_inherit_the_section_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
m365:
  cloud: china
probes:
  port: 2525
  interval_minutes: 2
  targets:
    - name: printer
      mailbox: printer@contoso.com
      password: ${PRINTER_PW}
    - name: app
      mailbox: app@contoso.com
      auth: xoauth2
      host: smtp.internal
      port: 587
      interval_minutes: 10
      submit_to: ops@contoso.com
""",
    )
    printer, app = load_config(path, {"PRINTER_PW": "pw"}).probes.targets

    assert (printer.host, printer.port, printer.interval_minutes, printer.auth) == (
        "smtp.partner.outlook.cn",
        2525,
        2,
        "login",
    )
    assert printer.password is not None and printer.password.get_secret_value() == "pw"
    assert (app.host, app.port, app.interval_minutes, app.submit_to, app.password) == (
        "smtp.internal",
        587,
        10,
        "ops@contoso.com",
        None,
    )


def test_a_probe_target_needs_slack_alert_channel_once_slack_is_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        SLACK_ON.replace('alert_channel: "#mail-alerts"', "alert_channel:")
        + "probes:\n  targets:\n    - {name: p, mailbox: p@contoso.com, auth: xoauth2}\n",
    )

    assert problems(path, FULL_ENV) == [
        "slack.alert_channel: required when Slack is on and probes.targets is not empty"
    ]


def test_slack_without_microsoft_is_a_problem_that_names_what_is_missing(tmp_path: Path) -> None:
    slack_only = {k: v for k, v in FULL_ENV.items() if not k.startswith("M365_")}

    [problem] = problems(write(tmp_path, SLACK_ON), slack_only)
    assert problem.startswith("m365: Slack is set but Microsoft 365 is not: set tenant_id, client_id")


def test_sandbox_mode_means_no_credentials_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, SLACK_ON)

    assert load_config(path, {}).sandbox
    assert not load_config(path, M365_ENV).sandbox
    assert load_config(path, M365_ENV).serve_problems()[0].startswith("slack: Microsoft 365 is set but Slack")
    assert load_config(path, FULL_ENV).serve_problems() == []


def test_with_overrides_plugs_a_sandbox_tenant_into_the_loaded_file(tmp_path: Path) -> None:
    ca = write(tmp_path, "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", "ca.pem")
    cfg = load_config(SHIPPED, {})

    plugged = with_overrides(
        cfg,
        {
            "m365": {
                "tenant_id": TENANT,
                "client_id": CLIENT,
                "client_secret": "generated-secret",
                "endpoints": {"login": "https://127.0.0.1:8443", "graph": "https://127.0.0.1:8443"},
                "ca_bundle": str(ca),
            },
            "probes": {"targets": [{"name": "printer", "mailbox": "printer@contoso.com", "password": "pw"}]},
        },
    )

    assert not plugged.sandbox and plugged.source == SHIPPED
    assert plugged.m365.graph_url == "https://127.0.0.1:8443"
    assert plugged.m365.exchange_url == "https://outlook.office365.com"
    assert plugged.m365.graph_scope == "https://graph.microsoft.com/.default"
    assert plugged.m365.ca_bundle == ca
    assert plugged.probes.targets[0].host == "smtp.office365.com"

    moved = with_overrides(plugged, {"m365": {"cloud": "usgovhigh"}, "probes": {"port": 26}})
    assert moved.probes.smtp_host == moved.probes.targets[0].host == "smtp.office365.us"
    assert moved.probes.targets[0].port == 26
    unplugged = with_overrides(moved, {"m365": dict.fromkeys(("tenant_id", "client_id", "client_secret"))})
    assert unplugged.sandbox and unplugged.m365.client_secret is None
    with pytest.raises(ConfigError) as caught:
        with_overrides(moved, {"m365": {"client_id": "nope"}})
    assert "m365.client_id: must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" in caught.value.problems


def test_a_config_can_be_built_from_a_dict() -> None:
    cfg = AppConfig.model_validate(
        {
            "m365": {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": "x", "cloud": "dod"},
            "alerts": {"failures_before_alert": 3},
        }
    )

    assert not cfg.sandbox and cfg.source is None
    assert cfg.m365.graph_url == "https://dod-graph.microsoft.us"
    assert cfg.probes.smtp_host == CLOUDS["dod"].smtp_host
    assert cfg.alerts.failures_before_alert == 3
    assert AppConfig().sandbox


def test_an_unset_variable_is_named_rather_than_asked_for_as_a_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "probes:\n  targets:\n    - name: printer\n      mailbox: printer@contoso.com\n"
                           "      password: ${PRINTER_SMTP_PASSWORD}\n")

    assert problems(path) == [
        "probes.targets[0].password (from $PRINTER_SMTP_PASSWORD, which is not set): required for auth login"
    ]


def test_an_unquoted_channel_name_is_a_comment_and_said_so(tmp_path: Path) -> None:
    path = write(tmp_path, "slack:\n  alert_channel: #mail-alerts\n  approvers: []  # nobody yet\n")

    assert problems(path) == [
        'slack.alert_channel: #mail-alerts is read as a YAML comment, leaving the key empty; '
        'quote it: alert_channel: "#mail-alerts"'
    ]
    assert load_config(write(tmp_path, 'slack:\n  alert_channel: "#mail-alerts"\n'), {}).slack.alert_channel == (
        "#mail-alerts"
    )


APP_ID = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"


def test_an_xoauth2_target_may_carry_the_devices_own_app(tmp_path: Path) -> None:
    path = write(tmp_path, "probes:\n  targets:\n    - {name: scanner, mailbox: scanner@contoso.com, auth: xoauth2, "
                 f"client_id: {APP_ID}, client_secret: '${{SCANNER_APP_SECRET}}'}}\n")
    [target] = load_config(path, {"SCANNER_APP_SECRET": "s3cret"}).probes.targets
    assert target.client_id == APP_ID and target.client_secret.get_secret_value() == "s3cret"


@pytest.mark.parametrize(("entry", "problem"), [
    (f"auth: login, password: '${{PW}}', client_id: {APP_ID}, client_secret: '${{S}}'",
     "probes.targets[0].client_id: only with auth xoauth2"),
    (f"auth: xoauth2, client_id: {APP_ID}", "probes.targets[0].client_secret: set client_id and client_secret"),
    ("auth: xoauth2, client_secret: '${S}'", "probes.targets[0].client_id: set client_id and client_secret"),
    (f"auth: xoauth2, client_id: {APP_ID}, client_secret: literal", "probes.targets[0].client_secret: must be a "),
])
def test_a_targets_own_app_is_xoauth2_only_complete_and_secret(tmp_path: Path, entry: str, problem: str) -> None:
    path = write(tmp_path, "probes:\n  targets:\n    - {name: scanner, mailbox: scanner@contoso.com, " + entry + "}\n")
    assert any(p.startswith(problem) for p in problems(path, {"PW": "pw", "S": "s"})), problems(path, {"PW": "pw",
                                                                                                      "S": "s"})


def test_approvals_required_names_known_steps_and_sane_counts(tmp_path: Path) -> None:
    path = write(tmp_path, "slack:\n  approvals_required: {bulk_smtp_auth_off: 3, org_smtp_auth: 0, "
                           "bulk_smtp_off: 2}\nm365:\n  bulk_batch_size: 0\n")

    found = problems(path)
    assert "slack.approvals_required.org_smtp_auth: must be >= 1" in found
    assert any(p.startswith("slack.approvals_required.bulk_smtp_off: not a step; steps are bulk_smtp_auth_off, ")
               for p in found)
    assert "m365.bulk_batch_size: must be >= 1" in found
    assert len(found) == 3


def test_the_diagnosis_queue_limits_ship_in_app_yaml_and_nonsense_is_refused(tmp_path: Path) -> None:
    limits = load_config(SHIPPED, {}).server.diagnoses
    assert (limits.queue, limits.at_once, limits.batch, limits.window_ms, limits.max_hold_ms, limits.busy_after) == (
        200, 2, 20, 50, 2000, 20)
    path = write(tmp_path, "server:\n  diagnoses:\n    queue: 0\n    at_once: 0\n    window_ms: -1\n")
    found = problems(path)
    assert sorted(p.split(":")[0] for p in found) == ["server.diagnoses.at_once", "server.diagnoses.queue",
                                                      "server.diagnoses.window_ms"]
