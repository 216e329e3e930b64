"""The listeners through Bolt's own dispatch: signed requests in, a fake services object recording what they do.

No HTTP server, no sandbox: each test builds the real Bolt app (`bot.slack.app.bolt_app`) over `FakeServices`,
dispatches a correctly signed `BoltRequest`, and checks the ack and what was handed to the pool; running the
handed-over work shows what reaches the workflow, the probes and the reply (the response URL is a recorder).
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web import SlackResponse
from sqlalchemy.exc import OperationalError

from bot.clock import FakeClock
from bot.errors import NotAllowed
from bot.probe import ProbeResult
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.app import bolt_app
from bot.slack.listeners import enable, home, plan_actions
from bot.slack.services import SlackServices
from bot.workflow.model import Outcome, OutcomeKind

ROOT = Path(__file__).resolve().parents[2]
SECRET = "listener-tests-signing-secret"
REQUESTER, APPROVER = "U0REQUEST", "U0APPROVE"
PRINTER = SimpleNamespace(name="printer", mailbox="printer@contoso.com", auth="login")
SCANNER = SimpleNamespace(name="scanner", mailbox="scanner@contoso.com", auth="xoauth2")


class OfflineClient(WebClient):
    """A Web API client that answers auth.test itself (Bolt asks once, when the app is built, who the bot is) and
    refuses any other call: listeners reach Slack only through the services or the response URL."""

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        assert api_method == "auth.test", f"a listener called {api_method} directly"
        data = {"ok": True, "team_id": "T0TEAM", "user_id": "U0BOT", "bot_id": "B0BOT", "url": "https://t.slack.com/"}
        return SlackResponse(client=self, http_verb="POST", api_url=self.base_url + api_method, req_args={},
                             data=data, headers={}, status_code=200)


@dataclass
class FakeWorkflow:
    """Records each call; answers with `outcome` (decisions) and `refusals` (Approve all)."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    outcome: Outcome = Outcome(OutcomeKind.APPROVED, "Approved.", run=True)
    refusals: list[Outcome] = field(default_factory=list)
    policy: Any = field(default_factory=lambda: SimpleNamespace(allow_self_approval=False))

    store_error: Exception | None = None
    received: dict[str, str] = field(default_factory=dict)
    triggers: set[str] = field(default_factory=set)
    failures: dict[str, Exception] = field(default_factory=dict)

    def receive(self, upn: str, user: str, channel: str, *, auth_mode: str = "basic", include_org: bool = False,
                app: Any = None, thread_ts: str | None = None, trigger_id: str | None = None) -> str | None:
        if self.store_error is not None:
            raise self.store_error
        if trigger_id in self.triggers:
            return None  # a redelivery: the unique trigger id stored nothing
        self.triggers.add(trigger_id or "")
        self.triggers.discard("")
        if app is not None:
            self.calls.append(("receive", upn, user, channel, app.app_id, app.route))
        else:
            self.calls.append(("receive", upn, user, channel, auth_mode, include_org,
                               *([thread_ts] if thread_ts else [])))
        request_id = f"cr-{len(self.received) + 1}"
        self.received[request_id] = channel
        return request_id

    def withdraw(self, request_id: str, reason: str) -> bool:
        self.calls.append(("withdraw", request_id))
        return True

    def diagnose_requests(self, request_ids: list[str]) -> dict[str, Any]:
        self.calls.append(("diagnose_requests", *request_ids))
        return {request_id: self.failures.get(request_id, SimpleNamespace(request=SimpleNamespace(id=request_id)))
                for request_id in request_ids}

    def find(self, request_id: str) -> Any:
        self.calls.append(("find", request_id))
        request = SimpleNamespace(id=request_id, upn="scanner@contoso.com",
                                  channel=self.received.get(request_id, "C0CARD"),
                                  thread_ts=CARD_THREAD if request_id.startswith("CR-") else None,
                                  options={"auth_mode": "oauth", "include_org": True})
        return SimpleNamespace(request=request) if request_id.startswith("CR-") or request_id in self.received else None

    def decide(self, step_id: int, actor: str, *, approve: bool) -> Outcome:
        self.calls.append(("decide", step_id, actor, approve))
        return self.outcome

    def run(self, step_id: int) -> None:
        self.calls.append(("run", step_id))

    def request_undo(self, step_id: int, actor: str) -> Outcome:
        self.calls.append(("request_undo", step_id, actor))
        return self.outcome

    def retry(self, step_id: int, actor: str) -> Outcome:
        self.calls.append(("retry", step_id, actor))
        return self.outcome

    def retry_failed(self, step_id: int, actor: str) -> Outcome:
        self.calls.append(("retry_failed", step_id, actor))
        return self.outcome

    def apply_anyway(self, request_id: str, actor: str) -> Outcome:
        self.calls.append(("apply_anyway", request_id, actor))
        return self.outcome

    def approve_all(self, request_id: str, user: str) -> list[Outcome]:
        self.calls.append(("approve_all", request_id, user))
        return [Outcome(OutcomeKind.APPROVED, "Approved."), *self.refusals]

    def requests_for(self, upn: str | None) -> list[Any]:
        self.calls.append(("requests_for", upn))
        return []

    def pending_for(self, user: str) -> list[Any]:
        return []

    def recent(self) -> list[Any]:
        return []

    def is_approver(self, user: str) -> bool:
        return user == APPROVER


