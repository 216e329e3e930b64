"""The sandbox's user lookups are indexed: the same answers as a scan, with no scan, for 100 or 10,000 users."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.exchange_cmdlets import CmdletError, _find
from sandbox.launcher import Sandbox
from sandbox.tenant import TenantState, User
from sandbox.user_index import UserDirectory

from .conftest import EXCHANGE, Api


def scan_user(tenant: TenantState, ref: str) -> User | None:
    """The lookup as it was: every user, compared case-insensitively by id or UPN."""
    ref = ref.lower()
    return next((u for u in list(tenant.users) if ref in (u.id, u.user_principal_name.lower())), None)


def scan_exchange(tenant: TenantState, identity: str, mailbox: bool) -> User | None:
    ref = identity.lower()
    for user in list(tenant.users):
        keys = {user.id, user.user_principal_name.lower(), user.alias.lower(), user.display_name.lower()}
        keys |= {(user.mail or "").lower(), user.mailbox.guid if user.mailbox else ""}
        if ref in keys and (user.mailbox or not mailbox):
            return user
    return None


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time anything walks a tenant's user list (iteration or indexing)."""
    seen: list[str] = []
    iterate, item = UserDirectory.__iter__, UserDirectory.__getitem__

    def counting_iter(self: UserDirectory) -> Any:
        seen.append("iter")
        return iterate(self)

    def counting_item(self: UserDirectory, index: Any) -> Any:
        seen.append("item")
        return item(self, index)

    monkeypatch.setattr(UserDirectory, "__iter__", counting_iter)
    monkeypatch.setattr(UserDirectory, "__getitem__", counting_item)
    return seen


@pytest.mark.parametrize("extra", [100, 10_000])
def test_lookups_do_not_walk_the_users(api: Api, sb: Sandbox, walks: list[str], extra: int) -> None:
    tenant = sb.state.tenant("contoso")
    for n in range(extra):
        tenant.add_user(f"bulk{n:05}@contoso.com", display_name=f"Bulk {n}")
    target = tenant.add_user("needle@contoso.com", display_name="Needle", groups=["Legacy auth blocked"])
    graph, exchange = api.token(), api.token(EXCHANGE)
    walks.clear()
    lookups = tenant.users.lookups

    assert api.graph("GET", "/users/NEEDLE@contoso.com", token=graph).json()["id"] == target.id
    assert api.graph("GET", f"/users/{target.id}/transitiveMemberOf", token=graph).status_code == 200
    for identity in ("needle", "Needle@Contoso.com", target.id):
        answer = api.exo("Get-User", {"Identity": identity}, token=exchange)
        assert answer.json()["value"][0]["ExternalDirectoryObjectId"] == target.id
    answer = api.exo("Get-CASMailbox", {"Identity": target.mailbox.guid}, token=exchange)
    assert answer.json()["value"][0]["Name"] == "needle"
    assert api.exo("Get-CASMailbox", {"Identity": "nobody@contoso.com"}, token=exchange).status_code == 404

    assert walks == []
    assert tenant.users.lookups - lookups == 7  # one index lookup per request, whatever the tenant's size


def test_index_answers_as_the_scan_did(sb: Sandbox) -> None:
    tenant = sb.state.tenant("contoso")
    tenant.add_user("twin1@contoso.com", display_name="Twin", mailbox=False)
    tenant.add_user("twin2@contoso.com", display_name="Twin")
    tenant.add_user("MixedCase@Contoso.com", mail="Other.Address@contoso.com")
    refs = ["twin", "TWIN", "twin1", "other.address@contoso.com", "mixedcase", "nobody", ""]
    for user in tenant.users:
        refs += [user.id, user.user_principal_name.upper(), user.alias, user.display_name, user.mail or ""]
        refs += [user.mailbox.guid] if user.mailbox else []
    for ref in refs:
        assert tenant.user(ref) is scan_user(tenant, ref), ref
    for ref in refs:
        for mailbox in (True, False):
            expected = scan_exchange(tenant, ref, mailbox)
            try:
                found = _find(tenant, ref, mailbox=mailbox)
            except CmdletError:
                found = None
            assert found is expected, (ref, mailbox)
    assert _find(tenant, "Twin", mailbox=True).user_principal_name == "twin2@contoso.com"
    assert _find(tenant, "Twin", mailbox=False).user_principal_name == "twin1@contoso.com"


def test_the_index_follows_renames_removals_and_replacements(sb: Sandbox) -> None:
    tenant = sb.state.tenant("contoso")
    user = tenant.add_user("before@contoso.com")
    user.user_principal_name = "after@contoso.com"
    user.mail = "after@contoso.com"
    assert tenant.user("before@contoso.com") is None and tenant.user("AFTER@contoso.com") is user
    assert tenant.users.first("after", ["alias"]) is user and tenant.users.first("before", ["alias"]) is None
    user.mailbox = None
    assert tenant.users.find(user.id, ["id"]) == [user] and tenant.users.first("after@contoso.com", ["mail"])

    tenant.users.remove(user)
    assert tenant.user(user.id) is None and tenant.user("after@contoso.com") is None
    user.user_principal_name = "detached@contoso.com"  # no longer in the directory: nothing to update
    assert tenant.user("detached@contoso.com") is None

    first = tenant.users[0]
    replacement = User("00000000-0000-0000-0000-0000000000aa", "swap@contoso.com", "Swap", None)
    tenant.users[0] = replacement
    assert tenant.user(first.user_principal_name) is None and tenant.user("swap@contoso.com") is replacement

    tenant.users = [first]
    assert isinstance(tenant.users, UserDirectory) and tenant.user(first.id) is first
    assert tenant.user("swap@contoso.com") is None


def test_membership_checks_follow_changes(sb: Sandbox) -> None:
    tenant = sb.state.tenant("contoso")
    group = tenant.group("Legacy auth blocked")
    user = tenant.add_user("member@contoso.com", groups=["Legacy auth blocked"])
    assert user.id in group.members and group in tenant.member_of(user)
    group.members.remove(user.id)
    assert user.id not in group.members and group not in tenant.member_of(user)
    group.members.extend([user.id, user.id])
    del group.members[-1]
    assert user.id in group.members and list(group.members).count(user.id) == 1
