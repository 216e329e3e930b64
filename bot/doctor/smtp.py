"""Doctor checks for SMTP: each probe endpoint's STARTTLS, and SMTP.SendAsApp for XOAUTH2 targets."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from bot.doctor.result import FAIL, OK, SKIP, WARN, Report

if TYPE_CHECKING:
    from bot.config import AppConfig
    from bot.config import ProbeTargetConfig as TargetConfig
    from bot.probe import ProbeResult


class SmtpChecks(Report):
    """Reachability of the configured probe endpoints; no credential is sent."""

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
        # A target with its own client_id signs in as the device's app, not this bot's: /smtp-oauth onboards it.
        oauth = [t for t in targets if t.auth == "xoauth2" and not getattr(t, "client_id", None)]
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
                WARN,
                check,
                f"not in the Exchange Online token, which is fine only if the app is onboarded through Exchange's "
                f"RBAC for Applications — the targets {names} sign in as the app (XOAUTH2), and doctor cannot see "
                "Exchange role assignments",
                "either route works: (a) the API permission — Entra admin center > App registrations > "
                f"{self.app} > API permissions > Add a permission > APIs my organization uses > Office 365 "
                "Exchange Online > Application permissions > SMTP.SendAsApp, then Grant admin consent; in Exchange "
                "Online PowerShell, New-ServicePrincipal -AppId <client id> -ObjectId <the enterprise application's "
                "object id, not the app registration's>; for each mailbox, Add-MailboxPermission -Identity <mailbox> "
                "-User <service principal id> -AccessRights FullAccess; or (b) RBAC for Applications, with no API "
                "permission — New-ServicePrincipal as in (a), a management scope covering the mailboxes, and "
                "New-ManagementRoleAssignment -Role 'Application SMTP.SendAsApp' -App <client id> "
                "-CustomResourceScope <scope>",
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
