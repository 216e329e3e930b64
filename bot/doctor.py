"""`python -m bot doctor`: check every credential, permission and role the enabled features need."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from bot.errors import AuthenticationFailed, ConfigError, M365Error, PermissionMissing

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.config import AppConfig
    from bot.config import ProbeTarget as TargetConfig
    from bot.m365.tenant import M365
    from bot.probe import ProbeResult

EXIT_OK, EXIT_MISSING, EXIT_CONFIG = 0, 1, 2
OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
GRAPH, EXCHANGE, ENTRA_ROLE = "Microsoft Graph", "Office 365 Exchange Online", "Entra role"

#: Entra built-in role template ids, as the token's `wids` claim carries them.
ROLE_IDS: Mapping[str, str] = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Exchange Recipient Administrator": "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
}
#: The Entra roles a handler may declare, and the held roles that include each (reference §3.2).
ROLE_INCLUDED_IN: Mapping[str, frozenset[str]] = {
    "Exchange Administrator": frozenset({"Exchange Administrator", "Global Administrator"}),
    "Exchange Recipient Administrator": frozenset(
        {"Exchange Recipient Administrator", "Exchange Administrator", "Global Administrator"}
    ),
}
#: Roles that can read organisation settings (Get-OrganizationConfig, Get-TransportConfig, auth policies).
ORG_READERS = frozenset(
    {"Global Administrator", "Exchange Administrator", "Global Reader", "Security Reader"}
)

#: Broader Graph application permissions that also allow what a handler declares, by (permission, handler
#: key), "*" meaning any handler. Besides these, `X.ReadWrite.Y` always covers `X.Read.Y`.
ALSO_COVERED_BY: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("Policy.Read.All", "security_defaults"): ("Policy.ReadWrite.SecurityDefaults",),
    ("Policy.Read.All", "per_user_mfa"): ("Policy.ReadWrite.AuthenticationMethod",),
    ("Policy.Read.All", "conditional_access"): ("Policy.ReadWrite.ConditionalAccess",),
    ("Policy.ReadWrite.SecurityDefaults", "security_defaults"): ("Policy.ReadWrite.ConditionalAccess",),
    ("User.Read.All", "*"): ("Directory.Read.All", "Directory.ReadWrite.All"),
    ("GroupMember.Read.All", "*"): (
        "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"
    ),
}

#: The bot token scopes slack-manifest.yaml asks for: what the bot needs at least.
SLACK_SCOPES = ("commands", "chat:write", "usergroups:read", "files:write")
SLACK_APP_SETTINGS = "api.slack.com/apps > your app"
MIN_REDACTED = 8


@dataclass(frozen=True)
class Result:
    """One check's outcome: `status` is ok, warn, FAIL or skip; `fix` says what to do about it."""

    status: str
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.check}: {self.message.rstrip('.')}"
        return f"{text}. Fix: {self.fix.rstrip('.')}." if self.fix else text


@dataclass(frozen=True)
class Use:
    """Where a handler declares a permission or role, and what for."""

    kind: str  # "step" (changes a setting) or "check" (read-only)
    key: str
    reason: str

    def describe(self) -> str:
        return f"{self.reason} ({self.kind} {self.key})"


def declared(api: str) -> dict[str, list[Use]]:
    """Permission or role name -> the handlers that declare it for `api` (see `handlers.Permission.api`)."""
    from handlers import CHECKS, STEPS

    needs: dict[str, list[Use]] = {}
    for kind, registry in (("step", STEPS), ("check", CHECKS)):
        for key, handler in registry.items():
            for permission in handler.permissions:
                if permission.api == api:
                    needs.setdefault(permission.name, []).append(Use(kind, key, permission.reason))
    return needs


def graph_alternatives(permission: str, key: str) -> tuple[str, ...]:
    """The Graph permissions that allow what `permission` is declared for in handler `key`."""
    wider = permission.replace(".Read.", ".ReadWrite.", 1) if ".Read." in permission else None
    return (
        permission,
        *([wider] if wider else []),
        *ALSO_COVERED_BY.get((permission, key), ()),
        *ALSO_COVERED_BY.get((permission, "*"), ()),
    )


