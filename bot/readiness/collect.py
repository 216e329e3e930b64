"""Read the tenant for the readiness report: in bulk and paged, never one request per mailbox.

- the organisation switch: `Get-TransportConfig` (1 request);
- every mailbox's switch: `Get-CASMailbox -ResultSize Unlimited` with `$select`, one request per page of 1,000
  (Exchange's `InvokeCommand` pages through `@odata.nextLink`);
- password sign-ins: Graph `auditLogs/signIns` filtered to `createdDateTime ge <since> and clientAppUsed eq
  'Authenticated SMTP'`, pages of 1,000 (needs `AuditLog.Read.All` and Entra ID P1/P2: when either is missing the
  report says so and goes on without usage);
- Exchange service principals: `Get-ServicePrincipal`, one call; reported "not read" (with why) when Exchange
  refuses it, never guessed;
- which mailboxes those apps may send as with a token (the OAuth class): RBAC for Applications, read per role
  assignment, not per mailbox: `Get-ManagementRoleAssignment -Role "Application SMTP.SendAsApp"` (1 request),
  `Get-ManagementScope` (1) and, per scope an assignment uses, `Get-CASMailbox -Filter <the scope's recipient
  filter>` (1 a page). Exchange lists FullAccess grants (`Get-MailboxPermission`) only for one mailbox at a time
  (`-Identity` is mandatory; learn.microsoft.com/powershell/module/exchange/get-mailboxpermission), so those are not
  read here, and the report says so when an app is registered; an organisation-wide role is named, not spread over
  every mailbox.

`used_since(m365, upns, since)` is the clean-up's check that a mailbox was not used between the report and the
write: the same sign-in log query from `since` (less the logs' latency), one request a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.errors import InvalidInput, LicenceMissing, M365Error, PermissionMissing
from bot.readiness.classify import classify
from bot.readiness.model import MAX_DAYS, Account, AccountClass, Report, Source, Usage

if TYPE_CHECKING:
    from bot.m365.tenant import M365

AUTHENTICATED_SMTP = "Authenticated SMTP"
MAILBOX_PROPERTIES = ["ExternalDirectoryObjectId", "PrimarySmtpAddress", "DisplayName",
                      "SmtpClientAuthenticationDisabled"]
SIGN_IN_PAGE = 1000
#: How late a sign-in may reach the logs (Entra's sign-in reports usually within minutes, at times much later:
#: learn.microsoft.com/entra/identity/monitoring-health/reference-reports-latencies). The clean-up's last check
#: looks this far before the request, so a use the report could not yet see still stops a write.
LOG_LATENCY = timedelta(hours=1)
#: The RBAC-for-Applications role that lets an app send as a mailbox by SMTP (learn.microsoft.com/exchange/
#: permissions-exo/application-rbac).
SEND_AS_APP_ROLE = "Application SMTP.SendAsApp"
#: What the report cannot see, said on the card and in the summary whenever apps are registered in Exchange.
FULL_ACCESS_NOTE = ("FullAccess grants to apps (Add-MailboxPermission) are known only where the bot's own /smtp-oauth "
                    "onboarding made them: Exchange lists FullAccess one mailbox at a time, so a mailbox an app was "
                    "given FullAccess to otherwise can show as unused. Check with the app's owner before closing it.")
#: (what is being read, how many so far)
Progress = Callable[[str, int], None]
ORDER = {klass: n for n, klass in enumerate(AccountClass)}


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"--days must be between 1 and {MAX_DAYS}: Entra ID keeps sign-in logs for {MAX_DAYS} "
                           "days, so a longer window would read less than it claims.")
    return days


def build_report(m365: M365, *, days: int, now: datetime, oauth_mailboxes: Iterable[str] = (),
                 onboarded: Mapping[str, Iterable[str]] | None = None, progress: Progress | None = None) -> Report:
    """The readiness report of the tenant `m365` talks to, for the last `days` days.

    `oauth_mailboxes`: probe targets that sign in with XOAUTH2; `onboarded`: mailbox -> app ids the bot's own OAuth
    onboardings gave access to (the only FullAccess grants the report knows of). Both are in the OAuth class."""
    check_days(days)
    tell = progress or (lambda phase, count: None)
    tell("organisation settings", 0)
    org = m365.exchange.invoke("Get-TransportConfig").value
    org_disabled = bool(org[0].get("SmtpClientAuthenticationDisabled", True)) if org else True
    tell("mailboxes", 0)
    boxes = m365.exchange.invoke("Get-CASMailbox", {"ResultSize": "Unlimited"}, select=MAILBOX_PROPERTIES,
                                 on_page=lambda n: tell("mailboxes", n)).value
    tell("sign-in logs", 0)
    try:
        sign_ins: list[dict[str, Any]] | None = read_sign_ins(m365, now - timedelta(days=days),
                                                              lambda n: tell("sign-in logs", n))
        source = Source(True)
    except (PermissionMissing, LicenceMissing) as exc:
        sign_ins, source = None, Source(False, f"Sign-in logs could not be read: {exc.describe()}")
    except M365Error as exc:  # throttling that outlasted the retries, an outage: go on without usage, saying so
        sign_ins, source = None, Source(False, f"Sign-in logs could not be read: {exc.message}")
    tell("Exchange service principals", 0)
    access = AppMailboxes()
    try:
        principals = m365.exchange.invoke("Get-ServicePrincipal").value
        names = sorted(str(p.get("DisplayName") or p.get("AppId") or "?") for p in principals)
        sp_source = Source(True)
        if principals:
            access = read_app_access(m365, principals)
    except M365Error as exc:
        names, sp_source = [], Source(False, f"Exchange service principals not read: {exc.message}")
    accounts = join(boxes, sign_ins, {m.lower() for m in oauth_mailboxes})
    ours = {upn.lower(): sorted(apps) for upn, apps in (onboarded or {}).items()}
    for account in accounts:
        apps = access.mailboxes.get(account.user_id) or access.mailboxes.get(account.upn)
        if apps and account.has_mailbox:
            account.oauth = True
            account.oauth_apps = sorted(apps)
        if account.upn in ours and account.has_mailbox:
            account.oauth = True
            account.oauth_onboarded = ours[account.upn]
    # An app may hold FullAccess the report cannot see (Exchange lists it per mailbox): said where it matters.
    unseen = bool(names) or not sp_source.read
    for account in accounts:
        classify(account, org_disabled=org_disabled, days=days, oauth_unseen=unseen)
    accounts.sort(key=sort_key)
    return Report(now, days, org_disabled, accounts, source, sp_source, names, mailboxes_read=len(boxes),
                  oauth_notes=access.notes)


class AppMailboxes:
    """Which mailboxes registered apps may send as with a token: key (object id or address) -> app names."""

    def __init__(self) -> None:
        self.mailboxes: dict[str, set[str]] = {}
        self.notes: list[str] = []


def read_app_access(m365: M365, principals: list[dict[str, Any]]) -> AppMailboxes:
    """The mailboxes each registered app may send as through an "Application SMTP.SendAsApp" role: per role
    assignment and scope, never per mailbox. What cannot be read is said in `notes`, never guessed."""
    access = AppMailboxes()
    names = {str(p.get(k)).lower(): str(p.get("DisplayName") or p.get("AppId") or "?")
             for p in principals for k in ("ObjectId", "Identity", "AppId") if p.get(k)}
    try:
        assignments = m365.exchange.invoke("Get-ManagementRoleAssignment", {"Role": SEND_AS_APP_ROLE}).value
        scopes = {str(s.get("Name") or s.get("Identity")).lower(): s
                  for s in m365.exchange.invoke("Get-ManagementScope").value} if assignments else {}
    except M365Error as exc:
        access.notes.append(f"Apps' mailbox access (RBAC for Applications) not read: {exc.message}")
        return access
    for assignment in assignments:
        app = names.get(str(assignment.get("RoleAssignee") or "").lower(), str(assignment.get("RoleAssigneeName")))
        scope_name = str(assignment.get("CustomResourceScope") or "")
        if not scope_name:
            access.notes.append(f"{app} may send as every mailbox (an organisation-wide {SEND_AS_APP_ROLE} role): "
                                "which mailboxes it uses is not known.")
            continue
        scope = scopes.get(scope_name.lower())
        text = str((scope or {}).get("RecipientFilter") or "")
        if not text:
            access.notes.append(f"{app}: the management scope '{scope_name}' of its role could not be read.")
            continue
        try:
            boxes = m365.exchange.invoke("Get-CASMailbox", {"Filter": text, "ResultSize": "Unlimited"},
                                         select=["ExternalDirectoryObjectId", "PrimarySmtpAddress"]).value
        except M365Error as exc:
            access.notes.append(f"{app}: the mailboxes of its scope '{scope_name}' could not be listed: {exc.message}")
            continue
        for box in boxes:
            key = str(box.get("ExternalDirectoryObjectId") or box.get("PrimarySmtpAddress") or "").lower()
            access.mailboxes.setdefault(key, set()).add(app)
    access.notes.append(FULL_ACCESS_NOTE)
    return access


def used_since(m365: M365, upns: list[str], since: datetime) -> set[str]:
    """Which of `upns` signed in to SMTP AUTH with a password (failed attempts included) since `since`, looking
    `LOG_LATENCY` further back: a sign-in just before the report may have reached the logs only after it."""
    wanted = {u.lower() for u in upns}
    events = read_sign_ins(m365, since - LOG_LATENCY, lambda n: None)
    return {str(e.get("userPrincipalName") or "").lower() for e in events} & wanted


def read_sign_ins(m365: M365, since: datetime, on_page: Callable[[int], None]) -> list[dict[str, Any]]:
    """Every "Authenticated SMTP" sign-in since `since`, following `@odata.nextLink`."""
    from bot.m365.graph import Op

    op = Op("read the Entra ID sign-in logs", "AuditLog.Read.All")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {"$filter": f"createdDateTime ge {stamp} and clientAppUsed eq '{AUTHENTICATED_SMTP}'",
              "$top": str(SIGN_IN_PAGE)}
    data = m365.graph.get("auditLogs/signIns", op, params=params)
    items = list(data.get("value", []))
    on_page(len(items))
    while data.get("@odata.nextLink"):
        data = m365.graph.get(data["@odata.nextLink"], op)
        items.extend(data.get("value", []))
        on_page(len(items))
    return items


def join(boxes: list[dict[str, Any]], sign_ins: list[dict[str, Any]] | None, oauth: set[str]) -> list[Account]:
    """One account per mailbox and per signing-in user without one, joined on the Entra object id."""
    accounts: dict[str, Account] = {}
    for box in boxes:
        address = str(box.get("PrimarySmtpAddress") or "").lower()
        key = str(box.get("ExternalDirectoryObjectId") or address).lower()
        accounts[key] = Account(address, key, str(box.get("DisplayName") or ""), True,
                                box.get("SmtpClientAuthenticationDisabled"), Usage() if sign_ins is not None else None)
    for event in sign_ins or ():
        upn = str(event.get("userPrincipalName") or "").lower()
        key = str(event.get("userId") or upn).lower()
        account = accounts.get(key)
        if account is None:
            account = accounts[key] = Account(upn, key, str(event.get("userDisplayName") or ""), usage=Usage())
        elif upn:
            account.upn = upn  # the sign-in's UPN is the account's real sign-in name
        assert account.usage is not None
        status = event.get("status") or {}
        account.usage.add(_time(str(event.get("createdDateTime"))), str(event.get("ipAddress") or ""),
                          int(status.get("errorCode") or 0))
    for account in accounts.values():
        account.oauth = account.upn in oauth
    return list(accounts.values())


def sort_key(account: Account) -> tuple[int, int, str]:
    count = account.usage.count if account.usage else 0
    return ORDER[account.klass], -count, account.upn


def _time(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
