"""What the listeners share: the ephemeral reply (an App Home notice where a click has no response_url), help and
mailbox words, the parsed click, and silent outcomes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.probe.runner import find_target
from bot.slack import blocks
from bot.slack.listeners.home import publish_home
from bot.slack.services import SlackServices
from bot.workflow.model import Outcome, OutcomeKind
from handlers.facts import normalize_upn

log = logging.getLogger(__name__)
Ack = Callable[..., Any]
Respond = Callable[..., Any]

#: Outcomes the redrawn card shows by itself; anything else is told to the clicker.
QUIET = frozenset({OutcomeKind.APPROVED, OutcomeKind.DENIED, OutcomeKind.UNDO_APPROVED, OutcomeKind.UNDO_DENIED,
                   OutcomeKind.UNDO_REQUESTED, OutcomeKind.RETRY, OutcomeKind.APPLY_ANYWAY})


#: What asks a command for its usage rather than being its input.
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})


def wants_help(text: str | None) -> bool:
    return (text or "").strip().lower() in HELP_WORDS


def mailbox_of(targets: Sequence[Any], word: str) -> str:
    """The mailbox `word` names: a probe target's (by its name or mailbox), else `word` as a UPN (InvalidInput)."""
    target = find_target(targets, word)
    return str(target.mailbox).lower() if target is not None else normalize_upn(word)


#: conversations.info errors that mean the bot cannot post in the channel at all.
NOT_THERE = frozenset({"channel_not_found", "not_in_channel"})


def cannot_post(slack: Any, channel: str) -> str | None:
    """Why a card could not be posted in `channel` (the bot is not in it, it is someone's DM), else None.

    Only a definite answer refuses: any other error (a missing scope, Slack down) lets the request go on.
    """
    try:
        info = slack.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        info = {"is_member": False} if exc.response.get("error") in NOT_THERE else {}
    except Exception:  # no answer (a dropped connection once retries gave up): not a refusal
        log.warning("could not look channel %s up; the request goes on", channel, exc_info=True)
        return None
    if info.get("is_member") is False or info.get("is_archived"):
        return ("I cannot post the plan here: I am not in this conversation. Invite me with `/invite @bot` "
                "(or run the command in a channel I am in), then run it again.")
    return None


def ephemeral(respond: Respond, text: str, extra: dict[str, Any] | None = None) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False, **(extra or {}))


def tells_all(respond: Respond) -> bool:
    """True when no redrawn card is under the click (App Home), so even the outcomes a card shows are told."""
    return bool(getattr(respond, "tells_all", False))


def tell(respond: Respond, outcome: Outcome) -> None:
    """Tell the clicker what happened, unless the card says it already."""
    if outcome.kind not in QUIET or tells_all(respond):
        ephemeral(respond, outcome.message)


def in_app_home(body: dict[str, Any]) -> bool:
    """A click on the App Home tab: Slack sends its view and no response_url (Bolt's `respond()` would raise)."""
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    return (body.get("type") == "block_actions" and not body.get("response_url")
            and container.get("type") == "view" and view.get("type") == "home")


class HomeReply:
    """`respond` for a click in App Home: the answer is shown at the top of the clicker's refreshed Home view
    (views.publish; the app's Messages tab is off, so a DM would not be seen). Called like Bolt's `respond`."""

    tells_all = True

    def __init__(self, services: SlackServices, user: str, action: str) -> None:
        self.services = services
        self.user = user
        self.action = action

    def __call__(self, text: str = "", **_: Any) -> None:
        notice = blocks.home_notice(self.action, text, self.services.clock.now())
        try:
            publish_home(self.services, self.services.slack, self.user, notice)
        except SlackApiError as exc:
            log.warning("could not show %s its answer in App Home: %s", self.user, exc.response.get("error"))


def home_reply(services: SlackServices, body: dict[str, Any]) -> HomeReply | None:
    """The `respond` of a click in App Home (`HomeReply`), else None: the click has its own response_url."""
    if not in_app_home(body):
        return None
    user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
    actions = body.get("actions") if isinstance(body.get("actions"), list) else []
    action = actions[0] if actions and isinstance(actions[0], dict) else {}
    text = action.get("text") if isinstance(action.get("text"), dict) else {}
    label = text.get("text") or action.get("action_id") or "a button"
    return HomeReply(services, user, str(label)[:75]) if isinstance(user, str) and user else None


def clicked(body: dict[str, Any]) -> tuple[str, str] | None:
    """(user id, button value) of a well-formed block_actions body, else None."""
    try:
        user = body["user"]["id"]
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(user, str) or not isinstance(value, str) or not user:
        return None
    return user, value
