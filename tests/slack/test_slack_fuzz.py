"""Malformed but correctly signed payloads never produce a 5xx or a change (hypothesis)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_helpers import APPROVER, REQUESTER, wait_until

from bot.slack import ids

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=50)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)
action_ids = st.sampled_from([*ids.ACTIONS, "unknown_action", ""]) | st.text(max_size=300)
values = st.text(max_size=3000) | st.integers().map(str) | st.sampled_from(["1", "-1", "0", "99999999999999999999"])


@st.composite
def block_actions(draw: st.DrawFn) -> dict:
    action = draw(st.fixed_dictionaries({}, optional={"action_id": action_ids, "value": values | json_values,
                                                       "type": st.just("button"), "block_id": st.text(max_size=20)}))
    payload = draw(st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "nonsense"]) | json_values,
        "user": st.fixed_dictionaries({}, optional={"id": st.sampled_from([APPROVER, REQUESTER]) | json_values}),
        "actions": st.lists(st.just(action), max_size=2) | json_values,
        "team": json_values, "channel": json_values, "container": json_values, "response_url": json_values,
    }))
    return payload


@pytest.fixture
def fuzz_bot(start_bot):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    bot.card()
    return bot


def untouched(bot) -> bool:
    steps = [s for r in bot.runtime.store.requests.list() for s in bot.runtime.store.requests.get_steps(r.id)]
    return all(s.state == "pending" for s in steps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=block_actions())
def test_malformed_interactions(fuzz_bot, payload):
    body = urlencode({"payload": json.dumps(payload)}).encode()
    answer = fuzz_bot.sender.raw(body, fuzz_bot.sender.sign(body))
    assert answer.status_code < 500
    wait_until(lambda: fuzz_bot.runtime.idle(), what="work drained")
    assert untouched(fuzz_bot)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["/smtp-enable", "/smtp-status", "/smtp-explain", "/smtp-probe", "/other"]),
       text=st.text(max_size=5000), junk=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20),
                                                         max_size=3))
def test_malformed_commands(fuzz_bot, command, text, junk):
    fields = {"command": command, "text": text, "user_id": REQUESTER, "channel_id": "C0OPS", **junk}
    body = urlencode(fields).encode()
    answer = fuzz_bot.sender.raw(body, fuzz_bot.sender.sign(body))
    assert answer.status_code < 500
    wait_until(lambda: fuzz_bot.runtime.idle(), what="work drained")
    assert untouched(fuzz_bot)
