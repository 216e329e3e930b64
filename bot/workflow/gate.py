"""Who may ask for and decide a change: approvers by Slack user or user-group id, never the requester. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.errors import GroupUnreadable

#: How far a change must reach to count as wide, and how many different approvers a wide change needs unless
#: `slack.approvals_required` says otherwise for its step.
WIDE_SCOPES = frozenset({"tenant", "bulk"})
WIDE_APPROVALS = 2

#: Resolves a Slack user-group id (S...) to the ids of its members; raises GroupUnreadable when it cannot.
GroupMembers = Callable[[str], Iterable[str]]


def _split(ids: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    ids = [i.strip() for i in ids if i and i.strip()]
    return frozenset(i for i in ids if not i.startswith("S")), frozenset(i for i in ids if i.startswith("S"))


@dataclass(frozen=True)
class Refusal:
    """Why an actor may not do something, in words to show them (ephemerally)."""

    reason: str


@dataclass(frozen=True)
class GatePolicy:
    approvers: frozenset[str]
    approver_groups: frozenset[str]
    requesters: frozenset[str] = frozenset()
    requester_groups: frozenset[str] = frozenset()
    allow_self_approval: bool = False
    ttl: timedelta = timedelta(minutes=60)
    approvals_required: tuple[tuple[str, int], ...] = ()  # (step key, approvers) overriding the scope's default

    @classmethod
    def from_ids(cls, approvers: Iterable[str], requesters: Iterable[str] = (), *,
                 allow_self_approval: bool = False, ttl: timedelta = timedelta(minutes=60),
                 approvals_required: Mapping[str, int] | None = None) -> GatePolicy:
        users, groups = _split(approvers)
        req_users, req_groups = _split(requesters)
        return cls(users, groups, req_users, req_groups, allow_self_approval, ttl,
                   tuple(sorted((approvals_required or {}).items())))

    @classmethod
    def from_config(cls, slack: object) -> GatePolicy:
        return cls.from_ids(
            slack.approvers, slack.requesters,  # type: ignore[attr-defined]
            allow_self_approval=slack.allow_self_approval,  # type: ignore[attr-defined]
            ttl=timedelta(minutes=slack.approval_ttl_minutes),  # type: ignore[attr-defined]
            approvals_required=slack.approvals_required,  # type: ignore[attr-defined]
        )

    def approvals_needed(self, step_key: str, scope: str) -> int:
        """How many different approvers a step needs: as configured for it, else 2 for a wide change, else 1."""
        configured = dict(self.approvals_required)
        if step_key in configured:
            return configured[step_key]
        return WIDE_APPROVALS if scope in WIDE_SCOPES else 1

    def is_approver(self, user: str, members: GroupMembers) -> bool:
        return user in self.approvers or _in_groups(user, self.approver_groups, members)[0]

    def may_request(self, user: str, members: GroupMembers) -> Refusal | None:
        if not self.requesters and not self.requester_groups:
            return None
        if user in self.requesters or _in_groups(user, self.requester_groups, members)[0]:
            return None
        if self.is_approver(user, members):
            return None
        return Refusal("You are not on the list of people who may ask for SMTP AUTH changes. Ask an approver.")

    def may_decide(self, user: str, requester: str, members: GroupMembers, *, approve: bool) -> Refusal | None:
        """Approvers decide; the requester may withdraw (deny) their own request but never approve it.

        Fails closed: membership of a group that cannot be read is not assumed, and the refusal says why.
        """
        if user == requester and not approve:
            return None
        if user == requester and not self.allow_self_approval:
            return Refusal("You asked for this change, so someone else must approve it.")
        if user in self.approvers:
            return None
        member, unreadable = _in_groups(user, self.approver_groups, members)
        if member:
            return None
        if unreadable:
            return Refusal(" ".join(
                f"Could not confirm you are in approver group {e.group}: Slack said {e.reason}; nobody can "
                "approve through that group until it can be read." for e in unreadable))
        return Refusal("Only the configured approvers can approve or deny this change.")


def _in_groups(user: str, groups: Iterable[str], members: GroupMembers) -> tuple[bool, list[GroupUnreadable]]:
    """Whether `user` is in one of `groups`, and the groups that could not be read (never counted as in)."""
    unreadable = []
    for group in sorted(groups):
        try:
            if user in set(members(group)):
                return True, []
        except GroupUnreadable as exc:
            unreadable.append(exc)
    return False, unreadable
