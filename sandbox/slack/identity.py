"""Who the Slack stand-in is: its team and bot, and the people, channels and user groups it starts with."""

from __future__ import annotations

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
TEAM_NAME = "Sandbox"
APP_ID = "A0SMTPBOT"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
BOT_NAME = "smtp-auth-bot"

SEED_CHANNELS: dict[str, str] = {"C0OPS": "smtp-ops", "C0ALERTS": "mail-alerts"}
SEED_USERS: dict[str, tuple[str, str, str]] = {
    "U0REQUEST": ("riley", "Riley Requester", "Europe/London"),
    "U0APPROVE": ("avery", "Avery Approver", "America/New_York"),
    "U0RANDOM": ("sam", "Sam Bystander", "Europe/Berlin"),
    "U0INGROUP": ("gale", "Gale Groupmember", "Asia/Tokyo"),
}
SEED_USERGROUPS: dict[str, list[str]] = {"S0ADMINS": ["U0INGROUP"]}
#: The bot token's scopes reported in `X-OAuth-Scopes`, as Slack does: by default the manifest's.
BOT_SCOPES = ("commands", "chat:write", "usergroups:read", "files:write", "channels:read", "groups:read",
              "channels:history", "groups:history")
