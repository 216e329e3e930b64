"""Properties Microsoft documents as filterable with -Filter, per cmdlet; anything else Exchange refuses.

Source: MicrosoftDocs/office-docs-powershell exchange/docs-conceptual/filter-properties.md ("Filterable
properties for the Filter parameter on Exchange cmdlets"), each property's "Cmdlets" column. It lists
ExternalDirectoryObjectId and UserPrincipalName for Get-User but not for Get-CASMailbox; filters-v2.md
also names ExternalDirectoryObjectId as unsupported on Get-EXOCASMailbox.
"""

from __future__ import annotations

GET_CAS_MAILBOX = frozenset(
    {
        "ActiveSyncAllowedDeviceIDs", "ActiveSyncBlockedDeviceIDs", "ActiveSyncEnabled",
        "ActiveSyncMailboxPolicy", "ActiveSyncSuppressReadReceipt", "DisplayName", "DistinguishedName",
        "EcpEnabled", "EmailAddresses", "EwsApplicationAccessPolicy", "EwsEnabled", "ExchangeVersion", "Guid",
        "HasActiveSyncDevicePartnership", "Id", "ImapEnabled", "LegacyExchangeDN", "MAPIEnabled",
        "MemberOfGroup", "Name", "ObjectCategory", "ObjectClass", "OWAEnabled", "OWAforDevicesEnabled",
        "OWAMailboxPolicy", "PopEnabled", "PrimarySmtpAddress", "SamAccountName", "ServerLegacyDN",
        "ServerName", "WhenChanged", "WhenChangedUTC", "WhenCreated", "WhenCreatedUTC"
    }
)

GET_USER = frozenset(
    {
        "AdministrativeUnits", "AllowUMCallsFromNonUsers", "ArchiveRelease", "AssistantName",
        "AuthenticationPolicy", "c", "CertificateSubject", "City", "Company", "ConsumerNetID", "CountryCode",
        "CountryOrRegion", "Department", "DirectReports", "DisplayName", "DistinguishedName", "ExchangeVersion",
        "ExternalDirectoryObjectId", "Fax", "FirstName", "Guid", "HomePhone", "Id", "Initials",
        "InPlaceHoldsRaw", "IsDirSynced", "IsLinked", "IsSecurityPrincipal", "IsSoftDeletedByDisable",
        "IsSoftDeletedByRemove", "LastName", "LegacyExchangeDN", "MailboxRelease", "Manager",
        "MasterAccountSid", "MemberOfGroup", "MobilePhone", "Name", "NetID", "Notes", "ObjectCategory",
        "ObjectClass", "Office", "OtherFax", "OtherHomePhone", "OtherTelephone", "Pager", "Phone",
        "PhoneticDisplayName", "PostalCode", "PostOfficeBox", "PreviousRecipientTypeDetails", "RecipientType",
        "RecipientTypeDetails", "RemotePowerShellEnabled", "SamAccountName", "Sid", "SidHistory",
        "SimpleDisplayName", "SKUAssigned", "StateOrProvince", "StreetAddress", "StsRefreshTokensValidFrom",
        "TelephoneAssistant", "Title", "UMCallingLineIds", "UMDtmfMap", "UpgradeRequest", "UpgradeStatus",
        "UserAccountControl", "UserPrincipalName", "VoiceMailSettings", "WebPage", "WhenChanged",
        "WhenChangedUTC", "WhenCreated", "WhenCreatedUTC", "WhenSoftDeleted", "WindowsEmailAddress",
        "WindowsLiveID"
    }
)

#: lower-case cmdlet name -> the properties its -Filter accepts
FILTERABLE: dict[str, frozenset[str]] = {"get-casmailbox": GET_CAS_MAILBOX, "get-user": GET_USER}

#: signIn properties and the $filter operators Graph documents for them (learn.microsoft.com/graph/api/resources/
#: signin, each property's "Supports $filter (...)"); `startswith` is the function form startsWith(prop,'x').
#: Anything else answers 400 "Invalid filter clause", as Graph does for auditLogs/signIns.
SIGN_INS: dict[str, frozenset[str]] = {
    "appDisplayName": frozenset({"eq", "startswith"}),
    "appId": frozenset({"eq"}),
    "clientAppUsed": frozenset({"eq"}),
    "conditionalAccessStatus": frozenset({"eq"}),
    "correlationId": frozenset({"eq"}),
    "createdDateTime": frozenset({"eq", "le", "ge"}),
    "id": frozenset({"eq"}),
    "ipAddress": frozenset({"eq", "startswith"}),
    "isInteractive": frozenset({"eq"}),
    "status/errorCode": frozenset({"eq"}),
    "userDisplayName": frozenset({"eq", "startswith"}),
    "userId": frozenset({"eq"}),
    "userPrincipalName": frozenset({"eq", "startswith"}),
}
