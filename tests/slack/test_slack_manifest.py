"""The Slack app manifest matches what the bot serves."""

from __future__ import annotations

import pytest
import yaml
from slack_helpers import OTHER, ROOT

MANIFEST = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())


def test_every_manifest_command_is_served(start_bot):
    bot = start_bot()
    for command in MANIFEST["features"]["slash_commands"]:
        answer = bot.sender.command(command["command"], "", user_id=OTHER)
        assert answer.status_code == 200, command["command"]
        assert command["url"].endswith("/slack/events")
    assert bot.sender.command("/not-ours", "", user_id=OTHER).status_code == 404


def test_manifest_asks_for_the_minimum_scopes_and_the_events_it_handles():
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "usergroups:read",
                                                               "files:write", "channels:read", "groups:read",
                                                               "channels:history", "groups:history"}
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


SOCKET = yaml.safe_load((ROOT / "slack-manifest.socket.yaml").read_text())
URLS = (("settings", "event_subscriptions", "request_url"), ("settings", "interactivity", "request_url"))


def without_transport(manifest: dict) -> dict:
    """The manifest less what HTTP and Socket Mode set differently: request URLs and the socket switch."""
    copy = yaml.safe_load(yaml.safe_dump(manifest))
    for *path, key in URLS:
        section = copy
        for name in path:
            section = section[name]
        section.pop(key, None)
    for command in copy["features"]["slash_commands"]:
        command.pop("url", None)
    copy["settings"].pop("socket_mode_enabled")
    return copy


@pytest.mark.parametrize("manifest", [MANIFEST, SOCKET], ids=["http", "socket"])
def test_app_home_tab_on_and_messages_tab_off_and_not_read_only(manifest):
    home = manifest["features"]["app_home"]
    assert home == {"home_tab_enabled": True, "messages_tab_enabled": False,
                    "messages_tab_read_only_enabled": False}


@pytest.mark.parametrize("manifest", [MANIFEST, SOCKET], ids=["http", "socket"])
def test_long_description_says_what_the_bot_does_and_weakens_within_slacks_limits(manifest):
    info = manifest["display_information"]
    assert 175 <= len(info["long_description"]) <= 4000
    assert len(info["description"]) <= 140
    for word in ("SMTP AUTH", "approv", "weaken", "audit", "OAuth"):
        assert word in info["long_description"], word


def test_http_manifest_sends_everything_to_the_events_endpoint():
    assert MANIFEST["settings"]["socket_mode_enabled"] is False
    urls = [command["url"] for command in MANIFEST["features"]["slash_commands"]]
    urls += [MANIFEST["settings"]["event_subscriptions"]["request_url"],
             MANIFEST["settings"]["interactivity"]["request_url"]]
    assert set(urls) == {"https://bot.example.com/slack/events"}


def test_socket_manifest_has_socket_mode_and_no_request_urls():
    assert SOCKET["settings"]["socket_mode_enabled"] is True
    assert all("url" not in command for command in SOCKET["features"]["slash_commands"])
    assert "request_url" not in SOCKET["settings"]["event_subscriptions"]
    assert "request_url" not in SOCKET["settings"]["interactivity"]


def test_both_manifests_declare_the_same_commands_scopes_events_and_actions():
    assert without_transport(SOCKET) == without_transport(MANIFEST)
    assert SOCKET["settings"]["interactivity"]["is_enabled"] is True


def test_readme_says_which_manifest_to_use():
    readme = (ROOT / "README.md").read_text()
    assert "slack-manifest.yaml" in readme and "slack-manifest.socket.yaml" in readme
    assert "socket_mode_enabled: true" not in readme, "a second manifest, not an edit to the first"
