"""Causes of replies about relaying, connectors, anti-spam throttling and message or recipient limits."""

from __future__ import annotations

from bot.diagnosis.cause import Cause

EXCHANGE_ONLINE_LIMITS_DOCS = (
    "https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/"
    "exchange-online-limits"
)
DEVICE_OPTIONS_DOCS = (
    "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/"
    "how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365"
)

DELIVERY_CAUSES = (
    Cause(
        key="relay_connector_mismatch",
        title="Relay refused: no inbound connector matches the sending server",
        explanation=(
            "The device or server relayed mail through Microsoft 365 without signing in (an SMTP relay "
            "connector, or hybrid), and Exchange Online could not tie the connection to your organisation. "
            "Microsoft names two causes: the connector identifies the sender by certificate and the certificate "
            "the server presents no longer matches (renewed, renamed, or its chain not sent), or the connector "
            "identifies it by IP address and the server now sends from another public IP. Relaying also needs the "
            "certificate domain or the MAIL FROM domain to be one of your accepted domains."
        ),
        advice=(
            "Compare the inbound connector of type OnPremises (Get-InboundConnector | fl "
            "SenderIPAddresses,TlsSenderCertificateName,RestrictDomainsToCertificate) with the server's current "
            "public IP address and certificate, and update whichever changed. Hybrid organisations should rerun "
            "the Hybrid Configuration Wizard and pick the new certificate. Check the envelope sender uses an "
            "accepted domain."
        ),
        docs="https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/relay-access-denied-smtp",
    ),
    Cause(
        key="relay_denied",
        title="Relay to an outside domain refused",
        explanation=(
            "The server took the connection as anonymous and will not pass mail on to a domain it does not "
            "accept itself. The 5.7.54 wording comes from an Exchange server's receive connector (on-premises or "
            "hybrid) that does not allow this client to relay; 5.7.1 'Unable to relay' is the general form "
            "Microsoft lists for a sender or client without permission to relay. Typical for a device set to "
            "port 25 without credentials, or sending to an MX endpoint (direct send), which only delivers to "
            "your own mailboxes."
        ),
        advice=(
            "To reach outside recipients the device has to either sign in (SMTP AUTH client submission: "
            "smtp.office365.com port 587 with STARTTLS and a mailbox) or relay through a connector that "
            "recognises it: in Exchange Online an inbound connector matching its public IP address or "
            "certificate, on an Exchange server a receive connector that allows anonymous relay from its IP."
        ),
        docs=DEVICE_OPTIONS_DOCS,
    ),
    Cause(
        key="server_busy",
        title="Temporarily deferred by Microsoft's anti-spam throttling",
        explanation=(
            "Exchange Online Protection deferred the message (451 4.7.500 to 4.7.699). Microsoft documents this "
            "range as IP throttling: the sending IP address sends much more than its usual pattern, or suspicious "
            "activity was seen, so its mail is slowed down while it is evaluated. The 'Server busy' wording does "
            "not mean Microsoft is out of capacity, although Microsoft incidents have caused it too."
        ),
        advice=(
            "Let the sender queue and retry; the deferral is temporary and legitimate traffic gets through as it "
            "builds a sending history. If your own server relays through Microsoft 365, set up an inbound "
            "connector for it so its mail is attributed to your organisation and not throttled. Send from a "
            "custom domain, not the onmicrosoft.com one. If it lasts, check Service health in the admin center."
        ),
        transient=True,
        docs=(
            "https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/"
            "fix-error-code-451-4-7-500-699-asxxx-in-exchange-online"
        ),
    ),
    Cause(
        key="too_many_recipients",
        title="Too many recipients in one message",
        explanation=(
            "The message listed more envelope recipients than the server takes in one transaction. Microsoft "
            "lists 4.5.3 'Too many recipients' for more than 200 recipients from one domain; a mailbox may "
            "address at most 500 recipients per message by default (admins can set 1 to 1000). The server "
            "refused the extra recipients, not the whole connection."
        ),
        advice=(
            "Send the remaining recipients in another message or SMTP transaction; most mail servers do this on "
            "their own, simple devices and scripts often do not. Split large lists into batches, or send to one "
            "distribution group instead. Repeated refusals get the mailbox throttled (5.2.254)."
        ),
        docs=EXCHANGE_ONLINE_LIMITS_DOCS,
    ),
    Cause(
        key="message_too_large",
        title="Message or its header is too large",
        explanation=(
            "The message is bigger than Exchange accepts for this mailbox, or its header is bigger than the "
            "header limit. Exchange Online's default maximum is 35 MB sent and 36 MB received per message, and it "
            "counts the encoded size, so attachments grow by about a third on the way. Reported at "
            "smtp.office365.com as 552 5.3.4 and as MapiExceptionMaxSubmissionExceeded."
        ),
        advice=(
            "Send smaller attachments or a link to the file. An admin can raise the mailbox limit "
            "(Set-Mailbox -MaxSendSize, up to 150 MB). For 'Header size exceeds', shorten what the sender puts "
            "in the header (very long recipient lists, many custom headers)."
        ),
        docs=EXCHANGE_ONLINE_LIMITS_DOCS,
    ),
)