class Doctor:
    """Runs the checks in order, printing each line as it is known (a real tenant can take seconds)."""

    def __init__(self, out: IO[str], secrets: list[str]) -> None:
        self.out = out
        # Short values would mangle ordinary words; real secrets and tokens are long.
        self.secrets = [s for s in secrets if len(s) >= MIN_REDACTED]
        self.results: list[Result] = []
        self.app = "the app"

    def add(self, status: str, check: str, message: str, fix: str = "") -> None:
        result = Result(status, check, message, fix)
        self.results.append(result)
        line = result.line()
        for secret in self.secrets:  # belt and braces: no check prints a secret on purpose
            line = line.replace(secret, "***")
        print(line, file=self.out, flush=True)

    def summary(self) -> int:
        counts = {status: sum(r.status == status for r in self.results) for status in (OK, WARN, FAIL, SKIP)}
        line = (
            f"{counts[OK] + counts[WARN] + counts[FAIL]} checks: {counts[OK]} ok, {counts[WARN]} warnings, "
            f"{counts[FAIL]} failed"
        )
        print(line + (f" ({counts[SKIP]} skipped)" if counts[SKIP] else ""), file=self.out)
        return EXIT_MISSING if counts[FAIL] else EXIT_OK

    def run(self, cfg: AppConfig) -> None:
        """Every check after the configuration, against `cfg`'s tenant and workspace."""
        from bot.m365.tenant import connect

        self.app = f"the app with client id {cfg.m365.client_id}"
        m365 = connect(cfg.m365)
        graph = self.token(m365, cfg.m365.graph_scope, "Microsoft Graph")
        exchange = self.token(m365, cfg.m365.exchange_scope, "Exchange Online")
        self.graph_permissions(graph)
        self.exchange(m365, exchange)
        self.slack(cfg)
        self.smtp(cfg, exchange)

    # --- Microsoft 365 --------------------------------------------------------------------------------------

    def token(self, m365: M365, scope: str, service: str) -> dict[str, Any] | None:
        """The claims of an app-only token for `scope`, or None (reported) when Entra ID refuses one."""
        from bot.m365.auth import token_claims

        check = f"Entra token for {service}"
        try:
            claims = token_claims(m365.tokens.token(scope))
        except AuthenticationFailed as exc:
            fix = exc.hint or "check M365_TENANT_ID, M365_CLIENT_ID and the secret or certificate"
            self.add(FAIL, check, exc.message, fix)
            return None
        except M365Error as exc:
            self.add(FAIL, check, exc.message, exc.hint)
            return None
        if claims.get("app_displayname"):
            self.app = f"{claims['app_displayname']} (client id {m365.tokens.client_id})"
        self.add(OK, check, f"issued to {self.app} in tenant {claims.get('tid', '?')} "
                 f"({m365.tokens.credential_kind} credential)")
        return claims

    def graph_permissions(self, claims: dict[str, Any] | None) -> None:
        if claims is None:
            self.add(SKIP, "Graph permissions", "not checked without a Graph token")
            return
        granted = set(claims.get("roles") or ())
        for name, uses in sorted(declared(GRAPH).items()):
            check = f"Graph permission {name}"
            if name in granted:
                self.add(OK, check, "granted")
                continue
            missing = [u for u in uses if not granted.intersection(graph_alternatives(name, u.key))]
            if not missing:
                wider = granted.intersection(a for u in uses for a in graph_alternatives(name, u.key))
                self.add(OK, check, f"not granted, but covered by {', '.join(sorted(wider))}")
                continue
            kind = "change" if ".ReadWrite." in name else "read"
            self.add(
                FAIL,
                check,
                f"missing ({kind}) — needed to " + "; ".join(u.describe() for u in missing),
                f"Entra admin center > App registrations > {self.app} > API permissions > Add a permission > "
                f"Microsoft Graph > Application permissions > {name}, then Grant admin consent",
            )

    def exchange(self, m365: M365, claims: dict[str, Any] | None) -> None:
        if claims is None:
            self.add(SKIP, "Exchange", "not checked without an Exchange Online token")
            return
        granted = set(claims.get("roles") or ())
        for name, uses in sorted(declared(EXCHANGE).items()):
            check = f"Exchange permission {name}"
            if name in granted:
                self.add(OK, check, "granted")
            else:
                self.add(
                    FAIL,
                    check,
                    "missing from the Exchange Online token — needed to "
                    + "; ".join(u.describe() for u in uses),
                    f"Entra admin center > App registrations > {self.app} > API permissions > "
                    "Add a permission > APIs my organization uses > Office 365 Exchange Online > "
                    f"Application permissions > {name}, then Grant admin consent",
                )
        wids = set(claims.get("wids") or ())
        held = [name for name, template in ROLE_IDS.items() if template in wids]
        recipient_only = self.exchange_role(held)
        self.exchange_read(m365, recipient_only)

    def role_fix(self, role: str = "Exchange Administrator") -> str:
        return (
            f"Entra admin center > Roles & admins > Roles and administrators > {role} > Add assignments > "
            f"select the service principal of {self.app}"
        )

    def exchange_role(self, held: list[str]) -> bool:
        """Report the service principal's Entra roles; True when only recipient tasks are covered."""
        check = "Exchange role"
        roles = " + ".join(held)
        org_reads = bool(ORG_READERS.intersection(held))
        needs = declared(ENTRA_ROLE)
        uncovered = [
            (role, use)
            for role, uses in needs.items()
            if not ROLE_INCLUDED_IN.get(role, frozenset({role})).intersection(held)
            for use in uses
        ]
        if not org_reads and len(uncovered) == sum(map(len, needs.values())):
            why = f"{roles} covers none of them" if held else "it has no Entra role"
            self.add(FAIL, check, f"the app's service principal cannot run the bot's Exchange cmdlets: {why}",
                     self.role_fix())
            return False
        if org_reads and not uncovered:
            self.add(OK, check, f"{roles} on the app's service principal covers every Exchange task")
            return False
        gaps = [f"{use.kind} {use.key} won't work (it needs {role})" for role, use in uncovered]
        if not org_reads:
            gaps.append("org-level settings (authentication policies, the organisation's SMTP AUTH switch) "
                        "cannot be read, so diagnoses show them as unknown")
        message = f"{roles} covers only part of what the bot does: {'; '.join(gaps)}"
        self.add(WARN, check, message, self.role_fix())
        return not org_reads

    def exchange_read(self, m365: M365, recipient_only: bool) -> None:
        """A harmless read through InvokeCommand: a mailbox read when only recipient tasks are allowed."""
        cmdlet, parameters = "Get-OrganizationConfig", {}
        if recipient_only:
            cmdlet, parameters = "Get-CASMailbox", {"ResultSize": 1}
        check = f"Exchange read ({cmdlet})"
        try:
            m365.exchange.invoke(cmdlet, parameters)
        except PermissionMissing as exc:
            fix = f"{self.role_fix()}; this read needs {exc.role}" if exc.role else exc.hint
            self.add(FAIL, check, exc.message, fix)
            return
        except M365Error as exc:
            self.add(FAIL, check, exc.message, exc.hint)
            return
        self.add(OK, check, "Exchange Online answered through InvokeCommand")

    # --- Slack ----------------------------------------------------------------------------------------------

    def slack(self, cfg: AppConfig) -> None:
        if not cfg.slack.enabled:
            self.add(SKIP, "Slack", "Slack is off (SLACK_BOT_TOKEN not set); nothing to check")
            return
        from slack_sdk.errors import SlackApiError

        from bot.runtime import slack_client

        client = slack_client(cfg)
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            self.add(
                FAIL,
                "Slack token",
                f"auth.test refused the bot token: {exc.response.get('error')}",
                f"{SLACK_APP_SETTINGS} > OAuth & Permissions: install (or reinstall) the app and copy the "
                "Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN",
            )
        except OSError as exc:
            self.add(FAIL, "Slack token", f"cannot reach the Slack API at {client.base_url}: {exc}",
                     "check this host's network access to Slack, or slack.api_url (SLACK_API_URL)")
        else:
            bot = str(answer.get("user") or "the bot")
            self.add(OK, "Slack token", f"valid: team {answer.get('team')} ({answer.get('team_id')}), "
                     f"bot user @{bot} ({answer.get('user_id')})")
            self.slack_scopes(answer.headers)
            self.alert_channel(client, cfg.slack.alert_channel, bot)
            self.approvers(client, cfg.slack.approvers)
            return
        self.add(SKIP, "Slack workspace", "scopes, alert channel and approvers need a valid token")

    def slack_scopes(self, headers: Mapping[str, Any]) -> None:
        header = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
        if header is None:
            self.add(WARN, "Slack scopes", "Slack did not say which scopes the token has (no X-OAuth-Scopes)",
                     f"check that {SLACK_APP_SETTINGS} > OAuth & Permissions > Bot Token Scopes lists "
                     + ", ".join(SLACK_SCOPES))
            return
        granted = {scope.strip() for scope in header.split(",")}
        missing = [scope for scope in SLACK_SCOPES if scope not in granted]
        if not missing:
            self.add(OK, "Slack scopes", f"the bot token has {', '.join(SLACK_SCOPES)}")
            return
        self.add(
            FAIL,
            "Slack scopes",
            f"the bot token lacks {', '.join(missing)} "
            f"(slack-manifest.yaml asks for {', '.join(SLACK_SCOPES)})",
            f"{SLACK_APP_SETTINGS} > OAuth & Permissions > Scopes > Bot Token Scopes > Add an OAuth Scope: "
            f"{', '.join(missing)}; then Reinstall to Workspace (update SLACK_BOT_TOKEN if it changes)",
        )

    def alert_channel(self, client: WebClient, channel: str | None, bot: str) -> None:
        from slack_sdk.errors import SlackApiError

        check, invite = "Slack alert channel", f"in the channel, type /invite @{bot}"
        if not channel:
            self.add(SKIP, check, "none configured (slack.alert_channel), so probe alerts go nowhere")
            return
        if channel.startswith("#"):
            self.add(WARN, check, f"{channel} is a name, which doctor cannot look up; the bot must be in it",
                     f"set slack.alert_channel to the channel's ID (channel details > About, at the bottom) "
                     f"so doctor can check it, and {invite}")
            return
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "missing_scope":
                needed = exc.response.get("needed") or "channels:read"
                self.add(WARN, check, f"cannot look up {channel} without {needed}; "
                         "the bot must be in it", f"{invite} (or add that scope so doctor can check)")
            elif error in ("channel_not_found", "not_in_channel"):
                self.add(FAIL, check, f"{channel}: {error} — no such channel, or the bot is not in it",
                         f"{invite} (for a private channel too), or set slack.alert_channel to an existing "
                         "channel's ID")
            else:
                self.add(FAIL, check, f"conversations.info failed for {channel}: {error}",
                         "check slack.alert_channel")
            return
        name = f"#{info.get('name')} ({channel})"
        if info.get("is_archived"):
            self.add(FAIL, check, f"{name} is archived", "unarchive it or set slack.alert_channel to another")
        elif info.get("is_member") is False:
            self.add(FAIL, check, f"the bot is not in {name}, so alerts cannot be posted there", invite)
        else:
            self.add(OK, check, f"{name}: the bot is a member")

    def approvers(self, client: WebClient, approvers: list[str]) -> None:
        from slack_sdk.errors import SlackApiError

        check = "Slack approvers"
        if not approvers:
            self.add(WARN, check, "none configured, so nobody can approve a change",
                     "list Slack user IDs (U…) or user-group IDs (S…) under slack.approvers")
            return
        problems = []
        for group in (a for a in approvers if a.startswith("S")):
            try:
                members = client.usergroups_users_list(usergroup=group).get("users") or []
            except SlackApiError as exc:
                problems.append(f"user group {group}: {exc.response.get('error')}")
                continue
            if not members:
                problems.append(f"user group {group} has no members")
        if problems:
            self.add(WARN, check, "; ".join(problems),
                     "add members to those user groups, or list other approvers under slack.approvers")
        else:
            self.add(OK, check, f"{len(approvers)} configured: {', '.join(approvers)}")

    # --- SMTP -----------------------------------------------------------------------------------------------

    def smtp(self, cfg: AppConfig, exchange: dict[str, Any] | None) -> None:
        from bot.probe import ProbeTarget, probe

        targets = cfg.probes.targets
        if not targets:
            self.add(SKIP, "SMTP", "no probe targets (probes.targets); nothing to check")
            return
        endpoints: dict[tuple[str, int], ProbeTarget] = {}
        for target in targets:
            plain = ProbeTarget.from_config(target, cfg.probes)
            plain = dataclasses.replace(plain, auth="none", submit_to=None)
            endpoints.setdefault((plain.host, plain.port), plain)
        for (host, port), target in endpoints.items():
            self.smtp_endpoint(f"SMTP {host} port {port}", probe(target))
        oauth = [t for t in targets if t.auth == "xoauth2"]
        if oauth:
            self.send_as_app(oauth, exchange)

    def smtp_endpoint(self, check: str, result: ProbeResult) -> None:
        from bot.probe import PHASES

        # auth "none" ends at MAIL FROM, which Exchange refuses unauthenticated: getting there is what counts
        if result.ok or PHASES.index(result.phase) > PHASES.index("ehlo_tls"):
            tls = "STARTTLS" if result.tls_mode == "starttls" else "implicit TLS"
            days = f", certificate valid {result.cert_days_left} more days" if result.cert_days_left else ""
            offered = f"; offers AUTH {' '.join(result.mechanisms)}" if result.mechanisms else ""
            self.add(OK, check, f"reachable, {tls} works ({result.tls_version}{days}){offered}")
            return
        detail = f", {result.detail}" if result.detail else ""
        self.add(FAIL, check, f"{result.message} ({result.cause}{detail})", smtp_fix(result))

    def send_as_app(self, oauth: list[TargetConfig], exchange: dict[str, Any] | None) -> None:
        check = "SMTP permission SMTP.SendAsApp"
        names = ", ".join(f"{t.name} ({t.mailbox})" for t in oauth)
        if exchange is None:
            self.add(SKIP, check, "not checked without an Exchange Online token")
        elif "SMTP.SendAsApp" in (exchange.get("roles") or ()):
            self.add(OK, check, f"granted, for the XOAUTH2 targets {names} (each mailbox also needs the "
                     "app's FullAccess, which doctor cannot see)")
        else:
            self.add(
                FAIL,
                check,
                f"missing from the Exchange Online token — the targets {names} sign in as the app (XOAUTH2)",
                f"1. Entra admin center > App registrations > {self.app} > API permissions > "
                "Add a permission > APIs my organization uses > Office 365 Exchange Online > "
                "Application permissions > SMTP.SendAsApp, then Grant admin consent; 2. in Exchange Online "
                "PowerShell, New-ServicePrincipal -AppId <client id> -ObjectId <the enterprise application's "
                "object id, not the app registration's>; 3. for each mailbox, Add-MailboxPermission "
                "-Identity <mailbox> -User <service principal id> -AccessRights FullAccess",
            )


