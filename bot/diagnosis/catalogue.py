"""The catalogue of causes behind Exchange Online SMTP AUTH replies, with what fixes each one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from handlers.registry import CHECKS, REMEDIATIONS, Labels

SMTP_AUTH_DISABLED_DOCS = "https://aka.ms/smtp_auth_disabled"
SMTP_AUTH_TLS_DOCS = "https://aka.ms/smtp_auth_tls"

STEP_LABELS: Mapping[str, str] = Labels(REMEDIATIONS)
"""Remediation keys the bot can run, with the one-line label each remediation declares."""

CHECK_LABELS: Mapping[str, str] = Labels(CHECKS)
"""Read-only diagnosis checks worth looking at; the bot reports on them but changes nothing."""

_RETIREMENT = (
    "Microsoft is retiring Basic auth (username and password) for SMTP AUTH: under its January 2026 plan it is "
    "switched off by default for existing tenants at the end of December 2026 (admins can turn it back on, by a "
    "mechanism not yet documented), and the final removal date is due in the second half of 2027."
)
_OAUTH = (
    "Better end state: OAuth 2.0 (XOAUTH2) with SMTP AUTH, which security defaults, authentication policies and "
    "legacy-auth Conditional Access rules do not block."
)


@dataclass(frozen=True, kw_only=True)
class Cause:
    """One reason an SMTP submission to Microsoft 365 fails, and how to get past it."""

    key: str
    title: str
    explanation: str
    steps: tuple[str, ...] = ()
    """Remediation keys (see STEP_LABELS), in the order to try them."""
    checks: tuple[str, ...] = ()
    """Read-only diagnosis checks (see CHECK_LABELS) to look at."""
    advice: str
    transient: bool = False
    """True when the same attempt may succeed later without any change."""
    docs: str | None = None


_CAUSES = (
    Cause(
        key="smtp_auth_disabled_tenant",
        title="SMTP AUTH is turned off for the organisation",
        explanation=(
            "Exchange Online refused the sign-in because SMTP AUTH (authenticated client submission) is disabled "
            "for the whole organisation (Get-TransportConfig shows SmtpClientAuthenticationDisabled = True) and "
            "this mailbox has no setting of its own, so it inherits the organisation's 'off'. Organisations "
            "created after January 2020 have it off by default."
        ),
        advice=(
            "Turn SMTP AUTH on for this one mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false): the "
            "mailbox setting overrides the organisation's and it is the smallest change. Turn it on for the whole "
            "organisation (Set-TransportConfig) only if many mailboxes need it. SMTP AUTH has to be on for OAuth "
            f"(XOAUTH2) submissions too. {_OAUTH}"
        ),
        steps=("mailbox_smtp_auth", "org_smtp_auth"),
        checks=("basic_auth_retirement",),
        docs=SMTP_AUTH_DISABLED_DOCS,
    ),
    Cause(
        key="smtp_auth_disabled_mailbox",
        title="SMTP AUTH is turned off for this mailbox",
        explanation=(
            "The mailbox itself has SMTP AUTH disabled (Get-CASMailbox shows SmtpClientAuthenticationDisabled = "
            "True). The mailbox setting wins over the organisation setting, so the mailbox stays blocked whatever "
            "Set-TransportConfig says."
        ),
        advice=(
            "Enable SMTP AUTH on the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false, or in the "
            "Microsoft 365 admin center: Users > Active users > the user > Mail > Manage email apps > Authenticated "
            "SMTP). Allow some minutes before testing again; Microsoft gives no figure for how long the change "
            f"takes. SMTP AUTH has to be on for OAuth (XOAUTH2) submissions too. {_OAUTH}"
        ),
        steps=("mailbox_smtp_auth",),
        docs=SMTP_AUTH_DISABLED_DOCS,
    ),
    Cause(
        key="security_defaults",
        title="Blocked by Entra security defaults",
        explanation=(
            "The tenant has Microsoft Entra security defaults turned on. Security defaults block legacy (Basic) "
            "authentication for every user, and SMTP AUTH with a username and password is legacy authentication."
        ),
        advice=(
            "Best: keep security defaults and move the app or device to OAuth (XOAUTH2), which security defaults "
            "allow. If the device can only use a password, security defaults have to be turned off. That is "
            "tenant-wide and removes the MFA requirement for everyone, so replace it with Conditional Access "
            "policies (Entra ID P1) that still require MFA and exclude only this mailbox from the legacy-auth block. "
            "The bot asks for approval before this step."
        ),
        steps=("security_defaults",),
    ),
    Cause(
        key="basic_auth_disabled_policy",
        title="Basic authentication is blocked for SMTP",
        explanation=(
            "Exchange refused the username and password (Basic) sign-in. In a Microsoft 365 tenant this usually "
            "means the Exchange authentication policy that applies to the user (their own or the organisation "
            "default) does not allow Basic auth for SMTP (AllowBasicAuthSmtp is off); SMTP AUTH being enabled on "
            "the mailbox does not help while the policy blocks Basic. Consumer Outlook.com and Hotmail accounts "
            "give the same reply because Microsoft has switched Basic auth off for them."
        ),
        advice=(
            "Preferred: move the app or device to OAuth (XOAUTH2); authentication policies block Basic, not OAuth. "
            "If it can only use a password, allow Basic SMTP in the policy that applies "
            "(Get-User <user> | fl AuthenticationPolicy, Get-OrganizationConfig | fl DefaultAuthenticationPolicy, "
            "then Set-AuthenticationPolicy <name> -AllowBasicAuthSmtp) or assign the user a policy that allows it. "
            "Third parties report policy changes taking up to about 24 hours. Consumer Outlook.com accounts need "
            "OAuth."
        ),
        checks=("auth_policy", "basic_auth_retirement"),
    ),
    Cause(
        key="conditional_access_or_mfa",
        title="Sign-in blocked by policy (most often Conditional Access or MFA)",
        explanation=(
            "Entra ID refused the sign-in because it 'did not meet the criteria'. Microsoft does not document a "
            "single cause for this wording. Most often a Conditional Access policy blocks legacy authentication "
            "(the 'Other clients' condition covers authenticated SMTP) or requires MFA, which a username and "
            "password SMTP login cannot satisfy; legacy per-user MFA has the same effect. Others have blamed "
            "different settings, including the mailbox SMTP AUTH setting, so treat this as the likely cause, not "
            "a certain one, and confirm it in the Entra sign-in logs."
        ),
        advice=(
            "Open the Entra sign-in logs for the user (client app: Authenticated SMTP / other clients) to see which "
            "policy failed, or run the Conditional Access What If tool. If a policy blocks legacy auth, exclude only "
            "this account from it. If per-user MFA is enforced for the user, disabling it lets the password work. "
            f"{_OAUTH}"
        ),
        steps=("per_user_mfa",),
        checks=("conditional_access", "account"),
    ),
    Cause(
        key="bad_credentials",
        title="Username or password rejected",
        explanation=(
            "Entra ID says the credentials were wrong: the password is wrong or expired, or the username is not "
            "the account's sign-in name (UPN). Third parties also see this reply for accounts with per-user MFA "
            "that would need an app password."
        ),
        advice=(
            "Re-enter the password on the device and use the full sign-in name (user@domain) as the username. Test "
            "the same credentials by signing in to Outlook on the web. Only if the password is right and the "
            "account has per-user MFA enforced: disable per-user MFA for it, or use an app password. "
            f"{_OAUTH}"
        ),
        steps=("per_user_mfa",),
        checks=("account",),
    ),
    Cause(
        key="account_locked",
        title="The account is locked",
        explanation=(
            "Entra ID smart lockout has locked the account after too many failed sign-ins, often from this same "
            "device retrying an old password, sometimes from password-guessing attacks."
        ),
        advice=(
            "Stop the device from retrying (each failed attempt extends the lockout) and fix the stored password. "
            "Then wait for the lockout to expire or have an admin reset the password. Look at the Entra sign-in "
            "logs for attempts from unknown places."
        ),
        checks=("account",),
    ),
    Cause(
        key="federation_sts_unreachable",
        title="The federated sign-in server (AD FS) could not be used",
        explanation=(
            "The user's domain is federated, so Microsoft 365 passes the password check to your own sign-in "
            "server (AD FS or another STS). Microsoft could not reach it, or could not connect to it securely: "
            "the STS URL must use HTTPS with TLS 1.2."
        ),
        advice=(
            "Make sure the federation server and its proxy are running and reachable from the internet over HTTPS "
            "with TLS 1.2 and a valid certificate; no Exchange setting fixes this. Longer term consider managed "
            f"sign-in (password hash sync) for the domain. {_OAUTH}"
        ),
        checks=("account",),
    ),
    Cause(
        key="basic_auth_retired",
        title="Basic authentication for SMTP AUTH is not accepted any more",
        explanation=(
            "Microsoft refused username and password (Basic) authentication for client submission. This is the "
            f"reply Microsoft announced for the retirement of Basic auth for SMTP AUTH. {_RETIREMENT}"
        ),
        advice=(
            "Move the app or device to OAuth 2.0 (XOAUTH2) with SMTP AUTH. If it cannot do OAuth: High Volume "
            "Email (internal recipients only), Azure Communication Services Email, an SMTP relay connector, or "
            "direct send to your MX endpoint (internal recipients only). Apps that can leave SMTP can use "
            "Microsoft Graph sendMail."
        ),
        checks=("basic_auth_retirement",),
    ),
    Cause(
        key="not_authenticated",
        title="The client tried to send without signing in",
        explanation=(
            "The server got MAIL FROM before a successful AUTH on this connection: the device has no credentials "
            "set, skipped AUTH, carried on after a failed AUTH, or did not start TLS first (Exchange offers AUTH "
            "only after STARTTLS). Exchange often appends the real reason as 'Error: 535 5.7.139 ...'; when it "
            "does not, any of the usual blockers may be behind it."
        ),
        advice=(
            "Check the device first: turn authentication on, enter the mailbox's full address and password, and "
            "use smtp.office365.com port 587 with STARTTLS. A device with nowhere to enter credentials cannot use "
            "client submission; use direct send or an SMTP relay connector. If the settings are right, work "
            "through the usual blockers: SMTP AUTH on the mailbox, security defaults, per-user MFA, the "
            f"authentication policy and Conditional Access. {_OAUTH}"
        ),
        steps=("mailbox_smtp_auth", "security_defaults", "per_user_mfa"),
        checks=("account", "auth_policy", "conditional_access", "basic_auth_retirement"),
    ),
    Cause(
        key="auth_failed",
        title="Authentication failed (no reason given)",
        explanation=(
            "Exchange rejected the AUTH command without a specific reason. 535 5.7.3 is the generic failure for "
            "both passwords (Basic) and OAuth (XOAUTH2); a 5.7.139 reply with wording the bot does not know is "
            "filed here too. For passwords the usual causes are SMTP AUTH off for the mailbox, security defaults, "
            "per-user MFA, an authentication policy or Conditional Access blocking Basic, or a wrong password. "
            "For OAuth: a token for the wrong audience or scope, no SMTP.SendAsApp permission, the app's service "
            "principal not registered in Exchange, or no permission on the mailbox."
        ),
        advice=(
            "Run the full diagnosis for the mailbox and fix what it reports. For app-only OAuth: request the token "
            "with scope https://outlook.office365.com/.default and check its aud (https://outlook.office365.com) "
            "and roles (SMTP.SendAsApp); register the service principal with New-ServicePrincipal using the "
            "Enterprise application's object id (not the app registration's); grant FullAccess on the mailbox "
            "(Add-MailboxPermission); and put the mailbox address in the XOAUTH2 user= field."
        ),
        steps=("mailbox_smtp_auth", "security_defaults", "per_user_mfa"),
        checks=("account", "auth_policy", "conditional_access", "basic_auth_retirement"),
    ),
    Cause(
        key="send_as_denied",
        title="Not allowed to send as this From address",
        explanation=(
            "The message's From address is not the mailbox that signed in, and that mailbox has no Send As "
            "permission for it. SMTP client submission only sends as the signed-in mailbox or addresses it may "
            "send as."
        ),
        advice=(
            "Set the device's From address to the signed-in mailbox, or grant Send As "
            "(Add-RecipientPermission -Identity <from address> -Trustee <signed-in mailbox> -AccessRights SendAs). "
            "A device that must send from many addresses should use an SMTP relay connector. Left alone, repeated "
            "failures get the mailbox throttled (5.2.252)."
        ),
    ),
    Cause(
        key="sender_throttled",
        title="Mailbox throttled after repeated send errors",
        explanation=(
            "Exchange Online stops SMTP AUTH submissions from a mailbox that keeps failing for the same reason: "
            "5.2.251 mailbox full, 5.2.252 Send As denied, 5.2.253 invalid license, 5.2.254 too many recipients, "
            "5.2.255 invalid recipients. While throttled, every SMTP AUTH submission from the mailbox fails, "
            "including from correctly configured apps."
        ),
        advice=(
            "Fix the underlying error first (free mailbox space, fix the From address or Send As permission, "
            "assign a license, send to fewer or valid recipients). The block then lifts after a period Microsoft "
            "decides; support cannot lift it. To send sooner, use another correctly configured mailbox. Message "
            "trace does not show these messages."
        ),
    ),
    Cause(
        key="sending_quota_exceeded",
        title="Sending limit reached",
        explanation=(
            "The mailbox hit an Exchange Online sending limit (for example about 10,000 recipients a day or about "
            "30 messages a minute) and the message was refused."
        ),
        advice=(
            "Back off and retry later; the limits are rolling windows. Spread sending out or send to fewer "
            "recipients. For bulk or transactional mail use High Volume Email (internal recipients) or Azure "
            "Communication Services Email."
        ),
        transient=True,
    ),
    Cause(
        key="concurrent_connection_limit",
        title="Too many simultaneous connections for this mailbox",
        explanation=(
            "Exchange Online allows about 3 SMTP AUTH connections at once per mailbox, and this one was over the "
            "limit. Often another app or device is using the same mailbox."
        ),
        advice=(
            "Retry shortly. Send one message at a time per mailbox, or give each app or device its own mailbox."
        ),
        transient=True,
    ),
    Cause(
        key="tls_version_unsupported",
        title="The client uses TLS 1.0 or 1.1",
        explanation=(
            "smtp.office365.com requires TLS 1.2 or later and the client connected with TLS 1.0 or 1.1. The 5.7.67 "
            "form means legacy TLS is not allowed for your organisation."
        ),
        advice=(
            "Update the device firmware or the application so it uses TLS 1.2. If that is impossible, opt in to "
            "the legacy endpoint: Set-TransportConfig -AllowLegacyTLSClients $true (EAC: 'Turn on use of legacy "
            "TLS clients') and point the device at smtp-legacy.office365.com. That endpoint is not available in "
            "GCC, GCC High or DoD, and Basic auth is being retired there too."
        ),
        docs=SMTP_AUTH_TLS_DOCS,
    ),
    Cause(
        key="starttls_required",
        title="TLS was not started before signing in",
        explanation=(
            "The client tried to authenticate or send before turning on encryption with STARTTLS. Exchange Online "
            "only offers AUTH after STARTTLS, so a client that skips it fails; Python's smtplib reports this as "
            "'SMTP AUTH extension not supported by server'."
        ),
        advice=(
            "Use smtp.office365.com port 587 with STARTTLS (often labelled 'TLS' or 'STARTTLS' in device menus, "
            "not 'SSL'). In code: EHLO, STARTTLS, EHLO again, then AUTH. Port 465 (implicit TLS) is not supported."
        ),
    ),
    Cause(
        key="implicit_tls_unsupported",
        title="Implicit TLS (SSL on connect, port 465 style) is not supported",
        explanation=(
            "The client started TLS as soon as it connected (implicit TLS, usually called 'SSL' and used on port "
            "465), but the server expected plain SMTP followed by STARTTLS. Exchange Online does not offer "
            "implicit TLS for client submission."
        ),
        advice=(
            "Use port 587 with STARTTLS. A device that only offers port 465 or SSL cannot use SMTP AUTH client "
            "submission; use an SMTP relay connector or direct send instead."
        ),
    ),
    Cause(
        key="auth_mechanism_unsupported",
        title="Authentication method not accepted",
        explanation=(
            "The server did not accept the AUTH method the client asked for. Reported triggers are AUTH sent "
            "before STARTTLS, a method Exchange Online does not offer (it offers LOGIN and XOAUTH2), or password "
            "authentication being switched off; Microsoft does not document the exact trigger."
        ),
        advice=(
            "Make sure the client does STARTTLS on port 587 and then uses AUTH LOGIN (password) or AUTH XOAUTH2 "
            "(OAuth). If it already does, check whether Basic auth is blocked for the user; OAuth (XOAUTH2) "
            "avoids that."
        ),
        checks=("auth_policy", "basic_auth_retirement"),
    ),
    Cause(
        key="xoauth2_malformed",
        title="Malformed XOAUTH2 data",
        explanation=(
            "The client sent an XOAUTH2 string Exchange could not read. Before base64 it must be exactly "
            "user=<mailbox>, a 0x01 byte, auth=Bearer <token>, and two 0x01 bytes."
        ),
        advice=(
            "Build the string as 'user=' + mailbox + '\\x01auth=Bearer ' + access_token + '\\x01\\x01' and "
            "base64-encode it once. Python's smtplib encodes it itself, so the auth callable must return the plain "
            "string; returning an already encoded one encodes it twice. Check the token is not cut short."
        ),
    ),
    Cause(
        key="temporary_auth_failure",
        title="Temporary authentication failure",
        explanation="The sign-in service had a temporary problem; the credentials were not judged.",
        advice=(
            "Retry after a short wait. If it goes on for more than an hour, check Service health in the "
            "Microsoft 365 admin center and the Entra sign-in logs."
        ),
        transient=True,
    ),
    Cause(
        key="tenant_or_ip_blocked",
        title="Tenant or sending IP blocked by Microsoft",
        explanation=(
            "Microsoft restricted outbound mail for the whole tenant or the sending IP address: 5.7.705 the "
            "tenant exceeded a threshold (often suspected spam or a compromised account), 5.7.708 traffic from "
            "this IP is not accepted (common for new or trial tenants), 5.7.750 sending from an unregistered "
            "domain. Codes 5.7.700 to 5.7.750 belong to this family."
        ),
        advice=(
            "No mailbox or tenant switch fixes this. Look for compromised accounts and outbound spam, verify every "
            "domain you send from in the Microsoft 365 admin center (5.7.750), and open a Microsoft support case "
            "to have the block lifted."
        ),
    ),
    Cause(
        key="sender_restricted",
        title="Mailbox blocked for sending spam",
        explanation=(
            "Microsoft Defender put the user on the restricted entities list (bad outbound sender) after it sent "
            "mail that looked like spam, often a sign the account is compromised."
        ),
        advice=(
            "Secure the account first (reset the password, sign out all sessions, review inbox rules and the "
            "sign-in logs), then remove the user from Restricted entities in the Microsoft Defender portal."
        ),
        checks=("account",),
    ),
    Cause(
        key="hve_external_recipient",
        title="High Volume Email cannot send outside the organisation",
        explanation="The sender is a High Volume Email (HVE) account, and HVE only delivers to internal recipients.",
        advice=(
            "Send external mail from a licensed mailbox with SMTP AUTH (preferably OAuth, XOAUTH2), Azure "
            "Communication Services Email, or an SMTP relay connector."
        ),
    ),
    Cause(
        key="direct_send_rejected",
        title="Direct send is rejected for this organisation",
        explanation=(
            "The device sent unauthenticated mail straight to your MX endpoint (direct send), and the organisation "
            "has Reject Direct Send turned on (Set-OrganizationConfig -RejectDirectSend $true)."
        ),
        advice=(
            "Send through SMTP AUTH client submission (smtp.office365.com port 587 with a mailbox, preferably "
            "OAuth) or an SMTP relay connector that matches the device's IP address or certificate. Turning Reject "
            "Direct Send off again reopens a spoofing path."
        ),
    ),
    Cause(
        key="unclassified",
        title="Reply not recognised",
        explanation="The bot does not recognise this reply, so it cannot name a cause. The raw text is kept as given.",
        advice=(
            "A 4xx reply is temporary (retry later), a 5xx reply permanent. Run the full diagnosis for the mailbox "
            "and look the enhanced status code (like 5.7.x) up in Microsoft's documentation. If it is an Exchange "
            "reply, report it so it can be added to the catalogue."
        ),
    ),
)

CATALOGUE: Mapping[str, Cause] = MappingProxyType({cause.key: cause for cause in _CAUSES})
"""Every known cause by its stable key."""

UNCLASSIFIED = CATALOGUE["unclassified"]


def get_cause(key: str) -> Cause:
    """The cause with this key; KeyError naming the known keys if there is none."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"unknown cause {key!r}; known: {', '.join(CATALOGUE)}") from None
