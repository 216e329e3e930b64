"""A tenant's users in order, indexed by every name a lookup uses, so lookups cost the same for 10 or 10,000.

Graph finds a user by object id or user principal name; Exchange by those, the alias, the display name,
the primary SMTP address or the mailbox GUID; SMTP AUTH by UPN or mail address. All compare without
case except ids and GUIDs, which are stored lower-cased. The list keeps its order (lookups that match
several users answer the first, as a scan did) and every change goes through `insert`, `__setitem__` and
`__delitem__`, which keep the index in step; a user's own renames reach it through `User.__setattr__`.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from sandbox.tenant import User

#: The kinds of key, each with how it is read from a user ("" when the user has none).
KINDS = ("id", "upn", "alias", "display", "mail", "mailbox")
#: User attributes whose change moves the user in the index.
INDEXED = frozenset({"id", "user_principal_name", "display_name", "mail", "mailbox"})


def keys_of(user: User) -> dict[str, str]:
    upn = user.user_principal_name.lower()
    return {
        "id": user.id,
        "upn": upn,
        "alias": upn.split("@")[0],
        "display": user.display_name.lower(),
        "mail": (user.mail or "").lower(),
        "mailbox": user.mailbox.guid if user.mailbox else "",
    }


class UserDirectory(MutableSequence["User"]):
    """The users of one tenant: a list with a dict per kind of key (key -> users holding it, in order)."""

    def __init__(self, users: Iterable[User] = ()) -> None:
        self._users: list[User] = []
        self._index: dict[str, dict[str, list[User]]] = {kind: {} for kind in KINDS}
        self._keys: dict[int, dict[str, str]] = {}
        self.lookups = 0
        for user in users:
            self.append(user)

    def find(self, ref: str, kinds: Iterable[str]) -> list[User]:
        """The users whose key of one of `kinds` equals `ref` (already lower-cased), in directory order."""
        self.lookups += 1
        found: list[User] = []
        for kind in kinds:
            for user in self._index[kind].get(ref, ()):
                if not any(user is seen for seen in found):
                    found.append(user)
        if len(found) > 1:
            order = {id(user): n for n, user in enumerate(self._users)}
            found.sort(key=lambda user: order[id(user)])
        return found

    def first(self, ref: str, kinds: Iterable[str]) -> User | None:
        found = self.find(ref, kinds)
        return found[0] if found else None

    # MutableSequence: every change passes through these three
    def insert(self, index: int, user: User) -> None:
        self._users.insert(index, user)
        self._add(user)

    @overload
    def __getitem__(self, index: int) -> User: ...
    @overload
    def __getitem__(self, index: slice) -> list[User]: ...
    def __getitem__(self, index: int | slice) -> User | list[User]:
        return self._users[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        old = self._users[index]
        for user in old if isinstance(index, slice) else [old]:
            self._drop(user)
        self._users[index] = value
        for user in value if isinstance(index, slice) else [value]:
            self._add(user)

    def __delitem__(self, index: int | slice) -> None:
        old = self._users[index]
        for user in old if isinstance(old, list) else [old]:
            self._drop(user)
        del self._users[index]

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Any:
        return iter(self._users)

    def __repr__(self) -> str:
        return f"UserDirectory({self._users!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UserDirectory):
            return self._users == other._users
        return isinstance(other, list) and self._users == other

    __hash__ = None  # type: ignore[assignment]

    # the index
    def reindexed(self, user: User, change: Any) -> None:
        """Apply `change()` to `user` (a rename) and move it in the index."""
        self._drop(user)
        try:
            change()
        finally:
            self._add(user)

    def _add(self, user: User) -> None:
        keys = keys_of(user)
        self._keys[id(user)] = keys
        for kind, key in keys.items():
            if key:
                self._index[kind].setdefault(key, []).append(user)
        object.__setattr__(user, "_directory", self)

    def _drop(self, user: User) -> None:
        keys = self._keys.pop(id(user), {})
        for kind, key in keys.items():
            holders = self._index[kind].get(key)
            if holders is None:
                continue
            holders[:] = [u for u in holders if u is not user]
            if not holders:
                del self._index[kind][key]
        if user.__dict__.get("_directory") is self:
            object.__setattr__(user, "_directory", None)


class Members(MutableSequence[str]):
    """A group's or role's member ids in order, with a count per id so `id in members` does not scan."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._count: dict[str, int] = {}
        for member in ids:
            self.append(member)

    def __contains__(self, member: object) -> bool:
        return member in self._count

    def insert(self, index: int, member: str) -> None:
        self._ids.insert(index, member)
        self._count[member] = self._count.get(member, 0) + 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._ids[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self._ids[index] = value
        self._recount()

    def __delitem__(self, index: int | slice) -> None:
        del self._ids[index]
        self._recount()

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Any:
        return iter(self._ids)

    def __repr__(self) -> str:
        return repr(self._ids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Members):
            return self._ids == other._ids
        return isinstance(other, list) and self._ids == other

    __hash__ = None  # type: ignore[assignment]

    def _recount(self) -> None:
        self._count = {}
        for member in self._ids:
            self._count[member] = self._count.get(member, 0) + 1
