"""The door of /slack/events: oversized bodies refused unread, malformed signatures refused before Bolt,
rejected bodies never logged."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from slack_helpers import APPROVER

from bot.config import with_overrides
from bot.slack.app import create_bolt_app, wsgi_app

LIMIT = 512 * 1024
MARKER = "disk-filler-marker"
WELL_FORMED = {"HTTP_X_SLACK_REQUEST_TIMESTAMP": "1700000000", "HTTP_X_SLACK_SIGNATURE": "v0=" + "0" * 64}


class Body(io.RawIOBase):
    """`size` bytes made on demand, counting how many the app read."""

    def __init__(self, size: int) -> None:
        self.left, self.taken = size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left, self.taken = self.left - n, self.taken + n
        return b"x" * n


def call(app: Any, body: Body, **environ: Any) -> tuple[str, bytes]:
    env: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "wsgi.input": body, **environ}
    setup_testing_defaults(env)
    answer: list[str] = []
    chunks = app(env, lambda status, headers: answer.append(status))
    return answer[0], b"".join(chunks)


@pytest.fixture
def bot_app(start_bot):
    bot = start_bot()
    return wsgi_app(create_bolt_app(bot.runtime), bot.runtime)


def test_a_20_mb_body_gets_413_unread(bot_app):
    body = Body(20 * 1024 * 1024)
    status, answer = call(bot_app, body, CONTENT_LENGTH=str(body.left))
    assert status.startswith("413") and b"too large" in answer
    assert body.taken == 0


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying-content-length"])
def test_a_body_that_turns_out_larger_gets_413_after_limit_plus_one_bytes(bot_app, declared):
    body = Body(20 * 1024 * 1024)
    extra = {"CONTENT_LENGTH": declared} if declared else {}
    status, _ = call(bot_app, body, **extra, **WELL_FORMED, **{"wsgi.input_terminated": True})
    assert status.startswith("413") and body.taken == LIMIT + 1


def test_a_non_numeric_content_length_gets_400_unread(bot_app):
    body = Body(10)
    status, _ = call(bot_app, body, CONTENT_LENGTH="12abc")
    assert status.startswith("400") and body.taken == 0


def test_over_http_one_byte_over_the_limit_is_refused_and_the_limit_is_configurable(start_bot):
    import requests

    bot = start_bot()
    answer = requests.post(bot.sender.url, data=b"x" * (LIMIT + 1), timeout=10)
    assert answer.status_code == 413
    small = replace(bot.runtime, cfg=with_overrides(bot.runtime.cfg, {"server": {"max_body_bytes": 2048}}))
    status, _ = call(wsgi_app(create_bolt_app(small), small), Body(3000), CONTENT_LENGTH="3000")
    assert status.startswith("413")


def test_rejected_bodies_never_reach_the_log(start_bot, caplog):
    caplog.set_level(logging.DEBUG)
    bot = start_bot()
    body = bot.sender.command_body("/smtp-enable", MARKER, user_id=APPROVER)
    assert bot.sender.raw(body, bot.sender.sign(body, secret="not-the-secret")).status_code == 401
    assert bot.sender.raw(MARKER.encode() * (LIMIT // len(MARKER) + 1), {}).status_code == 413
    assert caplog.records and MARKER not in caplog.text


@pytest.mark.parametrize("timestamp, signature", [
    ("abc", None), ("", None), ("1700000000.5", None), ("-1", None), ("1e9", None),
    ("99999999999999999999", None), ("¹²³", None), (None, ""), (None, "v0="), (None, "v0=" + "z" * 64), (None, "v1=" + "0" * 64),
    (None, "V0=" + "0" * 64), ("drop", None), (None, "drop"), (None, "pair"),
], ids=lambda value: repr(value))
def test_malformed_signature_headers_get_401_before_bolt(start_bot, standin, timestamp, signature):
    bot = start_bot()
    body = bot.sender.command_body("/smtp-enable", "scanner@contoso.com", user_id=APPROVER)
    headers = bot.sender.sign(body)
    for name, value in (("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature)):
        if value == "drop":
            del headers[name]
        elif value == "pair":
            headers[name] = f"{headers[name]},{headers[name]}"
        elif value is not None:
            headers[name] = value
    answer = bot.sender.raw(body, headers)
    assert answer.status_code == 401 and answer.json() == {"error": "invalid request"}
    assert bot.runtime.store.requests.list() == [] and standin.calls("chat.postMessage") == []