def smtp_fix(result: ProbeResult) -> str:
    """What to do about a failed STARTTLS check, by cause."""
    where = f"{result.host}:{result.port}"
    if result.cause == "tls_failure" and result.detail == "untrusted":
        return ("if a TLS-inspecting proxy or a private CA signs the certificate, put that CA in a PEM file "
                "and set probes.ca_bundle to it")
    if result.cause == "tls_failure" and result.detail == "hostname_mismatch":
        return f"the certificate does not name {result.host}: set probes.smtp_host to the server's real name"
    if result.cause == "tls_failure" and result.detail in ("expired", "not_yet_valid"):
        return "check this machine's clock; if it is right, the server's certificate must be renewed"
    if result.cause == "dns_failure":
        return "check the spelling of probes.smtp_host (or the target's host) and this machine's DNS"
    if result.cause in ("timeout", "connection_refused", "connection_failed", "server_closed"):
        return (f"allow outbound TCP to {where} from this host (firewalls and ISPs often block SMTP "
                "submission), and check probes.smtp_host and probes.port")
    return f"point probes.smtp_host and probes.port at an SMTP submission server with STARTTLS, not {where}"


def doctor_command(path: str | None, env: Mapping[str, str], out: IO[str]) -> int:
    """`python -m bot doctor`: load the configuration (2, listing its problems, when it does not load)."""
    from bot.config import config_path, load_config

    try:
        cfg = load_config(path, env)
    except ConfigError as err:
        return config_failure(config_path(path, env), err.problems, out)
    return doctor_main(cfg, out)


