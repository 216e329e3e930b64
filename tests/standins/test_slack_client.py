"""The signed Slack sender: real signature verification, and payloads a real Bolt app accepts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from werkzeug.serving import make_server

from sandbox.slack import SlackStandin, start_slack_standin
from sandbox.slack_client import ButtonNotFound, SlackSender

TOKEN = "xoxb-sandbox-client-test"
SECRET = "signing-secret-for-tests"
CARD = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Enable SMTP AUTH for scanner@contoso.com?"}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Approve"},
                "action_id": "approve",
                "value": "req-42",
                "style": "primary",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Deny"},
                "action_id": "deny",
                "value": "req-42",
                "style": "danger",
            },
        ],
    },
]


@dataclass
class Seen:
    commands: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    retries: list[str | None] = field(default_factory=list)


@dataclass
class Bot:
    url: str
    seen: Seen


@pytest.fixture(scope="module")
def running() -> Iterator[SlackStandin]:
    with start_slack_standin(bot_token=TOKEN) as standin:
        yield standin


@pytest.fixture
def standin(running: SlackStandin) -> SlackStandin:
    running.reset()
    return running


@pytest.fixture(scope="module")
def bot(running: SlackStandin) -> Iterator[Bot]:
    """A tiny Bolt app over HTTP: it records what reaches its listeners and answers like the real bot."""
    seen = Seen()
    app = App(
        client=WebClient(token=TOKEN, base_url=running.api_url),
        signing_secret=SECRET,
        token_verification_enabled=False,
        process_before_response=True,
    )

    @app.command("/smtp-enable")
    def enable(
        ack: Any, command: dict[str, Any], client: WebClient, request: BoltRequest, respond: Any
    ) -> None:
        ack()
        seen.commands.append(command)
        seen.retries.append(request.headers.get("x-slack-retry-num", [None])[0])
        respond(text=f"Checking {command['text']}")
        client.chat_postMessage(channel=command["channel_id"], text="approval needed", blocks=CARD)

    @app.action("approve")
    def approve(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        seen.actions.append(body)
        respond(text=f"Approved by <@{body['user']['id']}>", replace_original=True)

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]},
        )

    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Bot(f"http://127.0.0.1:{server.server_port}", seen)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def sender(bot: Bot, standin: SlackStandin) -> SlackSender:
    bot.seen.commands.clear()
    bot.seen.actions.clear()
    bot.seen.retries.clear()
    return SlackSender(bot.url, SECRET, standin=standin)


def headers_of(signed: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in signed.items()}


def test_signatures_pass_slack_sdk_verification() -> None:
    sender = SlackSender("http://127.0.0.1:9", SECRET)
    verifier = SignatureVerifier(SECRET)
    body = sender.command_body(text="scanner@contoso.com")
    assert verifier.is_valid_request(body, headers_of(sender.sign(body)))
    forged = sender.sign(body, secret="not-the-secret")
    assert not verifier.is_valid_request(body, headers_of(forged))
    stale = sender.sign(body, timestamp=sender.stale_timestamp())
    assert not verifier.is_valid_request(body, headers_of(stale))
    assert not verifier.is_valid_request(body + b"&x=1", headers_of(sender.sign(body)))
    assert sender.url == "http://127.0.0.1:9/slack/events"


def test_command_body_has_slacks_fields() -> None:
    sender = SlackSender("http://127.0.0.1:9/slack/events", SECRET)
    fields = {k: v[0] for k, v in parse_qs(sender.command_body(text="a@b.c").decode(), True).items()}
    assert set(fields) == {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    }
    assert (fields["command"], fields["user_id"], fields["user_name"]) == (
        "/smtp-enable",
        "U0REQUEST",
        "riley",
    )
    assert (fields["channel_id"], fields["channel_name"]) == ("C0OPS", "smtp-ops")
    assert fields["response_url"].startswith("https://hooks.slack.com/commands/T0SANDBOX/")


def test_command_reaches_bolt(sender: SlackSender, standin: SlackStandin, bot: Bot) -> None:
    answer = sender.command(text="scanner@contoso.com", user_id="U0REQUEST")
    assert answer.status_code == 200, answer.text
    [command] = bot.seen.commands
    assert (command["user_id"], command["text"], command["channel_id"]) == (
        "U0REQUEST",
        "scanner@contoso.com",
        "C0OPS",
    )
    assert bot.seen.retries == [None]
    [reply] = standin.responses()
    assert (reply.payload["text"], reply.effect, reply.user) == (
        "Checking scanner@contoso.com",
        "ephemeral",
        "U0REQUEST",
    )
    assert [m.text for m in standin.ephemerals("U0REQUEST")] == ["Checking scanner@contoso.com"]
    assert [c.method for c in standin.calls() if c.method != "response_url"][-1] == "chat.postMessage"

    assert sender.command(text="again", retry_num=1).status_code == 200
    assert bot.seen.retries == [None, "1"]


def test_click_button_reaches_bolt_and_replaces_the_card(
    sender: SlackSender, standin: SlackStandin, bot: Bot
) -> None:
    sender.command(text="scanner@contoso.com")
    [card] = standin.messages("C0OPS")
    assert [b.text for b in sender.buttons("C0OPS", card.ts)] == ["Approve", "Deny"]

    answer = sender.click_button("C0OPS", card.ts, user_id="U0APPROVE", text_or_action_id="Approve")
    assert answer.status_code == 200, answer.text
    [body] = bot.seen.actions
    action = body["actions"][0]
    assert (action["action_id"], action["value"], action["block_id"]) == ("approve", "req-42", "decision")
    assert (body["user"]["id"], body["user"]["name"]) == ("U0APPROVE", "avery")
    assert body["container"] == {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": "C0OPS",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == card.ts
    assert body["message"]["blocks"][1]["elements"][0]["value"] == "req-42"
    assert standin.message("C0OPS", card.ts).text == "Approved by <@U0APPROVE>"

    with pytest.raises(ButtonNotFound, match="buttons: none"):
        sender.click_button("C0OPS", card.ts, user_id="U0APPROVE", text_or_action_id="Approve")


def test_click_button_lists_the_buttons_when_missing(sender: SlackSender, standin: SlackStandin) -> None:
    ts = WebClient(token=TOKEN, base_url=standin.api_url).chat_postMessage(
        channel="C0OPS", text="card", blocks=CARD
    )["ts"]
    with pytest.raises(ButtonNotFound, match=r"'Approve' \(approve\), 'Deny' \(deny\)"):
        sender.click_button("C0OPS", ts, user_id="U0APPROVE", text_or_action_id="Escalate")


def test_low_level_click(sender: SlackSender, bot: Bot) -> None:
    payload = sender.click_payload(
        "approve", "req-7", user_id="U0RANDOM", message_ts="1764320000.000100", blocks=CARD
    )
    assert payload["type"] == "block_actions" and payload["message"]["blocks"] == CARD
    answer = sender.click("approve", "req-7", user_id="U0RANDOM", message_ts="1764320000.000100", blocks=CARD)
    assert answer.status_code == 200
    assert bot.seen.actions[0]["actions"][0]["value"] == "req-7"
    assert bot.seen.actions[0]["user"]["id"] == "U0RANDOM"


def test_forged_and_stale_requests_get_401(sender: SlackSender, bot: Bot) -> None:
    body = sender.command_body(text="scanner@contoso.com")
    assert sender.raw(body, sender.sign(body, secret="forged")).status_code == 401
    assert sender.raw(body, sender.sign(body, timestamp=sender.stale_timestamp())).status_code == 401
    assert sender.raw(body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert sender.raw(body, sender.sign(body)).status_code == 200
    assert len(bot.seen.commands) == 1


def test_events_reach_bolt(sender: SlackSender, standin: SlackStandin) -> None:
    assert sender.url_verification("challenge-123").json() == {"challenge": "challenge-123"}
    assert sender.app_home_opened("U0APPROVE").status_code == 200
    home = standin.home("U0APPROVE")
    assert home is not None and home["blocks"][0]["text"]["text"] == "Hi"
    envelope = json.loads(sender.event_body({"type": "app_home_opened", "user": "U0APPROVE"}))
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    retried = json.loads(sender.event_body({"type": "app_home_opened"}, event_id=envelope["event_id"]))
    assert retried["event_id"] == envelope["event_id"]
    assert sender.event({"type": "app_home_opened", "user": "U0REQUEST"}, retry_num=2).status_code == 200
    assert envelope["authorizations"][0]["user_id"] == "U0BOT"


def test_click_on_an_ephemeral_card(sender: SlackSender, standin: SlackStandin, bot: Bot) -> None:
    ts = WebClient(token=TOKEN, base_url=standin.api_url).chat_postEphemeral(
        channel="C0OPS", user="U0APPROVE", text="card", blocks=CARD
    )["message_ts"]
    assert (
        sender.click_button("C0OPS", ts, user_id="U0APPROVE", text_or_action_id="approve").status_code == 200
    )
    [body] = bot.seen.actions
    assert body["container"]["is_ephemeral"] is True and "message" not in body
    [ephemeral] = standin.ephemerals("U0APPROVE")
    assert ephemeral.text == "Approved by <@U0APPROVE>" and ephemeral.blocks == []


def test_command_response_url_replaces_its_first_reply(standin: SlackStandin) -> None:
    body = SlackSender("http://127.0.0.1:9", SECRET, standin=standin).command_body()
    response_url = parse_qs(body.decode())["response_url"][0]
    assert response_url.startswith(f"{standin.url}/response/")
    requests.post(response_url, json={"text": "working..."}, timeout=5)
    requests.post(response_url, json={"text": "done", "replace_original": True}, timeout=5)
    assert [m.text for m in standin.ephemerals("U0REQUEST")] == ["done"]
    assert [r.effect for r in standin.responses()] == ["ephemeral", "replaced"]
