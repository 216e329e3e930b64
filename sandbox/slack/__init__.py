"""A stateful local stand-in for the Slack Web API, upload and response URLs, for slack_sdk's WebClient."""

from sandbox.slack.blocks import block_errors
from sandbox.slack.identity import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_SCOPES,
    BOT_USER_ID,
    SEED_CHANNELS,
    SEED_USERGROUPS,
    SEED_USERS,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
)
from sandbox.slack.records import ResponsePost, SlackCall, SlackFile, SlackMessage
from sandbox.slack.standin import SlackStandin, start_slack_standin

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_NAME",
    "BOT_SCOPES",
    "BOT_USER_ID",
    "SEED_CHANNELS",
    "SEED_USERGROUPS",
    "SEED_USERS",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "ResponsePost",
    "SlackCall",
    "SlackFile",
    "SlackMessage",
    "SlackStandin",
    "block_errors",
    "start_slack_standin",
]