@dataclass
class FakeSlack:
    """conversations.info as Slack answers it: `member` channels have the bot, `outside` ones not, others unknown."""

    member: tuple[str, ...] = ("C0OPS", "C0CARD", "C0ALERTS")
    outside: tuple[str, ...] = ("C0PUBLIC",)

    published: list[dict[str, Any]] = field(default_factory=list)

    def views_publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"ok": True}

    def conversations_info(self, channel: str) -> dict[str, Any]:
        if channel not in self.member + self.outside:
            raise SlackApiError("channel_not_found", {"ok": False, "error": "channel_not_found"})
        return {"ok": True, "channel": {"id": channel, "is_channel": True, "is_member": channel in self.member}}


@dataclass
class FakeServices:
    """`SlackServices` for tests: the pool only records; `run_submitted` runs the work with a recording reply."""

    targets: Sequence[Any] = (PRINTER, SCANNER)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    clock: FakeClock = field(default_factory=FakeClock)
    slack: Any = field(default_factory=FakeSlack)
    alert_channel: str | None = "C0ALERTS"
    submitted: list[tuple[Callable[..., Any], tuple[Any, ...]]] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    queued: list[tuple[Callable[..., Any], str, Any]] = field(default_factory=list)
    capacity: int = 100
    busy_after: int = 3

    @property
    def cards(self) -> Any:
        return SimpleNamespace(refresh=lambda request_id: self.calls.append(("refresh", request_id)))

    @property
    def probe_targets(self) -> Sequence[Any]:
        return self.targets

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.submitted.append((fn, args))

    def queue_diagnosis(self, work: Callable[[Any, list[Any]], None], request_id: str, item: Any) -> int | None:
        if len(self.queued) >= self.capacity:
            return None
        self.queued.append((work, request_id, item))
        return len(self.queued)

    def run_submitted(self) -> None:
        """Run the pool's work, then the queued diagnoses as one batch (each reply recorded)."""
        def respond(**reply: Any) -> None:
            self.replies.append(reply)
        work, self.submitted = self.submitted, []
        for fn, args in work:
            fn(*(respond if isinstance(a, Respond) else a for a in args))
        queued, self.queued = self.queued, []
        if queued:
            items = [dataclasses.replace(item, respond=respond) for _, _, item in queued]
            queued[0][0](self, items)

    def probe_now(self, target: Any) -> ProbeResult:
        self.calls.append(("probe_now", target.name))
        return ProbeResult(name=target.name, host="smtp.office365.com", port=587, mailbox=target.mailbox,
                           tls_mode="starttls", auth="login", auth_mode="basic", ok=True, phase="auth", cause="ok",
                           detail=None, message="SMTP AUTH works", reply=None, started_at=self.clock.now(),
                           duration_ms=120.0)

    def snooze(self, target: str, mailbox: str, actor: str, hours: int, *, incident: str | None = None,
               cause: str | None = None) -> datetime | None:
        self.calls.append(("snooze", target, mailbox, actor, hours, *((incident, cause) if incident else ())))
        if actor != APPROVER:
            raise NotAllowed("Only approvers can snooze or unsnooze alerts here.")
        return self.clock.now() + timedelta(hours=hours)

    def unsnooze(self, target: str, mailbox: str, actor: str, *, incident: str | None = None,
                 cause: str | None = None) -> bool:
        self.calls.append(("unsnooze", target, mailbox, actor, *((incident, cause) if incident else ())))
        return target == "printer"

    def probe_statuses(self, upn: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("probe_statuses", upn))
        return []

    def basic_auth_summary(self) -> dict[str, Any] | None:
        return None

    def chart_png(self) -> bytes:
        return b"\x89PNG"


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def app(services: FakeServices) -> App:
    return bolt_app(services, client=OfflineClient(token="xoxb-listener-tests"), signing_secret=SECRET)


