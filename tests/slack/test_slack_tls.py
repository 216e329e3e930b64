"""The bot's Slack Web API clients share one TLS context: the CA store is loaded once, not per call."""

from __future__ import annotations

import contextlib
import ssl

import pytest
from slack_helpers import BOT_TOKEN, ROOT, SIGNING_SECRET
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import load_config, with_overrides
from bot.runtime import slack_client, slack_tls


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, sandbox) -> list[int]:
    """Every load of the default CA store, trusting the sandbox CA as the system store for this test."""
    monkeypatch.setenv("SSL_CERT_FILE", str(sandbox.ca_path))
    slack_tls.cache_clear()
    seen: list[int] = []
    original = ssl.SSLContext.load_default_certs

    def counting(self: ssl.SSLContext, *args: object) -> None:
        seen.append(1)
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", counting)
    yield seen
    slack_tls.cache_clear()


def test_slack_calls_share_one_tls_context(sandbox, loads):
    # Any HTTPS server will do to count TLS set-ups; the sandbox's answers are not Slack's, so calls fail.
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}),
                         {"m365": sandbox.m365_settings(),
                          "slack": {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                                    "api_url": f"{sandbox.url}/api/", "approvers": ["U0APPROVER"]}})
    client, other = slack_client(cfg), slack_client(cfg)
    for each in (client, other, client):
        with contextlib.suppress(SlackApiError):
            each.auth_test()
    assert len(loads) == 1
    assert client.ssl is other.ssl and client.ssl.verify_mode == ssl.CERT_REQUIRED
    assert len([r for r in sandbox.state.requests if r.path == "/api/auth.test"]) == 3

    plain = WebClient(token=BOT_TOKEN, base_url=f"{sandbox.url}/api/")
    for _ in range(2):  # slack_sdk on its own: a new context and a CA load for every call
        with contextlib.suppress(SlackApiError):
            plain.auth_test()
    assert len(loads) == 3
