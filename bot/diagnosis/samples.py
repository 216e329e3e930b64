"""Real Exchange Online replies (as servers, clients and logs print them) with the cause each must map to."""

from __future__ import annotations

from typing import NamedTuple

_SUFFIX = "[BN8PR12CA0032.namprd12.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]"


class Sample(NamedTuple):
    """One reply string and the cause key `classify` must give it."""

    reply: str
    cause: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
        f"Visit https://aka.ms/smtp_auth_disabled for more information. {_SUFFIX}",
        "smtp_auth_disabled_tenant",
    ),
    Sample(
        "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
        "SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more "
        "information. [FR3P281CA0113.DEUP281.PROD.OUTLOOK.COM]",
        "smtp_auth_disabled_tenant",
    ),
    Sample(
        "smtplib.SMTPAuthenticationError: (535, b'5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
        "is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
        "[SN6PR04CA0087.namprd04.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]')",
        "smtp_auth_disabled_tenant",
    ),
    Sample(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. "
        f"Visit https://aka.ms/smtp_auth_disabled for more information. {_SUFFIX}",
        "smtp_auth_disabled_mailbox",
    ),
    Sample(
        "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults "
        f"policy. Contact your administrator. {_SUFFIX}",
        "security_defaults",
    ),
    Sample(
        "535 5.7.139 Authentication unsuccessful, user is locked by your organization\u2019s security defaults "
        "policy. Contact your administrator.",
        "security_defaults",
    ),
    Sample(
        f"535 5.7.139 Authentication unsuccessful, basic authentication is disabled. {_SUFFIX}",
        "basic_auth_disabled_policy",
    ),
    Sample(
        "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated "
        f"successfully. Contact your administrator. {_SUFFIX}",
        "conditional_access_or_mfa",
    ),
    Sample(
        "(530, b'5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
        "the request did not meet the criteria to be authenticated successfully. Contact your administrator. "
        "[MN2PR15CA0012.namprd15.prod.outlook.com]', 'printer@contoso.com')",
        "conditional_access_or_mfa",
    ),
    Sample(
        f"535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. {_SUFFIX}",
        "bad_credentials",
    ),
    Sample(
        "Error: Invalid login: 535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. "
        f"{_SUFFIX}",
        "bad_credentials",
    ),
    Sample(f"535 5.7.139 Authentication unsuccessful, account locked. {_SUFFIX}", "account_locked"),
    Sample(
        "535 5.7.139 Authentication unsuccessful, federated STS service was unreachable.",
        "federation_sts_unreachable",
    ),
    Sample(
        "535 5.7.139 Authentication unsuccessful, the federated STS URL does not support HTTPS.",
        "federation_sts_unreachable",
    ),
    Sample("550 5.7.30 Basic authentication is not supported for Client Submission.", "basic_auth_retired"),
    Sample(f"530 5.7.57 Client not authenticated to send mail {_SUFFIX}", "not_authenticated"),
    Sample(
        "5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM "
        "[SN4PR0201CA0065.namprd02.prod.outlook.com]",
        "not_authenticated",
    ),
    Sample(
        "The SMTP server requires a secure connection or the client was not authenticated. The server response "
        "was: 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
        "not_authenticated",
    ),
    Sample(
        "535 5.7.3 Authentication unsuccessful [SN4PR0201CA0065.namprd02.prod.outlook.com]", "auth_failed"
    ),
    Sample(f"535 5.7.3 Authentication unsuccessful {_SUFFIX}", "auth_failed"),
    Sample("550 5.7.60 SMTP; Client does not have permissions to send as this sender", "send_as_denied"),
    Sample(
        "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to "
        "process message due to a permanent exception with message Cannot submit message. 0.35250:0E00CE86, "
        "1.36674:0A000000 [Hostname=BYAPR05MB4453.namprd05.prod.outlook.com]",
        "send_as_denied",
    ),
    # https://github.com/gophish/gophish/issues/2900 (the trailing MAPI diagnostic numbers left out)
    Sample(
        "554 5.2.252 SendAsDenied; delightgx46@outlook.com not allowed to send as security@sfb.com; "
        "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process "
        "message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.",
        "send_as_denied",
    ),
    Sample("550 5.2.251 Sender throttled due to continuous mailbox full errors.", "sender_throttled"),
    Sample("550 5.2.252 Sender throttled due to continuous send as denied errors.", "sender_throttled"),
    Sample("550 5.2.253 Sender throttled due to continuous invalid license errors.", "sender_throttled"),
    Sample("550 5.2.254 Sender throttled due to continuous too many recipients errors.", "sender_throttled"),
    Sample("550 5.2.255 Sender throttled due to continuous invalid recipients errors.", "sender_throttled"),
    Sample(
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message "
        "due to a permanent exception with message Cannot submit message. "
        "[Hostname=DM6PR11MB2345.namprd11.prod.outlook.com]",
        "sending_quota_exceeded",
    ),
    # The next three: Microsoft's NDR table, code and text as it prints them (no basic code):
    # https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/non-delivery-reports-in-exchange-online
    Sample("5.2.2 Submission quota exceeded", "sending_quota_exceeded"),
    Sample(
        "5.1.90 Your message can't be sent because you've reached your daily limit for message recipients",
        "sending_quota_exceeded",
    ),
    Sample(
        "The message can't be submitted because the sender's submission quota was exceeded",
        "sending_quota_exceeded",
    ),
    Sample(
        "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=BYAPR05MB4453.namprd05.prod."
        "outlook.com]",
        "concurrent_connection_limit",
    ),
    Sample(
        "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. "
        "Visit https://aka.ms/smtp_auth_tls. [MAXPR0101CA0021.INDPRD01.PROD.OUTLOOK.COM]",
        "tls_version_unsupported",
    ),
    Sample("5.7.67 TLS 1.0 and 1.1 are not supported by your organization", "tls_version_unsupported"),
    Sample(f"530 5.7.0 Must issue a STARTTLS command first {_SUFFIX}", "starttls_required"),
    Sample(
        "smtplib.SMTPNotSupportedError: SMTP AUTH extension not supported by server.", "starttls_required"
    ),
    Sample("tls: first record does not look like a TLS handshake", "implicit_tls_unsupported"),
    Sample(
        "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
        "implicit_tls_unsupported",
    ),
    Sample(f"504 5.7.4 Unrecognized authentication type {_SUFFIX}", "auth_mechanism_unsupported"),
    Sample("501 5.5.124 Invalid XOAUTH2 auth data", "xoauth2_malformed"),
    # https://github.com/tarickb/sasl-xoauth2/issues/110 (smtp-hve.office365.com; the log cut the reply at
    # "Please ensure the auth d", so only the complete sentences are kept)
    Sample(
        "501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid.", "xoauth2_malformed"
    ),
    Sample(f"454 4.7.0 Temporary authentication failure {_SUFFIX}", "temporary_auth_failure"),
    Sample(
        f"550 5.7.708 Access denied, traffic not accepted from this IP. {_SUFFIX}", "tenant_or_ip_blocked"
    ),
    Sample(f"550 5.7.705 Access denied, tenant has exceeded threshold. {_SUFFIX}", "tenant_or_ip_blocked"),
    Sample(
        f"550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains. {_SUFFIX}",
        "tenant_or_ip_blocked",
    ),
    Sample(f"550 5.1.8 Access denied, bad outbound sender. {_SUFFIX}", "sender_restricted"),
    Sample(
        "550 5.5.105 External sending is not supported for High Volume Email accounts",
        "hve_external_recipient",
    ),
    Sample(
        "550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized "
        "sources",
        "direct_send_rejected",
    ),
    # https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/troubleshoot-high-volume-email-m365
    Sample(
        "535 5.7.139 Authentication unsuccessful, the organization configuration doesn't allow this "
        "authentication request.",
        "org_config_disallows_auth",
    ),
    # https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/relay-access-denied-smtp
    Sample("550 5.7.64 TenantAttribution; Relay Access Denied SMTP", "relay_connector_mismatch"),
    # https://learn.microsoft.com/en-us/answers/questions/1193037/exchange2019-relay-recive-connector
    Sample("550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain", "relay_denied"),
    # https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/non-delivery-reports-in-exchange-online
    Sample("5.7.1 Unable to relay", "relay_denied"),
    # https://www.suped.com/learn/email-deliverability/what-causes-office365-temp-fails-and-how-can-they-be-resolved
    Sample(
        "451 4.7.500 Server busy. Please try again later from [203.0.113.10]. (S77714) "
        "[BL6PEPF0001AB50.namprd04.prod.outlook.com 2024-07-14T14:44:43.083Z 08DCA36F759CD546]",
        "server_busy",
    ),
    # https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/non-delivery-reports-in-exchange-online
    # (4.5.3 Too many recipients), and with 452 as quoted from Microsoft in
    # https://github.com/emersion/go-smtp/issues/195
    Sample("452 4.5.3 Too many recipients", "too_many_recipients"),
    # https://github.com/jstedfast/MailKit/issues/904 (smtp.office365.com)
    Sample("552 5.3.4 Header size exceeds fixed maximum size", "message_too_large"),
    # https://github.com/pankleks/pm2-health/issues/52 (Outlook SMTP host)
    Sample(
        "MapiExceptionMaxSubmissionExceeded; Message size exceeds maximum size limit.; "
        "STOREDRV.Submission.Exception:MessageSubmissionExceededException.MapiExceptionMaxSubmissionExceeded; "
        "Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot save "
        "changes made to an item to store.",
        "message_too_large",
    ),
)
"""At least one real reply for every cause except `unclassified`."""
