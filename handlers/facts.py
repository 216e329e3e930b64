"""Facts about a tenant and its users, read once and cached: in bulk for a diagnosis, one by one for a step.

`Facts.prefetch(upns)` reads everything a diagnosis needs with as few requests as Microsoft allows
(two Graph batches, a handful of Exchange cmdlets with OPATH filters); afterwards every lookup is a
cache hit. Without prefetch each lookup reads just its own value, which is what verify uses.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import InvalidInput, M365Error, MailboxNotFound, PermissionMissing, Throttled, UserNotFound
from bot.m365.exchange import ExchangeNotFound
from bot.m365.graph import BATCH_LIMIT, BatchItem, NotFound, Op
from bot.m365.tenant import M365
from handlers.graph_paths import CA_POLICIES_PATH, SECURITY_DEFAULTS_PATH, user_path

log = logging.getLogger(__name__)

READ_USER = Op("read users", "User.Read.All")
READ_MEMBERSHIP = Op("read group and role memberships", "GroupMember.Read.All")
ROLE_TYPE = "#microsoft.graph.directoryRole"
READ_POLICY = Op("read security defaults and Conditional Access policies", "Policy.Read.All")
READ_MFA = Op("read per-user MFA state", "Policy.Read.All")

USER_SELECT = "id,userPrincipalName,displayName,mail,accountEnabled,assignedLicenses,userType"
CAS_SELECT = ["Identity", "Guid", "PrimarySmtpAddress", "ExternalDirectoryObjectId", "SmtpClientAuthenticationDisabled"]
#: Get-User resolves Entra ids to Exchange objects: ExternalDirectoryObjectId is filterable on Get-User but
#: not on Get-CASMailbox, whose -Filter accepts Guid (learn.microsoft.com/powershell/exchange/filter-properties).
USER_ROW_SELECT = ["UserPrincipalName", "ExternalDirectoryObjectId", "Guid", "AuthenticationPolicy"]
FILTER_CHUNK = 50  # ids per OPATH filter: keeps the filter short and the request count low
#: Users per v1.0 `$batch`: two requests each (user, memberships); the first batch holds one fewer, for the
#: two tenant-wide reads. Graph takes at most 20 requests per batch (learn.microsoft.com/graph/json-batching).
GRAPH_USERS_PER_BATCH = BATCH_LIMIT // 2
PREFETCH_THREADS = 8  # requests of one prefetch in flight at once

_UPN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{4,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_SLACK_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")


def normalize_upn(text: str) -> str:
    """A lower-cased UPN, or InvalidInput saying what to type. Accepts Slack's `<mailto:a@b|a@b>` form."""
    raw = (text or "").strip()
    match = _SLACK_MAILTO.match(raw)
    candidate = match.group(1) if match else raw
    if not _UPN.match(candidate) or ".." in candidate or candidate.startswith("."):
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise InvalidInput(
            f"'{shown}' is not a user principal name.",
            hint="Give the mailbox's sign-in name, for example scanner@contoso.com.",
        )
    return candidate.lower()


@dataclass(frozen=True)
class OAuthApp:
    """What an OAuth onboarding diagnoses: the device's app (its client id) and how to grant it the mailbox.

    `route` is "scoped" (RBAC for Applications: a management scope for this mailbox and the "Application
    SMTP.SendAsApp" role) or "full_access" (Entra admin consent for SMTP.SendAsApp and FullAccess on the mailbox).
    """

    app_id: str
    route: str = "scoped"


@dataclass(frozen=True)
class Memberships:
    """Ids of the user's groups, roles and role templates (CA policies name roles by template id).

    Without RoleManagement.Read.Directory, Graph returns a role as its `@odata.type` and `id` only, with
    `roleTemplateId` null (learn.microsoft.com/graph/api/user-list-transitivememberof, "limited
    information"); `unreadable_roles` counts those, whose template the user may or may not hold.
    """

    ids: frozenset[str]
    unreadable_roles: int = 0


@dataclass(frozen=True)
class UserInfo:
    id: str
    upn: str
    display_name: str
    account_enabled: bool
    licensed: bool
    user_type: str


