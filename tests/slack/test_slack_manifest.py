"""The Slack app manifest matches what the bot serves."""

from __future__ import annotations

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
                                                               "files:write", "channels:read", "groups:read"}
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
