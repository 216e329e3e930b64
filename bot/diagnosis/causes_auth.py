"""Causes of replies to AUTH itself: switches, policies, credentials, the Basic auth retirement."""

from __future__ import annotations

from bot.diagnosis.cause import OAUTH_END_STATE, RETIREMENT, SMTP_AUTH_DISABLED_DOCS, Cause

AUTH_CAUSES = (
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
            f"(XOAUTH2) submissions too. {OAUTH_END_STATE}"
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
            f"takes. SMTP AUTH has to be on for OAuth (XOAUTH2) submissions too. {OAUTH_END_STATE}"
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
            "password SMTP login cannot satisfy; legacy per-user MFA has the same effect once enforced (while only "
            "enabled, the password still works until the user registers an MFA method). Others have blamed "
            "different settings, including the mailbox SMTP AUTH setting, so treat this as the likely cause, not "
            "a certain one, and confirm it in the Entra sign-in logs."
        ),
        advice=(
            "Open the Entra sign-in logs for the user (client app: Authenticated SMTP / other clients) to see which "
            "policy failed, or run the Conditional Access What If tool. If a policy blocks legacy auth, exclude only "
            "this account from it. If per-user MFA is enforced for the user, disabling it lets the password work. "
            f"{OAUTH_END_STATE}"
        ),
        steps=("per_user_mfa",),
        checks=("conditional_access", "account"),
    ),
    Cause(
        key="org_config_disallows_auth",
        title="The organisation's settings do not allow this sign-in",
        explanation=(
            "Exchange refused the sign-in because of a tenant-wide setting. Microsoft lists this reply on its High "
            "Volume Email troubleshooting page and names two settings behind it: Entra security defaults, which "
            "block password (Basic) sign-ins, and an Exchange authentication policy without AllowBasicAuthSmtp "
            "applying to the account. Microsoft does not say whether ordinary mailboxes get the same wording."
        ),
        advice=(
            "Check security defaults first (Entra ID > Properties > Manage security defaults); turning them off "
            "is tenant-wide, so replace them with Conditional Access policies. Then make sure the authentication "
            "policy that applies to the account allows Basic SMTP (Set-AuthenticationPolicy -AllowBasicAuthSmtp). "
            f"{OAUTH_END_STATE}"
        ),
        steps=("security_defaults",),
        checks=("auth_policy", "conditional_access"),
        docs="https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/troubleshoot-high-volume-email-m365",
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
            f"{OAUTH_END_STATE}"
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
            f"sign-in (password hash sync) for the domain. {OAUTH_END_STATE}"
        ),
        checks=("account",),
    ),
    Cause(
        key="basic_auth_retired",
        title="Basic authentication for SMTP AUTH is not accepted any more",
        explanation=(
            "Microsoft refused username and password (Basic) authentication for client submission. This is the "
            f"reply Microsoft announced for the retirement of Basic auth for SMTP AUTH. {RETIREMENT}"
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
            f"authentication policy and Conditional Access. {OAUTH_END_STATE}"
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
            "send as. Exchange words this refusal several ways (5.7.60, 554 5.2.0 SendAsDeniedException, "
            "554 5.2.252 SendAsDenied); 550 5.2.252 'Sender throttled' is the block that follows repeated ones."
        ),
        advice=(
            "Set the device's From address to the signed-in mailbox, or grant Send As "
            "(Add-RecipientPermission -Identity <from address> -Trustee <signed-in mailbox> -AccessRights SendAs). "
            "A device that must send from many addresses should use an SMTP relay connector. Left alone, repeated "
            "failures get the mailbox throttled (5.2.252)."
        ),
    ),
)