class Facts:
    """A read-through cache of what Microsoft says about one tenant, for one diagnosis or one step."""

    def __init__(self, m365: M365, clock: Clock = SYSTEM_CLOCK, *, app: OAuthApp | None = None) -> None:
        self.m365 = m365
        self.clock = clock
        self.app = app  # the app an OAuth onboarding is for (`handlers.app_facts`); None for other diagnoses
        self._cache: dict[tuple[str, str], Any] = {}

    def cached(self, key: tuple[str, str], read: Callable[[], Any]) -> Any:
        """`read()` once per key (its M365Error too); for reads kept in other modules (`handlers.app_facts`)."""
        return self._get(key, read)

    def _get(self, key: tuple[str, str], read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = read()
            except M365Error as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, M365Error):
            raise value
        return value

    def _put(self, key: tuple[str, str], value: Any) -> None:
        self._cache[key] = value

    # Tenant-wide facts -------------------------------------------------------------------------
    def security_defaults(self) -> bool:
        return self._get(("tenant", "security_defaults"), lambda: bool(
            self.m365.graph.get(SECURITY_DEFAULTS_PATH, READ_POLICY)["isEnabled"]))

    def ca_policies(self) -> list[dict[str, Any]]:
        return self._get(("tenant", "ca"), lambda: self.m365.graph.get_all(CA_POLICIES_PATH, READ_POLICY))

    def transport_config(self) -> dict[str, Any]:
        return self._get(("tenant", "transport"), lambda: _first(self.m365.exchange.invoke(
            "Get-TransportConfig", select=["SmtpClientAuthenticationDisabled", "AllowLegacyTLSClients"]).value))

    def auth_policies(self) -> dict[str, dict[str, Any]]:
        """Exchange authentication policies by lower-cased name."""
        return self._get(("tenant", "auth_policies"), lambda: {
            str(p.get("Name", "")).lower(): p for p in self.m365.exchange.invoke("Get-AuthenticationPolicy").value})

    def default_auth_policy(self) -> str | None:
        def read() -> str | None:
            if not self.auth_policies():
                return None  # no policies at all: nothing can be the default
            return self._organization_config().get("DefaultAuthenticationPolicy") or None
        return self._get(("tenant", "default_auth_policy"), read)

    def _organization_config(self) -> dict[str, Any]:
        return self._get(("tenant", "organization"), lambda: _first(self.m365.exchange.invoke(
            "Get-OrganizationConfig", select=["DefaultAuthenticationPolicy"]).value))

    # Per-user facts ----------------------------------------------------------------------------
    def user(self, upn: str) -> UserInfo:
        def read() -> UserInfo:
            try:
                data = self.m365.graph.get(f"/users/{user_path(upn)}", READ_USER, params={"$select": USER_SELECT})
            except NotFound:
                raise UserNotFound(upn) from None
            return _user_info(data)
        return self._get(("user", upn), read)

    def mailbox(self, upn: str) -> dict[str, Any] | None:
        """The user's CAS mailbox settings, or None when the user has no Exchange Online mailbox."""
        def read() -> dict[str, Any] | None:
            try:
                found = self.m365.exchange.invoke("Get-CASMailbox", {"Identity": upn}, select=CAS_SELECT).value
            except ExchangeNotFound:
                return None
            return found[0] if found else None
        return self._get(("mailbox", upn), read)

    def require_mailbox(self, upn: str) -> dict[str, Any]:
        mailbox = self.mailbox(upn)
        if mailbox is None:
            raise MailboxNotFound(upn)
        return mailbox

    def mfa_state(self, upn: str) -> str:
        return self._get(("mfa", upn), lambda: str(self.m365.graph.get(
            f"/users/{user_path(upn)}/authentication/requirements", READ_MFA, version="beta")["perUserMfaState"]))

    def memberships(self, upn: str) -> Memberships:
        """The groups (transitively) and directory roles the user belongs to."""
        return self._get(("memberships", upn), lambda: _membership_ids(self.m365.graph.get_all(
            f"/users/{user_path(upn)}/transitiveMemberOf", READ_MEMBERSHIP,
            params={"$select": "id,roleTemplateId", "$top": "999"})))

    def user_auth_policy(self, upn: str) -> str | None:
        def read() -> str | None:
            if not self.auth_policies():
                return None
            found = self.m365.exchange.invoke("Get-User", {"Identity": upn}, select=["AuthenticationPolicy"]).value
            return (found[0].get("AuthenticationPolicy") or None) if found else None
        return self._get(("auth_policy", upn), read)

    # Bulk --------------------------------------------------------------------------------------
    def prefetch(self, upns: list[str]) -> None:
        """Read every fact a diagnosis of `upns` needs, in bulk and at once. Failures are cached per fact.

        Two round trips whatever the number of users: first, in parallel, the Graph v1.0 batches (tenant
        policies, users, memberships), the beta batches (per-user MFA), Exchange's Get-User by
        UserPrincipalName and the tenant-wide cmdlets; then Get-CASMailbox by the Guids Get-User returned.
        """
        with ThreadPoolExecutor(max_workers=PREFETCH_THREADS, thread_name_prefix="prefetch") as pool:
            def start(fn: Callable[..., Any], *args: Any) -> Future[Any]:  # each read keeps the caller's log context
                return pool.submit(contextvars.copy_context().run, fn, *args)
            first = GRAPH_USERS_PER_BATCH - 1  # the first batch also carries the two tenant-wide reads
            reads = [start(self._prefetch_graph, chunk, n == 0) for n, chunk in
                     enumerate([upns[:first], *_chunks(upns[first:], GRAPH_USERS_PER_BATCH)])]
            reads += [start(self._prefetch_mfa, chunk) for chunk in _chunks(upns, BATCH_LIMIT)]
            rows = start(self._prefetch_exchange_users, upns)
            tenant = [start(self._get_quietly, read)
                      for read in (self.transport_config, self.auth_policies, self._organization_config)]
            for read in (*reads, rows, *tenant):
                read.result()
        self._get_quietly(self.default_auth_policy)  # from the two cached reads: no request
        found = rows.result()
        if found is not None and self._get_quietly(self.auth_policies):
            for upn in upns:
                self._put(("auth_policy", upn), (found.get(upn) or {}).get("AuthenticationPolicy") or None)

    def _prefetch_graph(self, upns: list[str], first: bool) -> None:
        """One v1.0 `$batch`: users and memberships of `upns`, and (`first`) the tenant-wide policies."""
        items = [BatchItem("sd", SECURITY_DEFAULTS_PATH, READ_POLICY),
                 BatchItem("ca", CA_POLICIES_PATH, READ_POLICY)] if first else []
        for n, upn in enumerate(upns):
            items.append(BatchItem(f"u{n}", f"/users/{user_path(upn)}?$select={USER_SELECT}", READ_USER))
            items.append(BatchItem(
                f"m{n}", f"/users/{user_path(upn)}/transitiveMemberOf?$select=id,roleTemplateId&$top=999", READ_MEMBERSHIP))
        by_id = {item.id: item for item in self.m365.graph.batch(items)}
        if first:
            self._store(("tenant", "security_defaults"), by_id["sd"], lambda body: bool(body["isEnabled"]))
            self._store(("tenant", "ca"), by_id["ca"], lambda body: self._all_pages(body, READ_POLICY))
        for n, upn in enumerate(upns):
            user_item = by_id[f"u{n}"]
            if user_item.status == 404:
                self._put(("user", upn), UserNotFound(upn))
                continue
            self._store(("user", upn), user_item, _user_info)
            self._store(("memberships", upn), by_id[f"m{n}"],
                        lambda body: _membership_ids(self._all_pages(body, READ_MEMBERSHIP)))

    def _prefetch_mfa(self, upns: list[str]) -> None:
        """One beta `$batch` of per-user MFA states (a user Graph does not know answers 404, cached as such)."""
        items = [BatchItem(f"f{n}", f"/users/{user_path(upn)}/authentication/requirements", READ_MFA)
                 for n, upn in enumerate(upns)]
        self.m365.graph.batch(items, version="beta")
        for upn, item in zip(upns, items, strict=True):
            self._store(("mfa", upn), item, lambda body: str(body["perUserMfaState"]))

    def _prefetch_exchange_users(self, upns: list[str]) -> dict[str, dict[str, Any]] | None:
        """Get-User rows by UserPrincipalName (filterable on Get-User, so this needs nothing from Graph),
        then the CAS mailboxes by the Guids they carry; the rows by UPN, or None when the bulk read failed."""
        rows = self._bulk_read(upns, "Get-User", "UserPrincipalName", {u: u for u in upns}, USER_ROW_SELECT,
                               facts=("mailbox", "auth_policy"))
        if rows is not None:
            self._prefetch_mailboxes(upns, rows)
        return rows

    def _prefetch_mailboxes(self, upns: list[str], rows: dict[str, dict[str, Any]]) -> None:
        """CAS mailboxes by the Guid Get-User returned: Get-CASMailbox cannot filter on the Entra object id."""
        by_guid = {str(row.get("Guid", "")).lower(): upn for upn, row in rows.items() if row.get("Guid")}
        if not by_guid:
            for upn in upns:
                self._put(("mailbox", upn), None)
            return
        boxes = self._bulk_read(upns, "Get-CASMailbox", "Guid", by_guid, CAS_SELECT, facts=("mailbox",))
        if boxes is None:
            return
        for upn in upns:
            self._put(("mailbox", upn), boxes.get(upn))

    def _bulk_read(
        self,
        users: list[str],
        cmdlet: str,
        prop: str,
        index: dict[str, str],
        select: list[str],
        *,
        facts: tuple[str, ...],
    ) -> dict[str, dict[str, Any]] | None:
        """Rows of `cmdlet` whose `prop` (filterable on that cmdlet, per Microsoft) is a key of `index`, by UPN.

        None when the bulk read failed for a reason that may not hold per identity (a rejected filter, an
        outage): the facts then stay unread and each is read for its own identity. A missing permission
        or role, or throttling that outlasted the retries, holds for every identity: it is cached as each of
        `facts` for every user.
        """
        found: dict[str, dict[str, Any]] = {}
        try:
            for chunk in _chunks(list(index), FILTER_CHUNK):
                for row in self.m365.exchange.invoke(cmdlet, {"Filter": _any_of(prop, chunk)}, select=select).value:
                    upn = index.get(str(row.get(prop, "")).lower())
                    if upn:
                        found[upn] = row
        except (PermissionMissing, Throttled) as exc:
            for upn in users:
                for fact in facts:
                    self._put((fact, upn), exc)
            return None
        except M365Error as exc:
            log.warning("bulk %s failed (%s); reading each identity on its own", cmdlet, exc)
            return None
        return found

    def _get_quietly(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except M365Error:
            return None

    def _store(self, key: tuple[str, str], item: BatchItem, convert: Callable[[Any], Any]) -> None:
        try:
            self._put(key, convert(item.raise_for_status()))
        except M365Error as exc:
            self._put(key, exc)

    def _all_pages(self, body: dict[str, Any], op: Op) -> list[Any]:
        values = list(body.get("value", []))
        if body.get("@odata.nextLink"):
            values.extend(self.m365.graph.get_all(body["@odata.nextLink"], op))
        return values


def _first(values: list[dict[str, Any]]) -> dict[str, Any]:
    return values[0] if values else {}


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _any_of(prop: str, values: list[str]) -> str:
    """An OPATH filter matching any of `values`; single quotes inside a value are doubled."""
    return " -or ".join(f"{prop} -eq '{v.replace(chr(39), chr(39) * 2)}'" for v in values)


def _user_info(data: dict[str, Any]) -> UserInfo:
    return UserInfo(
        id=str(data["id"]),
        upn=str(data.get("userPrincipalName", "")),
        display_name=str(data.get("displayName") or ""),
        account_enabled=bool(data.get("accountEnabled", True)),
        licensed=bool(data.get("assignedLicenses")),
        user_type=str(data.get("userType") or "Member"),
    )


def _membership_ids(values: list[dict[str, Any]]) -> Memberships:
    ids: set[str] = set()
    unreadable = 0
    for entry in values:
        ids.add(str(entry.get("id", "")).lower())
        if entry.get("roleTemplateId"):
            ids.add(str(entry["roleTemplateId"]).lower())
        elif entry.get("@odata.type") == ROLE_TYPE:
            unreadable += 1
    return Memberships(frozenset(ids - {""}), unreadable)
