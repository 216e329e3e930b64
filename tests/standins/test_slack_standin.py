"""The Slack Web API stand-in, driven by slack_sdk's real WebClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.clock import FakeClock
from sandbox.slack import SlackStandin, block_errors, start_slack_standin

TOKEN = "xoxb-sandbox-0000-secret"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Enable SMTP AUTH for *scanner*?"}}
BUTTONS = {
    "type": "actions",
    "block_id": "decide",
    "elements": [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Approve"},
            "action_id": "approve",
            "value": "req-1",
            "style": "primary",
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Deny"},
            "action_id": "deny",
            "value": "req-1",
        },
    ],
}


@pytest.fixture(scope="module")
def running() -> Iterator[SlackStandin]:
    with start_slack_standin(bot_token=TOKEN) as standin:
        yield standin


@pytest.fixture
def standin(running: SlackStandin) -> SlackStandin:
    running.reset()
    return running


@pytest.fixture
def client(standin: SlackStandin) -> WebClient:
    return WebClient(token=TOKEN, base_url=standin.api_url, timeout=5)


def error_of(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_auth_test_answers_the_bot_identity(client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "U0BOT"
    assert answer["team_id"] == "T0SANDBOX"
    assert answer["bot_id"] == "B0BOT"
    assert answer["url"].startswith("https://")


def test_post_update_and_history(client: WebClient, standin: SlackStandin) -> None:
    posted = client.chat_postMessage(channel="C0OPS", text="approval needed", blocks=[SECTION, BUTTONS])
    ts = posted["ts"]
    assert posted["channel"] == "C0OPS"
    assert posted["message"]["blocks"][1]["elements"][0]["value"] == "req-1"
    assert posted["message"]["blocks"][0]["block_id"], "Slack stamps a block_id on blocks without one"

    kept = client.chat_update(channel="C0OPS", ts=ts, text="still waiting")
    assert kept["message"]["blocks"][1]["block_id"] == "decide", "omitted blocks are kept"
    done = client.chat_update(channel="C0OPS", ts=ts, text="Approved by Avery", blocks=[])
    assert "blocks" not in done["message"], "blocks=[] removes them"

    message = standin.message("C0OPS", ts)
    assert message.text == "Approved by Avery"
    assert message.blocks == []
    assert [v.text for v in message.versions] == ["approval needed", "still waiting", "Approved by Avery"]
    assert [v.via for v in message.versions] == ["chat.postMessage", "chat.update", "chat.update"]
    assert [m.ts for m in standin.messages("C0OPS")] == [ts]
    assert standin.messages("C0ALERTS") == []


def test_timestamps_are_unique_and_increasing() -> None:
    clock = FakeClock(datetime.fromtimestamp(1764320000, UTC))
    with start_slack_standin(bot_token=TOKEN, clock=clock) as standin:
        client = WebClient(token=TOKEN, base_url=standin.api_url)
        stamps = [client.chat_postMessage(channel="C0ALERTS", text=str(i))["ts"] for i in range(3)]
    assert stamps == ["1764320000.000000", "1764320000.000100", "1764320000.000200"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_update_errors(client: WebClient) -> None:
    assert (
        error_of(lambda: client.chat_update(channel="C0OPS", ts="1.000100", text="x")).response["error"]
        == "message_not_found"
    )
    assert (
        error_of(lambda: client.chat_postMessage(channel="C0NOPE", text="x")).response["error"]
        == "channel_not_found"
    )
    assert error_of(lambda: client.chat_postMessage(channel="C0OPS")).response["error"] == "no_text"


def test_post_by_channel_name_and_to_a_user(client: WebClient, standin: SlackStandin) -> None:
    assert client.chat_postMessage(channel="#mail-alerts", text="probe failed")["channel"] == "C0ALERTS"
    dm = client.chat_postMessage(channel="U0APPROVE", text="please approve")
    assert dm["channel"] == "D0APPROVE"
    assert standin.messages("D0APPROVE")[0].text == "please approve"
    assert client.conversations_info(channel="D0APPROVE")["channel"]["is_im"] is True


def test_ephemeral_and_permalink(client: WebClient, standin: SlackStandin) -> None:
    answer = client.chat_postEphemeral(channel="C0OPS", user="U0RANDOM", text="you cannot approve this")
    assert answer["message_ts"]
    [ephemeral] = standin.ephemerals("U0RANDOM")
    assert (ephemeral.channel, ephemeral.text, ephemeral.visible_to) == (
        "C0OPS",
        "you cannot approve this",
        "U0RANDOM",
    )
    assert standin.ephemerals("U0REQUEST") == []
    assert standin.messages("C0OPS") == []

    ts = client.chat_postMessage(channel="C0OPS", text="x")["ts"]
    link = client.chat_getPermalink(channel="C0OPS", message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/C0OPS/p{ts.replace('.', '')}")


def test_views_publish_records_the_home_per_user(client: WebClient, standin: SlackStandin) -> None:
    view = {"type": "home", "blocks": [SECTION]}
    first = client.views_publish(user_id="U0APPROVE", view=view)["view"]
    again = client.views_publish(user_id="U0APPROVE", view=view)["view"]
    assert first["id"] == again["id"]
    home = standin.home("U0APPROVE")
    assert home is not None and home["blocks"][0]["text"]["text"] == SECTION["text"]["text"]
    assert standin.home("U0REQUEST") is None
    bad = error_of(lambda: client.views_publish(user_id="U0APPROVE", view={"type": "modal", "blocks": []}))
    assert bad.response["error"] == "invalid_arguments"


def test_usergroups_users_and_channels(client: WebClient, standin: SlackStandin) -> None:
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0INGROUP"]
    standin.set_usergroup("S0ADMINS", ["U0INGROUP", "U0APPROVE"])
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0INGROUP", "U0APPROVE"]
    assert (
        error_of(lambda: client.usergroups_users_list(usergroup="S0NOPE")).response["error"]
        == "no_such_subteam"
    )

    user = client.users_info(user="U0REQUEST")["user"]
    assert (user["name"], user["real_name"], user["tz"]) == ("riley", "Riley Requester", "Europe/London")
    assert error_of(lambda: client.users_info(user="U0NOBODY")).response["error"] == "user_not_found"
    standin.add_user("U0NEW", "nova", "Nova Newcomer")
    assert client.users_info(user="U0NEW")["user"]["real_name"] == "Nova Newcomer"

    assert client.conversations_info(channel="C0OPS")["channel"]["name"] == "smtp-ops"
    assert (
        error_of(lambda: client.conversations_info(channel="C0NOPE")).response["error"] == "channel_not_found"
    )
    standin.add_channel("C0NEW", "smtp-new")
    assert client.chat_postMessage(channel="#smtp-new", text="hi")["channel"] == "C0NEW"


CARD_METADATA = {"event_type": "smtp_auth_plan_card", "event_payload": {"request_id": "req-1"}}


def test_messages_keep_their_metadata_which_history_returns_only_when_asked(
    client: WebClient, standin: SlackStandin
) -> None:
    card = client.chat_postMessage(channel="C0OPS", text="card", metadata=CARD_METADATA)
    plain = client.chat_postMessage(channel="C0OPS", text="plain")
    client.chat_postMessage(channel="C0OPS", text="reply", thread_ts=card["ts"])
    client.chat_update(channel="C0OPS", ts=card["ts"], text="card v2")
    assert standin.message("C0OPS", card["ts"]).metadata == CARD_METADATA

    answer = client.conversations_history(channel="C0OPS", include_all_metadata=True)
    assert [m["ts"] for m in answer["messages"]] == [plain["ts"], card["ts"]], "newest first, no thread replies"
    assert answer["messages"][1]["metadata"] == CARD_METADATA and "metadata" not in answer["messages"][0]
    assert answer["messages"][1]["text"] == "card v2" and answer["has_more"] is False
    assert all("metadata" not in m for m in client.conversations_history(channel="C0OPS")["messages"])

    for bad in ({"event_type": "x"}, {"event_payload": {}}, "not json"):
        assert error_of(lambda b=bad: client.chat_postMessage(channel="C0OPS", text="x", metadata=b)).response[
            "error"] == "invalid_metadata_format"


def test_history_pages_by_limit_and_cursor_within_oldest(client: WebClient, standin: SlackStandin) -> None:
    posted = [client.chat_postMessage(channel="C0OPS", text=str(n))["ts"] for n in range(5)]
    first = client.conversations_history(channel="C0OPS", limit=2, oldest=posted[0])
    assert [m["ts"] for m in first["messages"]] == [posted[4], posted[3]] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel="C0OPS", limit=2, oldest=posted[0], cursor=cursor)
    assert [m["ts"] for m in second["messages"]] == [posted[2], posted[1]] and second["has_more"] is False
    inclusive = client.conversations_history(channel="C0OPS", oldest=posted[3], latest=posted[4], inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == [posted[4], posted[3]]


def test_history_needs_the_history_scope_of_the_channels_kind(client: WebClient, standin: SlackStandin) -> None:
    standin.set_scopes(["chat:write", "channels:read", "groups:read"])
    refused = error_of(lambda: client.conversations_history(channel="C0OPS")).response
    assert (refused["error"], refused["needed"]) == ("missing_scope", "channels:history")
    assert error_of(lambda: client.conversations_history(channel="G0PRIVATE")).response["needed"] == "groups:history"
    standin.set_scopes(["channels:history"])
    assert client.conversations_history(channel="C0OPS")["messages"] == []
    assert error_of(lambda: client.conversations_history(channel="C0NOPE")).response["error"] == "channel_not_found"


def test_files_upload_v2_records_the_bytes(client: WebClient, standin: SlackStandin) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    answer = client.files_upload_v2(
        channel="C0OPS", content=png, filename="probes.png", title="Probe latency", initial_comment="weekly"
    )
    assert answer["file"]["title"] == "Probe latency"
    [stored] = standin.files()
    assert (stored.data, stored.filename, stored.title, stored.channels) == (
        png,
        "probes.png",
        "Probe latency",
        ("C0OPS",),
    )
    assert stored.completed and stored.initial_comment == "weekly"
    assert [c.method for c in standin.calls()] == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ]


def test_auth_failures_and_unknown_method(standin: SlackStandin) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=standin.api_url)
    assert error_of(wrong.auth_test).response["error"] == "invalid_auth"
    nobody = WebClient(base_url=standin.api_url)
    assert (
        error_of(lambda: nobody.chat_postMessage(channel="C0OPS", text="x")).response["error"] == "not_authed"
    )
    client = WebClient(token=TOKEN, base_url=standin.api_url)
    assert error_of(lambda: client.api_call("chat.scheduleNothing")).response["error"] == "unknown_method"
    assert standin.messages("C0OPS") == []


def test_ratelimited_fault_surfaces_as_429(client: WebClient, standin: SlackStandin) -> None:
    standin.faults.add(method="chat.postMessage", kind="ratelimited", retry_after="7", times=1)
    error = error_of(lambda: client.chat_postMessage(channel="C0OPS", text="x"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C0OPS", text="x")["ok"]
    assert [(c.status, c.fault) for c in standin.calls("chat.postMessage")] == [
        (429, "ratelimited"),
        (200, None),
    ]


def test_rate_limit_retry_handler_retries(standin: SlackStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    client = WebClient(token=TOKEN, base_url=standin.api_url, retry_handlers=[RateLimitErrorRetryHandler(2)])
    standin.faults.add(method="chat.*", kind="ratelimited", retry_after="0", times=2)
    assert client.chat_postMessage(channel="C0OPS", text="after retries")["ok"]
    assert [c.status for c in standin.calls("chat.postMessage")] == [429, 429, 200]
    assert len(sleeps) == 2 and all(0 <= s < 1 for s in sleeps), "slept Retry-After (0) plus jitter"
    assert [m.text for m in standin.messages("C0OPS")] == ["after retries"]


def test_status_error_latency_and_drop_faults(client: WebClient, standin: SlackStandin,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    standin.faults.add("status", method="users.info", status=503)
    error = error_of(lambda: client.users_info(user="U0REQUEST"))
    assert (error.response.status_code, error.response["error"]) == (503, "internal_error")

    standin.faults.add("error", method="chat.update", error="cant_update_message")
    ts = client.chat_postMessage(channel="C0OPS", text="x")["ts"]
    assert (
        error_of(lambda: client.chat_update(channel="C0OPS", ts=ts, text="y")).response["error"]
        == "cant_update_message"
    )

    standin.faults.add("latency", method="auth.test", seconds=0.3)
    started = time.monotonic()
    assert client.auth_test()["ok"]
    assert time.monotonic() - started >= 0.3

    standin.faults.add("drop", method="conversations.info", times=2)
    sleeps: list[float] = []  # slack_sdk's back-off before its retry, recorded instead of slept
    monkeypatch.setattr(retry_handler, "time", SimpleNamespace(sleep=sleeps.append))
    with pytest.raises(Exception) as dropped:
        client.conversations_info(channel="C0OPS")
    assert not isinstance(dropped.value, SlackApiError)
    calls = standin.calls("conversations.info")
    assert [(c.status, c.fault) for c in calls] == [(0, "drop"), (0, "drop")], "slack_sdk retries once"
    assert len(sleeps) == 1, "after one back-off"
    assert client.conversations_info(channel="C0OPS")["ok"], "times=2: the next call goes through"

    with pytest.raises(ValueError, match="fault kind"):
        standin.faults.add("explode")


def test_invalid_blocks(client: WebClient, standin: SlackStandin) -> None:
    too_many = [{"type": "divider"}] * 51
    error = error_of(lambda: client.chat_postMessage(channel="C0OPS", text="x", blocks=too_many))
    assert error.response["error"] == "invalid_blocks"
    assert any("no more than 50 items" in e for e in error.response["errors"])
    assert standin.messages("C0OPS") == []

    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    long_value = {**BUTTONS, "elements": [{**BUTTONS["elements"][0], "value": "v" * 2001}]}
    long_action = {**BUTTONS, "elements": [{**BUTTONS["elements"][0], "action_id": "a" * 256}]}
    twins = {**BUTTONS, "elements": [BUTTONS["elements"][0], BUTTONS["elements"][0]]}
    for blocks, pointer in [
        ([long_section], "/blocks/0/text/text"),
        ([long_value], "/blocks/0/elements/0/value"),
        ([long_action], "/blocks/0/elements/0/action_id"),
        ([twins], "/blocks/0/elements/1"),
    ]:
        error = error_of(lambda b=blocks: client.chat_postMessage(channel="C0OPS", text="x", blocks=b))
        assert error.response["error"] == "invalid_blocks"
        assert any(f"[json-pointer:{pointer}]" in e for e in error.response["errors"]), error.response[
            "errors"
        ]
    assert block_errors([SECTION, BUTTONS]) == []

    heavy = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5
    error = error_of(lambda: client.chat_postMessage(channel="C0OPS", text="x", blocks=heavy))
    assert error.response["error"] == "msg_blocks_too_long"


def test_token_is_never_recorded(client: WebClient, standin: SlackStandin) -> None:
    client.chat_postMessage(channel="C0OPS", text="x")
    requests.post(f"{standin.api_url}auth.test", data={"token": TOKEN}, timeout=5)
    standin.faults.add(kind="ratelimited", retry_after="0")
    error_of(lambda: client.chat_postMessage(channel="C0OPS", text="y"))
    calls = standin.calls()
    assert [c.method for c in calls] == ["chat.postMessage", "auth.test", "chat.postMessage"]
    assert calls[1].ok, "a token in the form body is accepted too"
    assert TOKEN not in repr(calls)
    assert all("token" not in c.args for c in calls)


def test_response_url_replaces_posts_and_expires(client: WebClient, standin: SlackStandin) -> None:
    ts = client.chat_postMessage(channel="C0OPS", text="approve?", blocks=[SECTION, BUTTONS])["ts"]
    url = standin.new_response_url(channel="C0OPS", user="U0APPROVE", message_ts=ts)
    assert url.startswith(f"{standin.url}/response/")
    assert requests.post(url, json={"text": "Approved", "replace_original": True}, timeout=5).json() == {
        "ok": True
    }
    assert standin.message("C0OPS", ts).text == "Approved"
    assert standin.message("C0OPS", ts).blocks == []
    requests.post(url, json={"text": "only you can see this"}, timeout=5)
    assert [m.text for m in standin.ephemerals("U0APPROVE")] == ["only you can see this"]
    requests.post(url, json={"text": "for everyone", "response_type": "in_channel"}, timeout=5)
    assert [m.text for m in standin.messages("C0OPS")] == ["Approved", "for everyone"]
    requests.post(url, json={"text": "", "delete_original": True}, timeout=5)
    assert standin.message("C0OPS", ts).deleted
    assert [r.effect for r in standin.responses()] == ["replaced", "ephemeral", "posted", "deleted"]

    invalid = requests.post(url, json={"text": "x", "blocks": [{"type": "divider"}] * 51}, timeout=5)
    assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_blocks")
    used = requests.post(url, json={"text": "sixth"}, timeout=5)
    assert (used.status_code, used.json()["error"]) == (404, "used_url")
    unknown = requests.post(f"{standin.url}/response/nope", json={"text": "x"}, timeout=5)
    assert unknown.status_code == 404


def test_response_url_expires_after_30_minutes() -> None:
    clock = FakeClock()
    with start_slack_standin(bot_token=TOKEN, clock=clock) as standin:
        url = standin.new_response_url(channel="C0OPS", user="U0REQUEST")
        clock.advance(31 * 60)
        answer = requests.post(url, json={"text": "too late"}, timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (404, "expired_url")


def test_reset_restores_the_seeds(client: WebClient, standin: SlackStandin) -> None:
    standin.set_usergroup("S0ADMINS", [])
    client.chat_postMessage(channel="C0OPS", text="x")
    standin.faults.add("error", error="fatal_error", times=None)
    standin.reset()
    assert standin.calls() == [] and standin.messages("C0OPS") == []
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0INGROUP"]


def test_replies_return_a_thread_parent_first_with_metadata_only_when_asked(client: WebClient,
                                                                           standin: SlackStandin) -> None:
    parent = client.chat_postMessage(channel="C0OPS", text="alert")["ts"]
    client.chat_postMessage(channel="C0OPS", text="elsewhere")
    replies = [client.chat_postMessage(channel="C0OPS", text=f"reply {n}", thread_ts=parent,
                                       metadata={"event_type": "note", "event_payload": {"n": n}})["ts"]
               for n in range(3)]
    answer = client.conversations_replies(channel="C0OPS", ts=parent, include_all_metadata=True)
    assert [m["ts"] for m in answer["messages"]] == [parent, *replies] and not answer["has_more"]
    assert [m.get("metadata", {}).get("event_payload") for m in answer["messages"]] == [None, *(
        {"n": n} for n in range(3))]
    assert "metadata" not in client.conversations_replies(channel="C0OPS", ts=parent)["messages"][1]
    by_reply = client.conversations_replies(channel="C0OPS", ts=replies[1], limit=2)  # a reply's ts: its thread
    assert [m["ts"] for m in by_reply["messages"]] == [parent, replies[0]] and by_reply["has_more"]
    rest = client.conversations_replies(channel="C0OPS", ts=parent, limit=2,
                                        cursor=by_reply["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == replies[1:]

    assert error_of(lambda: client.conversations_replies(channel="C0OPS", ts="1.000001")).response[
        "error"] == "thread_not_found"
    standin.set_scopes(["chat:write"])
    refused = error_of(lambda: client.conversations_replies(channel="C0OPS", ts=parent)).response
    assert (refused["error"], refused["needed"]) == ("missing_scope", "channels:history")


def test_the_permalink_of_a_reply_names_its_thread(client: WebClient, standin: SlackStandin) -> None:
    parent = client.chat_postMessage(channel="C0OPS", text="alert")["ts"]
    reply = client.chat_postMessage(channel="C0OPS", text="plan", thread_ts=parent)["ts"]
    link = client.chat_getPermalink(channel="C0OPS", message_ts=reply)["permalink"]
    assert link.endswith(f"/archives/C0OPS/p{reply.replace('.', '')}?thread_ts={parent}&cid=C0OPS")
    assert "?" not in client.chat_getPermalink(channel="C0OPS", message_ts=parent)["permalink"]