def doctor_main(cfg: AppConfig, out: IO[str], target: AppConfig | None = None) -> int:
    """Check `cfg`'s tenant and workspace, or `target`: `cfg` pointed at a stand-in (the sandbox bridge's).

    0 when everything needed is present, 1 when something is missing, 2 on a configuration error.
    """
    if target is None:
        m365 = cfg.m365
        print(f"Checking tenant {m365.tenant_id} ({m365.cloud} cloud), app {m365.client_id}.", file=out)
    return _checked(cfg, target or cfg, out)


def _checked(cfg: AppConfig, target: AppConfig, out: IO[str]) -> int:
    """The checks against `target`: `cfg` itself, or `cfg` pointed at the sandbox."""
    from bot.config import mode_lines

    doctor = Doctor(out, secrets_of(cfg) + secrets_of(target))
    source = cfg.source or "the configuration"
    doctor.add(OK, "Configuration", f"{source} loads; " + "; ".join(mode_lines(cfg)))
    try:
        doctor.run(target)
    except ConfigError as err:  # the certificate file is read only when connecting
        return config_failure(cfg.source, err.problems, out)
    return doctor.summary()


def config_failure(source: object, problems: list[str], out: IO[str]) -> int:
    """The Configuration check failed: one FAIL line, the problems under it, the summary; exit 2."""
    doctor = Doctor(out, [])
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    doctor.add(FAIL, "Configuration", f"{source or 'the configuration'} has {count}, listed below",
               "correct those keys, or the environment variables they name, and run doctor again")
    for problem in problems:
        print(f"       - {problem}", file=out)
    doctor.summary()
    return EXIT_CONFIG


def secrets_of(cfg: AppConfig) -> list[str]:
    """Every secret value in `cfg`, to keep out of the output."""
    values = [cfg.m365.client_secret, cfg.slack.bot_token, cfg.slack.signing_secret, cfg.slack.app_token]
    values += [target.password for target in cfg.probes.targets]
    return [value.get_secret_value() for value in values if value is not None]
