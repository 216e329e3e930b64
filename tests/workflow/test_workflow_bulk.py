"""The least-privilege clean-up: one bulk step, two approvers, batches, per-mailbox failures, retry, undo, recovery."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from workflow_helpers import APPROVER, GROUP_MEMBER, OTHER, REQUESTER, mailbox_value, set_casmailbox_calls

from bot.errors import InvalidInput
from bot.slack.notices import Notices
from bot.workflow.bulk import Candidate
from bot.workflow.claims import Claims
from bot.workflow.model import NOTICE_KIND, MailboxState, OutcomeKind, StepState
from handlers.bulk_smtp_auth_off import BulkSmtpAuthOff
from handlers.facts import OAuthApp

S, M, K = StepState, MailboxState, OutcomeKind
#: Mailboxes the report found unused: own switch on (False) or inheriting an organisation that has it on (None).
PRIORS = {f"idle{n}@contoso.com": (False if n % 2 else None) for n in range(1, 8)}


@pytest.fixture
def idle(sandbox):
    tenant = sandbox.state.tenant("contoso")
    tenant.smtp_client_authentication_disabled = False  # the organisation allows SMTP AUTH
    for upn, prior in PRIORS.items():
        sandbox.state.add_user("contoso", upn, smtp_client_authentication_disabled=prior)
    return dict(PRIORS)


def opened(flow, priors, **options):
    view = flow.open_cleanup(list(priors.items()), 30, REQUESTER, "C0OPS", **options)
    return view, view.steps[0]


def approved_by_two(flow, step_id):
    first = flow.decide(step_id, APPROVER, approve=True)
    assert first.kind == K.APPROVAL_RECORDED and not first.run
    second = flow.decide(step_id, GROUP_MEMBER, approve=True)
    assert second.kind in (K.APPROVED, K.UNDO_APPROVED) and second.run
    return second


def identity(recorded):
    return recorded.anchor_mailbox.removeprefix("UPN:")


def states(store, step_id):
    return {m.upn: m.state for m in store.bulk.mailboxes(step_id)}


def test_two_approvers_then_every_mailbox_is_turned_off_in_batches(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    flow.bulk_batch = 3
    view, step = opened(flow, idle)
    assert step.handler_key == "bulk_smtp_auth_off" and step.proposed["scope"] == "bulk"
    assert {m.upn: m.prior for m in view.mailboxes[step.id]} == idle  # stored before any write

    assert flow.decide(step.id, REQUESTER, approve=True).kind == K.REFUSED
    assert flow.decide(step.id, APPROVER, approve=True).kind == K.APPROVAL_RECORDED
    again = flow.decide(step.id, APPROVER, approve=True)
    assert again.kind == K.ALREADY and "not you" in again.message  # the same approver twice is one approval
    assert store.requests.get_step(step.id).state == S.PENDING
    assert flow.decide(step.id, GROUP_MEMBER, approve=True).run

    done = flow.run(step.id)
    assert done.state == S.VERIFIED and done.error is None
    assert done.before == idle and done.approvals == (APPROVER, GROUP_MEMBER)
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)
    assert set(states(store, step.id).values()) == {M.OFF}
    reads = [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Get-CASMailbox"]
    assert len(reads) == 2 * 3  # one bulk read before and one after each batch of 3, never one per mailbox
    assert len(set_casmailbox_calls(sandbox)) == len(idle)
    actions = [r.action for r in store.requests.audit_rows() if r.step_id == step.id]
    assert actions.count("bulk.mailbox_off") == len(idle) and "step.approval_recorded" in actions


def test_a_partial_failure_is_listed_per_mailbox_and_retry_redoes_only_the_failed(make_workflow, sandbox, store, idle,
                                                                                  clock):
    flow = make_workflow()
    broken = ["idle2@contoso.com", "idle5@contoso.com"]
    faults = [sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", identity=upn,
                                       status=500, times=None) for upn in broken]
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    done = flow.run(step.id)

    assert done.state == S.VERIFIED  # five were turned off and verified: undoable as they are
    assert done.error.startswith("5 of 7 turned off; 2 could not be turned off: idle2@contoso.com (")
    assert "idle5@contoso.com (" in done.error and "reading it back shows nothing changed" in done.error
    assert {upn for upn, s in states(store, step.id).items() if s == M.FAILED} == set(broken)
    assert [mailbox_value(sandbox, upn) for upn in broken] == [idle[upn] for upn in broken]

    for fault in faults:
        sandbox.state.faults.remove(fault.id)
    sandbox.state.requests.clear()
    clock.advance(2 * 3600)  # a long run outlasts the approval time; the retry gets its own
    assert flow.retry_failed(step.id, OTHER).kind == K.REFUSED  # neither the requester nor an approver
    retried = flow.retry_failed(step.id, REQUESTER)
    assert retried.kind == K.RETRY and retried.step.state == S.PENDING
    assert [m.upn for m in store.bulk.mailboxes(retried.step.id)] == broken
    assert flow.retry_failed(step.id, REQUESTER).kind == K.ALREADY  # handed over once
    approved_by_two(flow, retried.step.id)
    late = sandbox.state.tenant("contoso").user("idle2@contoso.com").mailbox
    late.smtp_client_authentication_disabled = True  # the failed write took effect after all, minutes later
    assert flow.run(retried.step.id).state == S.VERIFIED
    assert [identity(r) for r in set_casmailbox_calls(sandbox)] == ["idle5@contoso.com"]
    assert states(store, retried.step.id) == {"idle2@contoso.com": M.OFF, "idle5@contoso.com": M.OFF}  # undoable
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)


def test_two_retry_failed_clicks_at_once_make_one_retry_step(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    broken = ["idle2@contoso.com", "idle5@contoso.com"]
    for upn in broken:
        sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", identity=upn, status=500,
                                 times=None)
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.VERIFIED
    start = threading.Barrier(2)

    def click(user):
        start.wait()
        return flow.retry_failed(step.id, user)

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(click, [REQUESTER, APPROVER]))
    assert sorted(o.kind for o in outcomes) == sorted([K.RETRY, K.ALREADY])
    retry_steps = [s for s in store.requests.get_steps(step.request_id) if s.id != step.id]
    assert len(retry_steps) == 1
    assert [m.upn for m in store.bulk.mailboxes(retry_steps[0].id)] == broken
    assert retry_steps[0].proposed["count"] == 2 and "(retry of 2 failed)" in retry_steps[0].title
    assert {upn: s for upn, s in states(store, step.id).items() if upn in broken} == dict.fromkeys(broken, M.RETRIED)
    handed = [r for r in store.requests.audit_rows() if r.action == "bulk.mailbox_retried"]
    assert sorted(r.target for r in handed) == broken  # each handed over once
    late = flow.retry_failed(step.id, REQUESTER)
    assert late.kind == K.ALREADY


def test_undo_never_writes_to_a_mailbox_that_failed_unread_and_an_admin_turned_off_later(make_workflow, sandbox,
                                                                                       store, idle):
    flow = make_workflow()
    unread = "idle3@contoso.com"
    user = sandbox.state.tenant("contoso").user(unread)
    mailbox, user.mailbox = user.mailbox, None  # Exchange cannot find it during the run: nothing is sent to it
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    done = flow.run(step.id)
    assert done.state == S.VERIFIED and states(store, step.id)[unread] == M.FAILED
    assert "Could not read it, so nothing was written" in done.error
    assert unread not in {identity(r) for r in set_casmailbox_calls(sandbox)}

    user.mailbox = mailbox
    mailbox.smtp_client_authentication_disabled = True  # an admin turns it off by hand meanwhile
    retried = flow.retry_failed(step.id, REQUESTER).step
    approved_by_two(flow, retried.id)
    again = flow.run(retried.id)
    assert states(store, retried.id) == {unread: M.SKIPPED}  # not the bot's change: no write was ever sent
    assert again.state == S.VERIFIED and again.error.endswith("1 skipped (changed or used since the report; left "
                                                              "as they are)")

    flow.request_undo(step.id, REQUESTER)
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.REVERTED
    assert mailbox_value(sandbox, unread) is True  # the admin's choice stays
    assert unread not in {identity(r) for r in set_casmailbox_calls(sandbox)}
    assert {upn: mailbox_value(sandbox, upn) for upn in idle if upn != unread} == {
        upn: prior for upn, prior in idle.items() if upn != unread}


def test_a_step_that_changed_nothing_fails_and_retry_goes_through_the_gate_again(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    outage = sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=500, times=None)
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    failed = flow.run(step.id)
    assert failed.state == S.FAILED and failed.error.startswith("0 of 7 turned off; 7 could not be turned off")

    sandbox.state.faults.remove(outage.id)
    assert flow.retry(step.id, REQUESTER).kind == K.RETRY
    assert store.requests.get_step(step.id).approvals is None  # the first round's approvals do not count
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.VERIFIED
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)


def test_undo_restores_each_mailbox_exactly_inherits_included(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    flow.bulk_batch = 4
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    flow.run(step.id)

    assert flow.request_undo(step.id, REQUESTER).kind == K.UNDO_REQUESTED
    assert flow.decide(step.id, REQUESTER, approve=True).kind == K.REFUSED  # who asked cannot approve
    assert flow.decide(step.id, APPROVER, approve=True).kind == K.APPROVAL_RECORDED
    assert flow.decide(step.id, GROUP_MEMBER, approve=True).run
    undone = flow.run(step.id)

    assert undone.state == S.REVERTED
    assert {upn: mailbox_value(sandbox, upn) for upn in idle} == idle
    assert None in idle.values() and False in idle.values()  # both kinds of prior value were put back
    assert set(states(store, step.id).values()) == {M.RESTORED}
    restores = [identity(r) for r in set_casmailbox_calls(sandbox)][len(idle):]
    assert sorted(restores) == sorted(idle)  # each one once


def test_an_undo_that_fails_for_some_says_which_and_undo_again_does_the_rest(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    flow.run(step.id)
    fault = sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox",
                                     identity="idle3@contoso.com", status=500, times=None)
    flow.request_undo(step.id, REQUESTER)
    approved_by_two(flow, step.id)
    partly = flow.run(step.id)
    assert partly.state == S.VERIFIED
    assert partly.error.startswith("6 of 7 restored to their own prior value; 1 not restored: idle3@contoso.com (")
    assert mailbox_value(sandbox, "idle3@contoso.com") is True

    sandbox.state.faults.remove(fault.id)
    flow.request_undo(step.id, REQUESTER)
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.REVERTED
    assert {upn: mailbox_value(sandbox, upn) for upn in idle} == idle


def test_a_mailbox_changed_or_used_since_the_report_is_skipped_never_overwritten(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    used = {"idle4@contoso.com"}
    flow.used_since = lambda m365, upns, since: used & set(upns)
    _, step = opened(flow, idle)
    sandbox.state.tenant("contoso").user("idle1@contoso.com").mailbox.smtp_client_authentication_disabled = None
    approved_by_two(flow, step.id)
    done = flow.run(step.id)

    assert done.state == S.VERIFIED
    assert "2 skipped (changed or used since the report" in done.error
    boxes = {m.upn: m for m in store.bulk.mailboxes(step.id)}
    assert boxes["idle1@contoso.com"].state == M.SKIPPED
    assert "it was enabled, it is now not set (inherits the organisation)" in boxes["idle1@contoso.com"].error
    assert boxes["idle4@contoso.com"].state == M.SKIPPED and "Used SMTP AUTH" in boxes["idle4@contoso.com"].error
    assert mailbox_value(sandbox, "idle1@contoso.com") is None
    assert mailbox_value(sandbox, "idle4@contoso.com") is idle["idle4@contoso.com"]
    written = {identity(r) for r in set_casmailbox_calls(sandbox)}
    assert written == set(idle) - {"idle1@contoso.com", "idle4@contoso.com"}


class Crash(BaseException):
    """The process dying mid-batch: nothing after it runs."""


def test_a_crash_mid_batch_resumes_at_start_up_without_redoing_or_losing_a_mailbox(
        make_workflow, sandbox, store, idle, monkeypatch):
    flow = make_workflow()
    flow.bulk_batch, flow.bulk_concurrency = 4, 1
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    real_write, sent = BulkSmtpAuthOff.write, []

    def dies_after_five(self, m365, upn, value):
        if len(sent) == 5:
            raise Crash
        real_write(self, m365, upn, value)
        sent.append(upn)

    monkeypatch.setattr(BulkSmtpAuthOff, "write", dies_after_five)
    with pytest.raises(Crash):
        flow.run(step.id)
    monkeypatch.setattr(BulkSmtpAuthOff, "write", real_write)
    left = store.bulk.mailboxes(step.id)
    assert store.requests.get_step(step.id).state == S.APPLYING
    assert [m.state for m in left].count(M.WRITING) == 3  # the second batch of three: one written, two not yet
    sandbox.state.requests.clear()

    restarted = make_workflow()
    assert restarted.recover() == [step.id]
    assert {m.upn: m.state for m in store.bulk.mailboxes(step.id)} == {
        upn: (M.OFF if upn in sent else M.PENDING) for upn in idle}
    assert restarted.run(step.id).state == S.VERIFIED
    rewritten = {identity(r) for r in set_casmailbox_calls(sandbox)}
    assert rewritten == set(idle) - set(sent)  # nothing written twice, nothing lost
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)


def test_the_org_switch_off_is_proposed_only_when_nothing_inheriting_uses_it(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    view, _ = opened(flow, idle)
    assert [s.handler_key for s in view.steps] == ["bulk_smtp_auth_off"]

    view, _ = opened(flow, idle, org_unused=True)
    bulk, org = view.steps
    assert org.handler_key == "org_smtp_auth_off" and org.proposed["current"] is False
    approved_by_two(flow, org.id)  # tenant-wide: two approvers, like every wide change
    assert flow.run(org.id).state == S.VERIFIED
    assert sandbox.state.tenant("contoso").smtp_client_authentication_disabled is True
    assert flow.request_undo(org.id, REQUESTER).kind == K.UNDO_REQUESTED
    approved_by_two(flow, org.id)
    assert flow.run(org.id).state == S.REVERTED
    assert sandbox.state.tenant("contoso").smtp_client_authentication_disabled is False

    sandbox.state.tenant("contoso").smtp_client_authentication_disabled = True  # already off: nothing to propose
    view, _ = opened(flow, idle, org_unused=True)
    assert [s.handler_key for s in view.steps] == ["bulk_smtp_auth_off"]


def test_the_number_of_approvers_is_configurable_per_step(make_workflow, idle):
    flow = make_workflow(approvals_required={"bulk_smtp_auth_off": 1})
    _, step = opened(flow, idle)
    assert flow.decide(step.id, APPROVER, approve=True).run


def test_bad_candidates_change_nothing(make_workflow, store, idle):
    flow = make_workflow()
    with pytest.raises(InvalidInput, match="already off"):
        flow.open_cleanup([("idle1@contoso.com", True)], 30, REQUESTER, "C0OPS")
    with pytest.raises(InvalidInput, match="at least 1"):
        flow.open_cleanup(list(idle.items()), 0, REQUESTER, "C0OPS")
    with pytest.raises(InvalidInput, match="No mailboxes"):
        flow.open_cleanup([], 30, REQUESTER, "C0OPS")
    with pytest.raises(InvalidInput):
        flow.open_cleanup([("not an address", None)], 30, REQUESTER, "C0OPS")
    assert store.requests.list() == []
    assert Candidate.of(("Idle1@Contoso.com", "inherits")) == Candidate("idle1@contoso.com", None)


def test_exchange_throttling_is_waited_out_and_writes_stop_when_it_persists(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    flow.bulk_concurrency = 1
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    busy = sandbox.state.faults.add("concurrency", service="exchange", cmdlet="Set-CASMailbox", status=429, times=3)
    assert flow.run(step.id).state == S.VERIFIED  # "too many concurrent requests" is waited out, then sent
    assert busy.fired == 3 and all(mailbox_value(sandbox, upn) is True for upn in idle)

    flow.request_undo(step.id, REQUESTER)
    approved_by_two(flow, step.id)
    sandbox.state.requests.clear()
    sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=429, retry_after="1",
                             times=None)
    stopped = flow.run(step.id)
    assert stopped.state == S.VERIFIED and stopped.error.startswith("0 of 7 restored")  # nothing restored: Undo again
    sent = set_casmailbox_calls(sandbox)
    assert {identity(r) for r in sent} == {"idle1@contoso.com"}  # the first one's retries, then no more sends
    assert "Not sent: Exchange kept throttling" in stopped.error


def test_an_unexpected_stop_settles_the_rest_as_failed_for_retry_never_silently(make_workflow, sandbox, store, idle):
    flow = make_workflow()
    flow.bulk_batch = 3
    calls = []

    def breaks_on_the_second_batch(m365, upns, since):
        calls.append(upns)
        if len(calls) == 2:
            raise RuntimeError("sign-in log reader bug")
        return set()

    flow.used_since = breaks_on_the_second_batch
    _, step = opened(flow, idle)
    approved_by_two(flow, step.id)
    done = flow.run(step.id)
    assert done.state == S.VERIFIED and done.error.startswith("3 of 7 turned off; 4 could not be turned off:")
    assert "Not settled: the bot stopped" in done.error
    flow.used_since = None
    retried = flow.retry_failed(step.id, REQUESTER).step
    approved_by_two(flow, retried.id)
    assert flow.run(retried.id).state == S.VERIFIED
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)


@pytest.mark.parametrize("second", [GROUP_MEMBER, APPROVER])
def test_two_approvals_at_once_are_both_counted_and_one_click_twice_is_one(make_workflow, store, idle, second):
    flow = make_workflow()
    _, step = opened(flow, idle)
    start = threading.Barrier(2)

    def approve(user):
        start.wait()
        return flow.decide(step.id, user, approve=True)

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(approve, [APPROVER, second]))
    kinds = sorted(o.kind for o in outcomes)
    final = store.requests.get_step(step.id)
    if second == GROUP_MEMBER:
        assert kinds == sorted([K.APPROVAL_RECORDED, K.APPROVED])
        assert final.state == S.APPROVED and sorted(final.approvals) == sorted([APPROVER, GROUP_MEMBER])
    else:
        assert kinds == sorted([K.APPROVAL_RECORDED, K.ALREADY])
        assert final.state == S.PENDING and final.approvals == (APPROVER,)


class Died(BaseException):
    """Replica A's process dies: nothing of it runs any more (no `except Exception` of the bot's catches it)."""


def test_a_second_replica_leaves_a_live_bulk_alone_and_finishes_a_dead_ones_without_writing_twice(
        make_workflow, sandbox, store, idle, clock, monkeypatch):
    """A applies the clean-up; B starts (its start-up `recover()`) while A has a write in flight: B must not touch
    the step. Then A dies mid-write (its claim is never renewed and runs out): B's sweep finishes the step, and no
    mailbox gets a second Set-CASMailbox."""
    ttl = timedelta(seconds=30)
    a, b = make_workflow(), make_workflow()
    a.claims, b.claims = Claims(store.leases, ttl, owner="replica-a"), Claims(store.leases, ttl, owner="replica-b")
    a.bulk_batch, a.bulk_concurrency = 4, 1
    _, step = opened(a, idle)
    approved_by_two(a, step.id)  # A's process staked the step's claim at the approval
    a_m365, real_write = a._m365(), BulkSmtpAuthOff.write
    by_a: list[str] = []
    seen: dict[str, object] = {}

    def write(self, m365, upn, value):
        if m365 is not a_m365:  # B's own writes
            return real_write(self, m365, upn, value)
        assert "died" not in seen, "a dead replica sent a write"
        by_a.append(upn)
        if len(by_a) == 2:  # A has this write in flight (marked `writing`), its claim live: B starts now
            before = (states(store, step.id), len(store.requests.audit_rows()))
            seen["live"] = b.recover()
            assert (states(store, step.id), len(store.requests.audit_rows())) == before  # B touched nothing
        if len(by_a) == 4:  # the last of A's batch: A dies before sending it, and never renews its claim
            seen["sent_by_a"] = len(set_casmailbox_calls(sandbox))
            clock.advance(ttl.total_seconds() + 1)
            seen["dead"] = b.recover()
            seen["finished"] = b.run(step.id)
            seen["died"] = True
            raise Died
        return real_write(self, m365, upn, value)

    monkeypatch.setattr(BulkSmtpAuthOff, "write", write)
    with pytest.raises(Died):
        a.run(step.id)

    assert step.id not in seen["live"]
    assert seen["dead"] == [step.id]  # its claim ran out: B took the step over
    finished = seen["finished"]
    assert finished is not None and finished.state == S.VERIFIED and finished.error is None
    writes = Counter(identity(r) for r in set_casmailbox_calls(sandbox))
    assert writes == Counter(set(idle))  # every mailbox written exactly once, by A or by B
    assert seen["sent_by_a"] == 3  # A sent three; B wrote the other four, the one A had in flight included
    assert set(states(store, step.id).values()) == {M.OFF}
    assert all(mailbox_value(sandbox, upn) is True for upn in idle)


class PostsToSlack:
    """The Slack Web API calls `Notices.send` makes, recorded (only chat.postMessage when it posts first time)."""

    def __init__(self) -> None:
        self.posted: list[dict] = []

    def chat_postMessage(self, **message):
        self.posted.append(message)
        return {"channel": message["channel"], "ts": f"1700000000.{len(self.posted):06d}"}


def told(flow, store, request_id, notice):
    """The thread notices of kind `notice` (queued by the store) as `Notices.send` renders them."""
    client, senders = PostsToSlack(), {}
    outbox = type("Outbox", (), {"register": lambda self, kind, send: senders.setdefault(kind, send)})()
    Notices(flow, client, outbox, store.leases)
    items = [store.outbox.get(n) for n in range(1, 200)]
    for item in items:
        if item and item.kind == NOTICE_KIND and item.payload["notice"] == notice \
                and item.payload["request_id"] == request_id:
            senders[NOTICE_KIND](item.payload)
    return [m["blocks"][0]["text"]["text"] for m in client.posted]


def test_a_partial_clean_up_is_told_with_its_counts_and_an_expired_one_says_how_to_open_it_anew(
        make_workflow, sandbox, store, idle, clock):
    flow = make_workflow()
    for upn in ["idle2@contoso.com", "idle5@contoso.com"]:
        sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", identity=upn, status=500,
                                 times=None)
    view, step = opened(flow, idle)
    flow.set_card_message(view.request.id, "C0OPS", "1700000000.000001")
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.VERIFIED
    [applied] = told(flow, store, view.request.id, "applied")
    assert "applied and verified" not in applied
    assert "was applied at" in applied and "what the bot read back: 5 of 7 turned off; 2 could not be turned off: " \
        "idle2@contoso.com (" in applied and "(the card has the details)." in applied

    late, _ = opened(flow, idle)
    flow.set_card_message(late.request.id, "C0OPS", "1700000000.000002")
    clock.advance(2 * 3600)
    flow.expire_due()
    [expired] = told(flow, store, late.request.id, "expired")
    assert "/smtp-enable" not in expired
    assert expired.endswith("nothing changed. Run `/smtp-readiness --days 30` and click Close unused on its card "
                            "again for a fresh plan.")


def test_a_mailbox_the_bot_onboards_to_oauth_after_the_report_is_skipped_never_turned_off(make_workflow, sandbox,
                                                                                         store, idle):
    app = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
    sandbox.state.grant(app, "SMTP.SendAsApp")
    flow = make_workflow()
    _, step = opened(flow, idle)
    onboarding = flow.open_request("idle3@contoso.com", REQUESTER, "C0OPS", app=OAuthApp(app, "full_access"))
    assert all(o.run for o in flow.approve_all(onboarding.request.id, APPROVER))  # between the report and the write
    sandbox.state.requests.clear()
    approved_by_two(flow, step.id)
    assert flow.run(step.id).state == S.VERIFIED
    assert states(store, step.id)["idle3@contoso.com"] == M.SKIPPED
    assert "Onboarded to OAuth by the bot since the report" in store.bulk.mailboxes(step.id)[2].error
    assert mailbox_value(sandbox, "idle3@contoso.com") is False  # left on: the app sends with it
    assert {identity(r) for r in set_casmailbox_calls(sandbox)} == set(idle) - {"idle3@contoso.com"}
