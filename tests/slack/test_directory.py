"""User-group membership read from the Slack stand-in: a short cache, and closed when Slack will not answer."""

from __future__ import annotations

import pytest
from slack_helpers import BOT_TOKEN
from slack_sdk import WebClient

from bot.clock import FakeClock
from bot.errors import GroupUnreadable
from bot.slack.directory import UserGroups
from bot.workflow.gate import GatePolicy

GATE = GatePolicy.from_ids(["U0APPROVE", "S0ADMINS"])


@pytest.fixture
def groups(standin) -> UserGroups:
    return UserGroups(WebClient(token=BOT_TOKEN, base_url=standin.api_url, timeout=5), clock=FakeClock())


def test_a_removed_member_is_refused_once_the_short_cache_runs_out(groups, standin):
    assert GATE.may_decide("U0INGROUP", "U0REQUEST", groups.members, approve=True) is None
    standin.set_usergroup("S0ADMINS", ["U0APPROVE"])
    groups.clock.advance(9)
    assert GATE.may_decide("U0INGROUP", "U0REQUEST", groups.members, approve=True) is None  # cached
    groups.clock.advance(1)
    refusal = GATE.may_decide("U0INGROUP", "U0REQUEST", groups.members, approve=True)
    assert refusal is not None and "Only the configured approvers" in refusal.reason


@pytest.mark.parametrize(("fault", "said"), [
    ({"kind": "error", "error": "missing_scope"}, "missing_scope"),
    ({"kind": "error", "error": "token_revoked"}, "token_revoked"),
    ({"kind": "status", "status": 503}, "internal_error"),
])
def test_an_unreadable_group_refuses_its_members_and_says_why(groups, standin, fault, said):
    assert groups.members("S0ADMINS") == {"U0INGROUP"}
    groups.clock.advance(10)
    standin.faults.add(method="usergroups.users.list", times=None, **fault)
    with pytest.raises(GroupUnreadable):
        groups.members("S0ADMINS")  # never the older list
    refusal = GATE.may_decide("U0INGROUP", "U0REQUEST", groups.members, approve=True)
    assert refusal is not None and refusal.reason == (
        f"Could not confirm you are in approver group S0ADMINS: Slack said {said}; nobody can approve "
        "through that group until it can be read.")
    assert not GATE.is_approver("U0INGROUP", groups.members)
    assert GATE.may_decide("U0APPROVE", "U0REQUEST", groups.members, approve=True) is None  # listed directly