def dispatch(app: App, body: str, content_type: str, *, secret: str = SECRET, **headers: str) -> BoltResponse:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    signed = {"content-type": [content_type], "x-slack-signature": [signature],
              "x-slack-request-timestamp": [timestamp]} | {k.replace("_", "-"): [v] for k, v in headers.items()}
    return app.dispatch(BoltRequest(body=body, headers=signed))


def command(app: App, name: str, text: str, *, user: str = REQUESTER, secret: str = SECRET, channel: str = "C0OPS",
            trigger: str = "trigger-1", **headers: str) -> BoltResponse:
    form = {"command": name, "text": text, "user_id": user, "channel_id": channel, "team_id": "T0TEAM",
            "trigger_id": trigger, "response_url": "https://hooks.slack.com/commands/T0TEAM/1/abc"}
    return dispatch(app, urlencode(form), "application/x-www-form-urlencoded", secret=secret, **headers)


CARD_THREAD = "1796216884.420432"


def click(app: App, action_id: str, value: Any, *, user: Any = APPROVER, **extra: Any) -> BoltResponse:
    payload = {"type": "block_actions", "team": {"id": "T0TEAM"}, "user": {"id": user},
               "channel": {"id": "C0OPS"}, "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value}]} | extra
    return dispatch(app, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def ack_text(response: BoltResponse) -> str:
    """The ack's text: Bolt sends a text-only ack as plain text, one with blocks as JSON."""
    return json.loads(response.body)["text"] if response.body.startswith("{") else response.body


@pytest.mark.parametrize(("name", "text", "usage"), [
    ("/smtp-enable", "", "`/smtp-enable UPN [--org] [--oauth]`"),
    ("/smtp-enable", "a@contoso.com b@contoso.com", "`/smtp-enable UPN"),
    ("/smtp-enable", "a@contoso.com --everything", "`/smtp-enable UPN"),
    ("/smtp-status", "a@contoso.com extra", "`/smtp-status [UPN|TARGET]`"),
    ("/smtp-explain", "   ", "`/smtp-explain REPLY`"),
    ("/smtp-probe", "", "`/smtp-probe TARGET`"),
    ("/smtp-oauth", "scanner@contoso.com", "`/smtp-oauth MAILBOX --app APP_ID"),
    ("/smtp-oauth", "--app 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809", "`/smtp-oauth MAILBOX --app APP_ID"),
    ("/smtp-oauth", "scanner@contoso.com --app", "Give --app once"),
    ("/smtp-oauth", "scanner@contoso.com --app a --app b", "Give --app once"),
    ("/smtp-oauth", "scanner@contoso.com --app not-a-guid", "is not an app (client) id"),
    ("/smtp-oauth", "scanner@contoso.com --app 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809 --scope", "Unknown flag --scope"),
])
def test_usage_errors_are_the_ack_and_nothing_is_handed_on(app, services, name, text, usage):
    response = command(app, name, text)
    assert response.status == 200 and usage in ack_text(response)
    assert services.submitted == []


@pytest.mark.parametrize(("name", "usage"), [
    ("/smtp-enable", "`/smtp-enable UPN [--org] [--oauth]`"), ("/smtp-status", "`/smtp-status [UPN|TARGET]`"),
    ("/smtp-explain", "`/smtp-explain REPLY`"), ("/smtp-probe", "`/smtp-probe TARGET`"),
    ("/smtp-oauth", "`/smtp-oauth MAILBOX --app APP_ID [--full-access]`"),
])
@pytest.mark.parametrize("text", ["help", " HELP ", "--help"])
def test_every_command_answers_help_with_its_usage_and_an_example(app, services, name, usage, text):
    answer = ack_text(command(app, name, text))
    assert usage in answer and "Example:" in answer
    assert "not a user principal name" not in answer and "No probe target" not in answer
    assert services.submitted == []


def test_an_unknown_enable_flag_is_named_in_the_error(app, services):
    answer = ack_text(command(app, "/smtp-enable", "scanner@contoso.com --orgg"))
    assert answer.startswith("Unknown flag --orgg; the flags are --org, --oauth.")
    assert "`/smtp-enable UPN" in answer and services.submitted == []


@pytest.mark.parametrize("name", ["scanner", "SCANNER", "Scanner@Contoso.com"])
def test_status_takes_a_probe_target_by_its_name_or_its_mailbox(app, services, name):
    assert command(app, "/smtp-status", name).status == 200
    services.run_submitted()
    assert services.workflow.calls == [("requests_for", "scanner@contoso.com")]
    assert services.calls == [("probe_statuses", "scanner@contoso.com")]


def test_enable_takes_a_probe_target_by_its_name(app, services):
    assert "Diagnosing SMTP AUTH for scanner@contoso.com" in ack_text(command(app, "/smtp-enable", "scanner --org"))
    services.run_submitted()
    assert services.workflow.calls == [("receive", "scanner@contoso.com", REQUESTER, "C0OPS", "basic", True),
                                       ("diagnose_requests", "cr-1")]


def test_an_invalid_upn_is_explained_in_the_ack(app, services):
    response = command(app, "/smtp-enable", "not-an-address")
    assert response.status == 200 and "not-an-address" in ack_text(response)
    assert services.submitted == []


def test_enable_acks_then_opens_the_request_with_the_parsed_upn_and_flags(app, services):
    response = command(app, "/smtp-enable", "Scanner@Contoso.com --org --OAUTH")
    assert "Diagnosing SMTP AUTH for scanner@contoso.com" in ack_text(response)
    # Stored before the ack: a stop after it leaves a request start-up diagnoses.
    assert services.workflow.calls == [("receive", "scanner@contoso.com", REQUESTER, "C0OPS", "oauth", True)]
    [(work, request_id, waiting)] = services.queued
    assert work is enable.diagnose_batch and request_id == "cr-1" and services.submitted == []
    assert (waiting.request_id, waiting.channel) == ("cr-1", "C0OPS") and isinstance(waiting.respond, Respond)

    services.run_submitted()
    assert services.workflow.calls[1:] == [("diagnose_requests", "cr-1")]
    assert services.calls == [("refresh", "cr-1")]


@pytest.mark.parametrize("channel", ["C0PUBLIC", "D0SOMEONE", "G0PRIVATE"])
def test_enable_where_the_bot_cannot_post_says_to_invite_it_and_opens_nothing(app, services, channel):
    command(app, "/smtp-enable", "scanner@contoso.com", channel=channel)
    services.run_submitted()
    # Stored at intake, then closed at once: nothing is diagnosed and no card is queued.
    assert services.workflow.calls == [("receive", "scanner@contoso.com", REQUESTER, channel, "basic", False),
                                       ("withdraw", "cr-1")]
    assert services.calls == []
    [reply] = services.replies
    assert reply["response_type"] == "ephemeral" and "/invite @bot" in reply["text"]


def test_a_failed_channel_lookup_does_not_stop_the_request(app, services):
    def broken(channel: str) -> dict[str, Any]:
        raise SlackApiError("missing_scope", {"ok": False, "error": "missing_scope", "needed": "groups:read"})
    services.slack = SimpleNamespace(conversations_info=broken)
    command(app, "/smtp-enable", "scanner@contoso.com")
    services.run_submitted()
    assert [c[0] for c in services.workflow.calls] == ["receive", "diagnose_requests"] and services.replies == []


def test_a_command_that_cannot_be_stored_is_answered_with_an_error_and_nothing_is_handed_on(app, services):
    services.workflow.store_error = OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
    response = command(app, "/smtp-enable", "scanner@contoso.com")
    assert response.status == 200 and ack_text(response) == enable.NOT_STORED
    assert "try again" in enable.NOT_STORED and "database" in enable.NOT_STORED
    assert services.submitted == [] and services.queued == [] and services.workflow.calls == []


def test_a_redelivered_command_opens_one_request(app, services):
    command(app, "/smtp-enable", "scanner@contoso.com")
    again = command(app, "/smtp-enable", "scanner@contoso.com")
    services.run_submitted()
    assert [c[0] for c in services.workflow.calls] == ["receive", "diagnose_requests"]
    assert "Diagnosing SMTP AUTH" in ack_text(again)


def test_commands_queued_together_are_diagnosed_as_one_batch_and_each_gets_its_card(app, services):
    for n in range(3):
        command(app, "/smtp-enable", "scanner@contoso.com", trigger=f"trigger-{n}")
    services.workflow.failures["cr-2"] = NotAllowed("No such user.")
    services.run_submitted()
    assert [c for c in services.workflow.calls if c[0] != "receive"] == [("diagnose_requests", "cr-1", "cr-2", "cr-3")]
    assert services.calls == [("refresh", "cr-1"), ("refresh", "cr-3")]
    assert [r["text"] for r in services.replies] == ["No such user."]  # told to the one whose diagnosis failed


def test_a_long_queue_tells_the_requester_where_the_request_waits(app, services):
    answers = [ack_text(command(app, "/smtp-enable", "scanner@contoso.com", trigger=f"t-{n}")) for n in range(5)]
    assert all(a.startswith("Diagnosing SMTP AUTH") for a in answers[:3])  # busy_after = 3
    assert "busy" in answers[3] and "queued (position 4)" in answers[3]
    assert "queued (position 5)" in answers[4] and len(services.queued) == 5


def test_a_full_queue_says_so_and_the_request_stays_stored(app, services):
    services.capacity = 1
    command(app, "/smtp-enable", "scanner@contoso.com", trigger="t-1")
    answer = ack_text(command(app, "/smtp-enable", "printer", trigger="t-2"))
    assert "queue is full" in answer and "cr-2" in answer and "No need to run the command again" in answer
    assert [c[0] for c in services.workflow.calls] == ["receive", "receive"]  # both stored ...
    assert [request_id for _, request_id, _ in services.queued] == ["cr-1"]  # ... one queued here


def test_diagnose_again_in_a_busy_bot_says_where_the_request_waits(app, services):
    services.busy_after = 0
    click(app, ids.ACTION_DIAGNOSE_AGAIN, "CR-7F3K2Q")
    services.run_submitted()
    assert "queued (position 1)" in services.replies[0]["text"]


def test_explain_answers_in_the_ack(app, services):
    response = command(app, "/smtp-explain", "535 5.7.139 Authentication unsuccessful, the user credentials "
                                             "were incorrect or the account is locked")
    assert json.loads(response.body)["blocks"] and services.submitted == []


def test_status_normalises_the_upn_and_asks_the_services_for_probe_statuses(app, services):
    assert command(app, "/smtp-status", "Printer@Contoso.com").status == 200
    services.run_submitted()
    assert services.workflow.calls == [("requests_for", "printer@contoso.com")]
    assert services.calls == [("probe_statuses", "printer@contoso.com")]
    [reply] = services.replies
    assert reply["response_type"] == "ephemeral" and "SMTP AUTH status for printer@contoso.com" in reply["text"]


def test_status_chart_uploads_the_services_png(app, services):
    uploads: list[dict[str, Any]] = []
    services.slack = SimpleNamespace(files_upload_v2=lambda **kwargs: uploads.append(kwargs))
    assert "Drawing" in ack_text(command(app, "/smtp-status", "chart"))
    services.run_submitted()
    assert [(u["channel"], u["content"]) for u in uploads] == [("C0OPS", b"\x89PNG")]


def test_probe_names_the_known_targets_when_it_does_not_know_one(app, services):
    text = ack_text(command(app, "/smtp-probe", "fax"))
    assert "No probe target 'fax'" in text and "printer, scanner" in text and services.submitted == []


def test_probe_acks_then_probes_the_target_and_answers(app, services):
    assert ack_text(command(app, "/smtp-probe", "PRINTER")) == "Probing printer (printer@contoso.com)..."
    services.run_submitted()
    assert services.calls == [("probe_now", "printer")]
    assert "SMTP AUTH works" in services.replies[0]["text"]


def test_a_channel_lookup_that_gets_no_answer_does_not_sink_the_batch(app, services):
    def unanswered(channel: str) -> dict[str, Any]:
        if channel == "C0OTHER":
            raise urllib.error.URLError("connection reset")  # what slack_sdk raises once its retries give up
        return {"ok": True, "channel": {"id": channel, "is_member": True}}
    services.slack = SimpleNamespace(conversations_info=unanswered)
    command(app, "/smtp-enable", "scanner@contoso.com")
    command(app, "/smtp-enable", "copier@contoso.com", channel="C0OTHER", trigger="trigger-2")
    services.run_submitted()
    assert services.workflow.calls[-1] == ("diagnose_requests", "cr-1", "cr-2") and services.replies == []
    assert services.calls == [("refresh", "cr-1"), ("refresh", "cr-2")]


@pytest.mark.parametrize(("action_id", "expected"), [
    (ids.ACTION_APPROVE, [("decide", 42, APPROVER, True), ("run", 42)]),
    (ids.ACTION_DENY, [("decide", 42, APPROVER, False), ("run", 42)]),
    (ids.ACTION_UNDO_APPROVE, [("decide", 42, APPROVER, True), ("run", 42)]),
    (ids.ACTION_UNDO_DENY, [("decide", 42, APPROVER, False), ("run", 42)]),
    (ids.ACTION_UNDO, [("request_undo", 42, APPROVER)]),
    (ids.ACTION_RETRY, [("retry", 42, APPROVER)]),
    (ids.ACTION_RETRY_FAILED, [("retry_failed", 42, APPROVER)]),
])
def test_a_step_button_hands_the_step_id_and_the_user_to_the_workflow(app, services, action_id, expected):
    response = click(app, action_id, "42")
    assert response.status == 200 and response.body == ""
    [(work, args)] = services.submitted
    assert work is plan_actions.STEP_ACTIONS[action_id] and args[:3] == (services, 42, APPROVER)
    services.run_submitted()
    assert services.workflow.calls == expected
    assert services.replies == []  # the redrawn card says it


def test_a_refused_decision_is_told_to_the_clicker_and_nothing_runs(app, services):
    services.workflow.outcome = Outcome(OutcomeKind.REFUSED, "Only the configured approvers can approve.")
    click(app, ids.ACTION_APPROVE, "42", user=REQUESTER)
    services.run_submitted()
    assert services.workflow.calls == [("decide", 42, REQUESTER, True)]
    assert [r["text"] for r in services.replies] == ["Only the configured approvers can approve."]


def test_an_approved_step_runs_even_when_the_clicker_cannot_be_told(services):
    class Unreachable:
        tells_all = True  # App Home: every outcome is told (views.publish)

        def __call__(self, **reply: Any) -> None:
            raise OSError("connection reset")  # what slack_sdk raises once its retries give up

    with pytest.raises(OSError):
        plan_actions.approve(services, 42, APPROVER, Unreachable())
    assert services.workflow.calls == [("decide", 42, APPROVER, True), ("run", 42)]


@pytest.mark.parametrize(("value", "user"), [
    ("abc", APPROVER), ("-1", APPROVER), ("9" * 19, APPROVER), ("", APPROVER), (42, APPROVER), ("42", ""),
    ("42", None),
])
def test_a_malformed_click_is_acked_and_ignored(app, services, value, user):
    assert click(app, ids.ACTION_APPROVE, value, user=user).status == 200
    assert services.submitted == []


def test_approve_all_tells_the_first_refusal(app, services):
    services.workflow.refusals = [Outcome(OutcomeKind.REFUSED, "Someone else must approve step 2."),
                                  Outcome(OutcomeKind.REFUSED, "Someone else must approve step 3.")]
    click(app, ids.ACTION_APPROVE_ALL, "cr-" + "x" * 60)
    services.run_submitted()
    assert services.workflow.calls == [("approve_all", "cr-" + "x" * 37, APPROVER)]
    assert [r["text"] for r in services.replies] == ["Someone else must approve step 2."]


def test_apply_anyway_hands_the_request_and_the_clicker_to_the_workflow_and_tells_a_refusal(app, services):
    assert click(app, ids.ACTION_APPLY_ANYWAY, "cr-" + "x" * 60).status == 200
    services.workflow.outcome = Outcome(OutcomeKind.REFUSED, "Only the configured approvers can approve.")
    click(app, ids.ACTION_APPLY_ANYWAY, "cr-1", user=REQUESTER)
    [(work, _), _] = services.submitted
    assert work is plan_actions.go_on_anyway
    services.run_submitted()
    assert services.workflow.calls == [("apply_anyway", "cr-" + "x" * 37, APPROVER),
                                       ("apply_anyway", "cr-1", REQUESTER)]
    assert [r["text"] for r in services.replies] == ["Only the configured approvers can approve."] * 2


def test_alert_fix_opens_the_plan_in_the_alerts_channel_with_the_targets_auth(app, services):
    click(app, ids.ACTION_ALERT_FIX, "Scanner@Contoso.com")
    services.run_submitted()
    assert services.workflow.calls == [("receive", "scanner@contoso.com", APPROVER, "C0OPS", "oauth", False),
                                       ("diagnose_requests", "cr-1")]


def test_alert_fix_opens_the_plan_in_the_alerts_thread(app, services):
    alert = {"type": "message", "ts": "1796216884.420432", "text": "SMTP AUTH failing"}
    click(app, ids.ACTION_ALERT_FIX, "scanner@contoso.com", message=alert,
          container={"type": "message", "message_ts": alert["ts"], "channel_id": "C0OPS"})
    services.run_submitted()
    assert services.workflow.calls[0] == ("receive", "scanner@contoso.com", APPROVER, "C0OPS", "oauth", False,
                                          alert["ts"])


def test_diagnose_again_runs_the_same_diagnosis_in_the_cards_channel_for_the_clicker(app, services):
    assert click(app, ids.ACTION_DIAGNOSE_AGAIN, "CR-7F3K2Q").status == 200
    click(app, ids.ACTION_DIAGNOSE_AGAIN, "gone")
    services.run_submitted()
    assert services.workflow.calls == [("find", "CR-7F3K2Q"), ("find", "gone"),
                                       ("receive", "scanner@contoso.com", APPROVER, "C0CARD", "oauth", True,
                                        CARD_THREAD),  # a card in an alert's thread: the new one goes there too
                                       ("diagnose_requests", "cr-1")]
    assert services.calls == [("refresh", "cr-1")]


def test_alert_fix_that_cannot_be_stored_tells_the_clicker(app, services):
    services.workflow.store_error = OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
    click(app, ids.ACTION_ALERT_FIX, "scanner@contoso.com")
    services.run_submitted()
    assert [r["text"] for r in services.replies] == [enable.NOT_STORED] and services.workflow.calls == []


def test_alert_snooze_and_probe_now_go_to_the_services(app, services):
    click(app, ids.ACTION_ALERT_SNOOZE_FOR[4], "printer")
    click(app, ids.ACTION_ALERT_PROBE, "printer")
    click(app, ids.ACTION_ALERT_SNOOZE, "fax")
    services.run_submitted()
    assert services.calls == [("snooze", "printer", "printer@contoso.com", APPROVER, 4), ("probe_now", "printer")]
    texts = [r["text"] for r in services.replies]
    assert texts[0].startswith("Alerts for printer are snoozed for 4 h, until")
    assert texts[-1] == "Nothing to snooze for 'fax': no incident is open."


def test_a_refused_snooze_answers_why_and_unsnooze_goes_to_the_services(app, services):
    click(app, ids.ACTION_ALERT_SNOOZE_FOR[1], "printer", user="U0SOMEONE")
    click(app, ids.ACTION_ALERT_UNSNOOZE, "printer")
    services.run_submitted()
    assert services.calls == [("snooze", "printer", "printer@contoso.com", "U0SOMEONE", 1),
                              ("unsnooze", "printer", "printer@contoso.com", APPROVER)]
    replies = services.replies
    assert replies[0]["text"] == "Only approvers can snooze or unsnooze alerts here."
    assert replies[0]["response_type"] == "ephemeral"
    assert replies[1]["text"] == "Alerts for printer are no longer snoozed."


def test_a_snooze_or_unsnooze_click_carries_its_cards_incident_and_cause_to_the_services(app, services):
    click(app, ids.ACTION_ALERT_SNOOZE_FOR[4], ids.alert_value("printer", "printer:20261128T092200", "auth_failed"))
    click(app, ids.ACTION_ALERT_UNSNOOZE, ids.alert_value("printer", "printer:20261128T092200", None))
    click(app, ids.ACTION_ALERT_SNOOZE_FOR[4], '{"target": 7}')  # not one of our values: acts on nothing
    services.run_submitted()
    assert services.calls == [
        ("snooze", "printer", "printer@contoso.com", APPROVER, 4, "printer:20261128T092200", "auth_failed"),
        ("unsnooze", "printer", "printer@contoso.com", APPROVER, "printer:20261128T092200", None)]
    assert services.replies[-1]["text"].startswith("Nothing to snooze for ")


def test_an_alert_click_with_an_oversized_value_is_ignored(app, services):
    click(app, ids.ACTION_ALERT_FIX, "x" * 801)
    assert services.submitted == []


def test_app_home_is_published_for_the_viewer(app, services):
    published: list[dict[str, Any]] = []
    event = {"type": "event_callback", "team_id": "T0TEAM", "api_app_id": "A0APP", "event_id": "Ev1",
             "event_time": 1, "event": {"type": "app_home_opened", "user": APPROVER, "tab": "home"}}
    assert dispatch(app, json.dumps(event), "application/json").status == 200
    [(work, args)] = services.submitted
    assert work is home.publish_home and args[2] == APPROVER
    client = SimpleNamespace(views_publish=lambda **kwargs: published.append(kwargs))
    work(services, client, APPROVER)
    assert published[0]["user_id"] == APPROVER and published[0]["view"]["type"] == "home"


def home_click(app: App, action_id: str, value: str, label: str) -> BoltResponse:
    """A click on the App Home tab: Slack sends the view and no channel, message nor response_url."""
    payload = {"type": "block_actions", "team": {"id": "T0TEAM"}, "user": {"id": APPROVER},
               "container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "step:7", "value": value,
                            "text": {"type": "plain_text", "text": label}}]}
    return dispatch(app, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


@pytest.mark.parametrize(("outcome", "label"), [
    (Outcome(OutcomeKind.REFUSED, "You asked for this change, so someone else must approve it."), "Approve"),
    (Outcome(OutcomeKind.APPROVED, "Approved; applying it now.", run=True), "Approve"),  # a card would show it
    (Outcome(OutcomeKind.DENIED, "Denied; nothing will change."), "Deny"),
])
def test_a_click_in_app_home_is_answered_at_the_top_of_the_republished_home_view(app, services, outcome, label):
    services.workflow.outcome = outcome
    action = ids.ACTION_APPROVE if label == "Approve" else ids.ACTION_DENY
    assert home_click(app, action, "7", label).status == 200
    assert services.slack.published == []  # nothing slow before the ack
    services.run_submitted()
    [published] = services.slack.published
    assert published["user_id"] == APPROVER and published["view"]["type"] == "home"
    notice = published["view"]["blocks"][0]["text"]["text"]
    assert notice.startswith(f":speech_balloon: You clicked *{label}* at <!date^") and outcome.message in notice
    assert services.replies == []  # no response_url was used: App Home has none


def test_a_slack_retry_is_dropped_before_any_listener(app, services):
    response = command(app, "/smtp-enable", "scanner@contoso.com", x_slack_retry_num="1")
    assert (response.status, response.body) == (200, "") and services.submitted == []


def test_a_wrong_signature_is_refused(app, services):
    assert command(app, "/smtp-enable", "scanner@contoso.com", secret="not-the-secret").status == 401
    assert services.submitted == []


def test_the_runtime_provides_every_service_the_listeners_use() -> None:
    members = set(SlackServices.__annotations__) | {n for n in vars(SlackServices) if not n.startswith("_")}
    provided = {f.name for f in dataclasses.fields(Runtime)} | set(dir(Runtime))
    assert members and members <= provided


def test_oauth_acks_then_stores_and_diagnoses_the_onboarding(app, services):
    response = command(app, "/smtp-oauth", "scanner --app 3C9E7A51-2B84-4F0D-9E16-A5D7C4B2E809")
    assert "Checking OAuth (XOAUTH2) onboarding of app 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809 for scanner@contoso.com" \
        in ack_text(response)
    # Stored before the ack, with the app and the default (scoped) route; diagnosed on the pool.
    assert services.workflow.calls == [("receive", "scanner@contoso.com", REQUESTER, "C0OPS",
                                        "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809", "scoped")]
    services.run_submitted()
    assert services.workflow.calls[1:] == [("diagnose_requests", "cr-1")]  # through the diagnosis queue
    assert services.calls == [("refresh", "cr-1")]


def test_oauth_full_access_route_and_app_equals_form(app, services):
    command(app, "/smtp-oauth", "--full-access printer@contoso.com --app=3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809")
    assert services.workflow.calls == [("receive", "printer@contoso.com", REQUESTER, "C0OPS",
                                        "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809", "full_access")]


def test_oauth_refused_requester_is_told_in_the_ack_and_nothing_runs(app, services):
    services.workflow.store_error = NotAllowed("Only listed requesters can ask for changes.")
    answer = ack_text(command(app, "/smtp-oauth", "scanner --app 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"))
    assert "Only listed requesters" in answer and services.submitted == []
