"""Doctor checks for Slack: the bot token, its scopes, the alert channel and the approvers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.doctor.result import FAIL, OK, SKIP, WARN, Report

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.config import AppConfig

#: The bot token scopes slack-manifest.yaml asks for: what the bot needs at least.
SLACK_SCOPES = ("commands", "chat:write", "usergroups:read", "files:write", "channels:read", "groups:read",
                "channels:history", "groups:history")
SLACK_APP_SETTINGS = "api.slack.com/apps > your app"


class SlackChecks(Report):
    """The workspace the bot posts to, read through the Slack Web API."""

    def slack(self, cfg: AppConfig) -> None:
        if not cfg.slack.enabled:
            self.add(SKIP, "Slack", "Slack is off (SLACK_BOT_TOKEN not set); nothing to check")
            return
        from slack_sdk.errors import SlackApiError

        from bot.runtime import slack_client

        client = slack_client(cfg)
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            self.add(
                FAIL,
                "Slack token",
                f"auth.test refused the bot token: {exc.response.get('error')}",
                f"{SLACK_APP_SETTINGS} > OAuth & Permissions: install (or reinstall) the app and copy the "
                "Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN",
            )
        except OSError as exc:
            self.add(FAIL, "Slack token", f"cannot reach the Slack API at {client.base_url}: {exc}",
                     "check this host's network access to Slack, or slack.api_url (SLACK_API_URL)")
        else:
            bot = str(answer.get("user") or "the bot")
            self.add(OK, "Slack token", f"valid: team {answer.get('team')} ({answer.get('team_id')}), "
                     f"bot user @{bot} ({answer.get('user_id')})")
            self.slack_scopes(answer.headers)
            self.alert_channel(client, cfg.slack.alert_channel, bot)
            self.approvers(client, cfg.slack.approvers)
            return
        self.add(SKIP, "Slack workspace", "scopes, alert channel and approvers need a valid token")

    def slack_scopes(self, headers: Mapping[str, Any]) -> None:
        header = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
        if header is None:
            self.add(WARN, "Slack scopes", "Slack did not say which scopes the token has (no X-OAuth-Scopes)",
                     f"check that {SLACK_APP_SETTINGS} > OAuth & Permissions > Bot Token Scopes lists "
                     + ", ".join(SLACK_SCOPES))
            return
        granted = {scope.strip() for scope in header.split(",")}
        missing = [scope for scope in SLACK_SCOPES if scope not in granted]
        if not missing:
            self.add(OK, "Slack scopes", f"the bot token has {', '.join(SLACK_SCOPES)}")
            return
        self.add(
            FAIL,
            "Slack scopes",
            f"the bot token lacks {', '.join(missing)} "
            f"(slack-manifest.yaml asks for {', '.join(SLACK_SCOPES)})",
            f"{SLACK_APP_SETTINGS} > OAuth & Permissions > Scopes > Bot Token Scopes > Add an OAuth Scope: "
            f"{', '.join(missing)}; then Reinstall to Workspace (update SLACK_BOT_TOKEN if it changes)",
        )

    def alert_channel(self, client: WebClient, channel: str | None, bot: str) -> None:
        from slack_sdk.errors import SlackApiError

        check, invite = "Slack alert channel", f"in the channel, type /invite @{bot}"
        if not channel:
            self.add(SKIP, check, "none configured (slack.alert_channel), so probe alerts go nowhere")
            return
        if channel.startswith("#"):
            self.add(WARN, check, f"{channel} is a name, which doctor cannot look up; the bot must be in it",
                     f"set slack.alert_channel to the channel's ID (channel details > About, at the bottom) "
                     f"so doctor can check it, and {invite}")
            return
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "missing_scope":
                needed = exc.response.get("needed") or "channels:read"
                self.add(WARN, check, f"cannot look up {channel} without {needed}; "
                         "the bot must be in it", f"{invite} (or add that scope so doctor can check)")
            elif error in ("channel_not_found", "not_in_channel"):
                self.add(FAIL, check, f"{channel}: {error} — no such channel, or the bot is not in it",
                         f"{invite} (for a private channel too), or set slack.alert_channel to an existing "
                         "channel's ID")
            else:
                self.add(FAIL, check, f"conversations.info failed for {channel}: {error}",
                         "check slack.alert_channel")
            return
        name = f"#{info.get('name')} ({channel})"
        if info.get("is_archived"):
            self.add(FAIL, check, f"{name} is archived", "unarchive it or set slack.alert_channel to another")
        elif info.get("is_member") is False:
            self.add(FAIL, check, f"the bot is not in {name}, so alerts cannot be posted there", invite)
        else:
            self.add(OK, check, f"{name}: the bot is a member")

    def approvers(self, client: WebClient, approvers: list[str]) -> None:
        from slack_sdk.errors import SlackApiError

        check = "Slack approvers"
        if not approvers:
            self.add(WARN, check, "none configured, so nobody can approve a change",
                     "list Slack user IDs (U…) or user-group IDs (S…) under slack.approvers")
            return
        problems = []
        for group in (a for a in approvers if a.startswith("S")):
            try:
                members = client.usergroups_users_list(usergroup=group).get("users") or []
            except SlackApiError as exc:
                problems.append(f"user group {group}: {exc.response.get('error')}")
                continue
            if not members:
                problems.append(f"user group {group} has no members")
        if problems:
            self.add(WARN, check, "; ".join(problems),
                     "add members to those user groups, or list other approvers under slack.approvers")
        else:
            self.add(OK, check, f"{len(approvers)} configured: {', '.join(approvers)}")
