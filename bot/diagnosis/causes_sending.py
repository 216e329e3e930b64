"""Causes of replies about sending, limits, TLS and the connection, and the catch-all."""

from __future__ import annotations

from bot.diagnosis.cause import SMTP_AUTH_TLS_DOCS, Cause

SENDING_CAUSES = (
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
            "The mailbox hit an Exchange Online sending limit and the message was refused. The refusal comes from "
            "the recipient rate limit: 10,000 recipients in a rolling 24 hours (5.2.2 'Submission quota "
            "exceeded', 5.1.90 'daily limit for message recipients', SubmissionQuotaExceededException). Going "
            "over 30 messages a minute only delays messages. Microsoft notes a mailbox that never meant to send "
            "this much may be compromised."
        ),
        advice=(
            "Wait until the count for the last 24 hours drops below the limit; admins cannot lift it. If the "
            "volume is unexpected, secure the account (reset the password, look for forwarding rules and unknown "
            "sign-ins). Spread sending out or send to fewer recipients; for bulk or transactional mail use High "
            "Volume Email (internal recipients) or Azure Communication Services Email."
        ),
        transient=True,
        docs=(
            "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-"
            "online/fix-error-for-submission-quota-exceeded-in-exchange-online"
        ),
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
        title="XOAUTH2 data not accepted (malformed, or the user= address is not valid)",
        explanation=(
            "Exchange could not use the XOAUTH2 string the client sent. Either the string is malformed: before "
            "base64 it must be exactly user=<mailbox>, a 0x01 byte, auth=Bearer <token>, and two 0x01 bytes. Or "
            "the user= address is not one Exchange accepts; then the reply goes on 'User address provided is not "
            "valid'. It has been seen at the High Volume Email endpoint (smtp-hve.office365.com), where user= "
            "must be an HVE account's address; for a normal mailbox it must be a mailbox in the tenant. Microsoft "
            "does not document this reply."
        ),
        advice=(
            "Build the string as 'user=' + mailbox + '\\x01auth=Bearer ' + access_token + '\\x01\\x01' and "
            "base64-encode it once. Python's smtplib encodes it itself, so the auth callable must return the plain "
            "string; returning an already encoded one encodes it twice. Check the token is not cut short. If the "
            "reply says the user address is not valid, put the full primary address of the mailbox (or of the "
            "HVE account, for smtp-hve.office365.com) in user=, not a display name, alias or the app's id, and "
            "check that address exists in the tenant."
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
