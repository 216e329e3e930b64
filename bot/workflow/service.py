"""The change-request workflow: open from a diagnosis, gate every decision, run each step exactly once.

Every state change is one conditional UPDATE in the store (`transition_step`), so the first decision
wins and a step is claimed for execution once, across threads, Slack retries and replicas. This
module knows nothing of Slack: callers render views and tell users what `Outcome.message` says.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock, utc_text
from bot.errors import BotError, InvalidInput, NotAllowed, StoreUnavailable
from bot.logs import log_context
from bot.m365.tenant import M365
from bot.store import UNREACHABLE, Store
from bot.store.intake import Intake
from bot.store.requests import Incoming
from bot.workflow.bulk import BulkWork, UsedSince
from bot.workflow.claims import Claims, request_claim, step_claim
from bot.workflow.diagnose import Diagnosis, diagnose, diagnose_each
from bot.workflow.execution import Execution
from bot.workflow.gate import GatePolicy, GroupMembers
from bot.workflow.grants import undo_refusal
from bot.workflow.model import (
    BOT_ACTOR,
    DECIDED,
    ChangeRequest,
    Outcome,
    OutcomeKind,
    RequestState,
    RequestStep,
    RequestView,
    StepState,
    command_for,
)
from bot.workflow.plan import make_plan
from bot.workflow.queries import Queries
from handlers.app_facts import ROUTES, normalize_app_id
from handlers.facts import OAuthApp

log = logging.getLogger(__name__)
S, K = StepState, OutcomeKind
GONE = "That change request no longer exists."
UNEXPECTED = "The diagnosis failed unexpectedly; the details are in the bot's log."
#: What a click is answered when the database stops answering: nothing was decided, nothing changed.
DB_DOWN = ("The bot's database is not answering, so nothing was decided and nothing changed. "
           "Please click again in a minute.")
#: What the requester is told when the database stops answering while their request is diagnosed.
DB_DOWN_DIAGNOSING = ("The bot's database stopped answering while it diagnosed this request; nothing was "
                      "changed. The request is kept: its plan is posted here once the database is back.")
RESUME_BATCH = 20  # requests resumed with one bulk read


def _auth_mode(request: ChangeRequest) -> str:
    return str(request.options.get("auth_mode") or "basic")


def oauth_app_of(request: ChangeRequest) -> OAuthApp | None:
    """The app an OAuth onboarding request is for (None for an /smtp-enable request)."""
    app_id = request.options.get("app_id")
    return OAuthApp(str(app_id), str(request.options.get("route") or "scoped")) if app_id else None


def _told(exc: Exception) -> Exception:
    """The error a requester is shown for a diagnosis: a database that stopped answering says so."""
    if isinstance(exc, UNREACHABLE):
        log.warning("the database stopped answering while a request was diagnosed", exc_info=exc)
        return StoreUnavailable(DB_DOWN_DIAGNOSING)
    return exc


def _told_if_db_down(method: Callable[..., Any]) -> Callable[..., Any]:
    """A decision the database could not record is answered with DB_DOWN (an Outcome the clicker is shown)."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except UNREACHABLE:
            log.warning("the database is not answering: %s refused", method.__name__, exc_info=True)
            return Outcome(K.UNAVAILABLE, DB_DOWN)

    return guarded


class Workflow(Queries, Execution, BulkWork):
    """Opens, decides, executes, undoes and recovers change requests; the one seam for request state."""

    def __init__(
        self,
        store: Store,
        m365: Callable[[], M365],
        policy: GatePolicy,
        *,
        clock: Clock = SYSTEM_CLOCK,
        members: GroupMembers = lambda group: (),
        on_change: Callable[[str], None] = lambda request_id: None,
        on_event: Callable[[str], None] = lambda event: None,
        on_onboarded: Callable[[ChangeRequest], None] = lambda request: None,
        workers: int = 4,
        bulk_batch: int = 50,
        bulk_concurrency: int = 4,
        used_since: UsedSince | None = None,
        claims: Claims | None = None,
        show_time: Callable[[datetime], str] = utc_text,
        undeliverable: Callable[[str], str | None] = lambda channel: None,
    ) -> None:
        self.store = store
        self.claims = claims or Claims(store.leases)
        # Why a card cannot go to a channel (the bot is not in it), else None: asked for requests `resume` takes up,
        # which no listener checked (a queue's refusal, a dead process's); the runtime passes the Slack check.
        self.undeliverable = undeliverable
        self._m365 = m365
        self.policy = policy
        self.clock = clock
        self.members = members
        self.on_change = on_change
        self.on_event = on_event  # "request", "approval", "denial", "expiry", "failed_change" (for metrics)
        self.on_onboarded = on_onboarded  # an OAuth onboarding's every step verified (the runtime probes it)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workflow")
        self._intake = Intake(store.requests)  # commands arriving together are stored in one transaction
        self._running: list[Future[RequestStep | None]] = []
        self.bulk_batch = bulk_batch  # mailboxes per batch of a bulk step (one bulk read, then the writes)
        self.bulk_concurrency = bulk_concurrency  # Set-CASMailbox calls in flight at once
        self.used_since = used_since  # sign-in logs since the report, when the readiness report provides them
        # How a time is written in an `Outcome.message`: the Slack layer passes its own (the reader's time zone).
        self.show_time = show_time

    def _when(self, moment: datetime | None) -> str:
        return self.show_time(moment) if moment else "earlier"

    def receive(self, upn: str, requester: str, channel: str, *, auth_mode: str = "basic",
                include_org: bool = False, app: OAuthApp | None = None, thread_ts: str | None = None,
                trigger_id: str | None = None) -> str | None:
        """Store a command as it arrives, a request in `diagnosing`, before any work is handed on; its id.

        With `app` it is an OAuth onboarding (`/smtp-oauth`): the app's id and route are stored with it.
        `thread_ts` puts its card (and every notice after) in that thread of `channel`, e.g. the alert's.
        One write: with Slack's `trigger_id`, a redelivery of a command already stored is None (nothing stored).
        No claim is taken here (that would be a second write on the ack path): the diagnosis claims it when it
        starts, and a sweep resumes only a request older than a claim's lifetime that no live process holds.
        """
        refusal = self.policy.may_request(requester, self.members)
        if refusal:
            raise NotAllowed(refusal.reason)
        options: dict[str, Any] = {"auth_mode": auth_mode, "include_org": include_org}
        if app is not None:
            if app.route not in ROUTES:
                raise InvalidInput(f"Unknown route '{app.route}'.", hint="Use scoped (the default) or full_access.")
            options.update(auth_mode="oauth", include_org=False, app_id=normalize_app_id(app.app_id), route=app.route)
        command = Incoming(upn, requester, channel, options, trigger_id, thread_ts)
        return self._intake.receive(command, self.policy.ttl)

    def open_request(self, upn: str, requester: str, channel: str, *, auth_mode: str = "basic",
                     include_org: bool = False, app: OAuthApp | None = None) -> RequestView:
        """Receive, then diagnose the request at once (`receive` and `diagnose_request`)."""
        request_id = self.receive(upn, requester, channel, auth_mode=auth_mode, include_org=include_org, app=app)
        assert request_id is not None  # no trigger id: always stored
        return self.diagnose_request(request_id)

    def diagnose_request(self, request_id: str) -> RequestView:
        """Diagnose a request in `diagnosing`, plan the least change and store it with one pending step per change.

        A diagnosis that fails closes the request with its error (`request.diagnosis_failed`) and raises it.
        A request no longer `diagnosing`, or claimed by another live process, is returned as it is. A database
        that stops answering raises StoreUnavailable; the request stays `diagnosing` and a sweep resumes it.
        """
        with log_context(request_id=request_id):
            try:
                with self.claims.hold(request_claim(request_id)) as mine:
                    return self._diagnose(request_id) if mine else self.view(request_id)
            except UNREACHABLE as exc:
                log.warning("the database stopped answering while request %s was diagnosed", request_id,
                            exc_info=True)
                raise StoreUnavailable(DB_DOWN_DIAGNOSING) from exc

    def _deliverable(self, request_ids: list[str]) -> list[str]:
        """Those of `request_ids` whose card can be posted; the others are closed with the reason
        (`request.undeliverable`, shown if their card ever is), asking Slack once per channel."""
        refusals: dict[str, str | None] = {}
        going = []
        for request_id in request_ids:
            request = self.store.requests.get(request_id)
            if request is None or request.state != RequestState.DIAGNOSING:
                going.append(request_id)  # `_diagnose_held` reports it as it is
                continue
            if request.channel not in refusals:
                refusals[request.channel] = self.undeliverable(request.channel)
            if refusals[request.channel]:
                self.withdraw(request_id, str(refusals[request.channel]))
                log.warning("resumed request %s closed: its channel cannot take the card", request_id)
            else:
                going.append(request_id)
        return going

    def diagnose_requests(self, request_ids: list[str]) -> dict[str, RequestView | Exception]:
        """Diagnose requests that arrived together with one bulk read of Microsoft (as `diagnose_request` each).

        Returns each request's view, or the error that closed it (or that stopped it being read). A request
        another live process holds is returned as it is. When the shared read itself fails, each request is
        diagnosed on its own, so one cannot sink the others.
        """
        results: dict[str, RequestView | Exception] = {}
        try:
            with ExitStack() as held:
                mine = []
                for request_id in dict.fromkeys(request_ids):
                    if held.enter_context(self.claims.hold(request_claim(request_id))):
                        mine.append(request_id)
                    else:
                        results[request_id] = self.view(request_id)
                results.update(self._diagnose_held(mine))
        except UNREACHABLE:
            log.warning("the database stopped answering while %d requests were diagnosed", len(request_ids),
                        exc_info=True)
            for request_id in request_ids:
                results.setdefault(request_id, StoreUnavailable(DB_DOWN_DIAGNOSING))
        return results

    def _diagnose_held(self, request_ids: list[str]) -> dict[str, RequestView | Exception]:
        """`diagnose_requests` for requests whose claims this thread holds."""
        results: dict[str, RequestView | Exception] = {}
        waiting: list[ChangeRequest] = []
        for request_id in request_ids:
            try:
                view = self.view(request_id)
            except Exception as exc:  # noqa: BLE001 - reported per request
                results[request_id] = exc
                continue
            if view.request.state == RequestState.DIAGNOSING and oauth_app_of(view.request) is not None:
                results[request_id] = self._alone(request_id)  # an onboarding reads its app too: on its own
            elif view.request.state == RequestState.DIAGNOSING:
                waiting.append(view.request)
            else:
                results[request_id] = view
        if not waiting:
            return results
        try:
            m365 = self._m365()
            diagnoses = diagnose_each(m365, [(r.upn, _auth_mode(r)) for r in waiting], clock=self.clock)
        except Exception as exc:  # noqa: BLE001 - each request is then diagnosed alone and keeps its own error
            log.warning("diagnosing %d requests together failed (%s); diagnosing each alone", len(waiting), exc)
            for request in waiting:
                results[request.id] = self._alone(request.id)
            return results
        for request, diagnosis in zip(waiting, diagnoses, strict=True):
            with log_context(request_id=request.id):
                try:
                    results[request.id] = self._planned(request, m365, diagnosis)
                except Exception as exc:  # noqa: BLE001 - stored on the request and returned to the caller
                    results[request.id] = _told(exc)
        return results

    def _alone(self, request_id: str) -> RequestView | Exception:
        """Diagnose one request whose claim this thread holds; its error is returned, not raised."""
        try:
            with log_context(request_id=request_id):
                return self._diagnose(request_id)
        except Exception as exc:  # noqa: BLE001 - returned to the caller
            return _told(exc)

    def _diagnose(self, request_id: str) -> RequestView:
        request = self.view(request_id).request
        if request.state != RequestState.DIAGNOSING:
            return self.view(request_id)
        auth_mode = _auth_mode(request)
        app = oauth_app_of(request)
        try:
            m365 = self._m365()
            [diagnosis] = diagnose(m365, [request.upn], auth_mode=auth_mode, clock=self.clock, app=app)
        except Exception as exc:
            self._diagnosis_failed(request, exc, {"upn": request.upn, "auth_mode": auth_mode})
            raise
        return self._planned(request, m365, diagnosis)

    def _planned(self, request: ChangeRequest, m365: M365, diagnosis: Diagnosis) -> RequestView:
        """Store the plan of a diagnosed request (or close it with the diagnosis's error, raised).

        Planning that fails unexpectedly closes the request too (raised): a sweep must not read Microsoft for it
        again and again. Only a database that stopped answering leaves it `diagnosing`, for a sweep to resume.
        """
        if diagnosis.error is not None:
            self._diagnosis_failed(request, diagnosis.error, diagnosis.to_dict())
            raise diagnosis.error
        try:
            return self._store_plan(request, m365, diagnosis)
        except UNREACHABLE:
            raise
        except Exception as exc:
            log.exception("planning request %s failed; it is closed", request.id)
            self._diagnosis_failed(request, exc, diagnosis.to_dict())
            raise

    def _store_plan(self, request: ChangeRequest, m365: M365, diagnosis: Diagnosis) -> RequestView:
        request_id = request.id
        plan = make_plan(diagnosis, include_org=bool(request.options.get("include_org")))
        steps = [{"handler_key": s.key, "title": s.title, "proposed": {
            "current": s.current, "proposed": s.proposed, "current_text": s.current_text,
            "proposed_text": s.proposed_text, "impact": s.impact, "reason": s.reason, "scope": s.scope,
            "docs": s.docs, "approvals_needed": self.policy.approvals_needed(s.key, s.scope)}}
            for s in plan.steps]
        if not self.store.requests.plan(request_id, m365.tenant_id, self.policy.ttl, steps,
                                        {"diagnosis": diagnosis.to_dict(), "plan": plan.to_dict()}):
            return self.view(request_id)
        if not steps:  # closed, but never called healthy while a check could not be read
            action = "request.unreadable" if plan.unreadable else "request.nothing_to_change"
            self.store.requests.transition(request_id, RequestState.PLANNED, RequestState.CLOSED, BOT_ACTOR, action)
        self.on_event("request")
        return self.view(request_id)

    def withdraw(self, request_id: str, reason: str) -> bool:
        """Close a request still `diagnosing` whose card cannot be delivered (the bot is not in the channel)."""
        request = self.view(request_id).request
        return self.store.requests.transition(request.id, RequestState.DIAGNOSING, RequestState.CLOSED, BOT_ACTOR,
                                              "request.undeliverable",
                                              diagnosis={"plan": {"upn": request.upn, "error": reason}})

    def _diagnosis_failed(self, request: ChangeRequest, exc: Exception, diagnosis: dict[str, Any]) -> None:
        """Close a request whose diagnosis failed, with the error its card shows (the caller re-raises)."""
        error = exc.describe() if isinstance(exc, BotError) else UNEXPECTED
        try:
            self.store.requests.transition(request.id, RequestState.DIAGNOSING, RequestState.CLOSED, BOT_ACTOR,
                                           "request.diagnosis_failed",
                                           diagnosis={"diagnosis": diagnosis, "plan": {"upn": request.upn,
                                                                                        "error": error}})
        except Exception:
            log.exception("could not close request %s after its diagnosis failed; start-up will resume it", request.id)

    def waiting_diagnosis(self, stored_before: datetime | None = None) -> list[str]:
        """The ids of requests stored but not yet diagnosed (`diagnosing`), oldest first; with `stored_before`,
        only those stored by then."""
        return [r for r in self.store.requests.in_state(RequestState.DIAGNOSING)
                if stored_before is None
                or ((found := self.store.requests.get(r)) is not None and found.created_at <= stored_before)]

    def resume(self, request_ids: list[str] | None = None, *, stored_before: datetime | None = None) -> list[str]:
        """Start-up and sweep: diagnose requests left in `diagnosing` and redraw each card (plan or failure),
        `RESUME_BATCH` at a time with one bulk read each. Returns the ids resumed.

        By default every request in `diagnosing` stored before `stored_before` (when given): a younger one may
        still wait, unclaimed, in a live process's queue — the sweep, the start-up and the queue bringing back
        requests pass a claim's lifetime ago (the start-up no later than its own start). `request_ids`: those
        (the queue bringing back what it refused, or what is that old). Only a request no live process holds is
        taken (`claims.take_over`): its process died, or lost the database. A request taken twice (by a replica
        while another replica's queue still holds it, more than a claim's lifetime deep) is planned once:
        planning is a conditional UPDATE.
        """
        if request_ids is None:
            request_ids = self.waiting_diagnosis(stored_before)
        resumed: list[str] = []
        for start in range(0, len(request_ids), RESUME_BATCH):
            with ExitStack() as held:
                mine = [r for r in request_ids[start : start + RESUME_BATCH]
                        if held.enter_context(self.claims.take_over(request_claim(r)))]
                if not mine:
                    continue
                resumed += mine
                for request_id, result in self._diagnose_held(self._deliverable(mine)).items():
                    if isinstance(result, Exception):  # stored on the request; its card says what happened
                        log.warning("resumed request %s could not be diagnosed: %s", request_id, result)
                    self._changed(request_id)
        return resumed

    @_told_if_db_down
    def decide(self, step_id: int, actor: str, *, approve: bool) -> Outcome:
        """Approve or deny a pending step (or a pending undo). The first decision wins."""
        found = self._load(step_id)
        if found is None:
            return Outcome(K.NOT_FOUND, GONE)
        step, request = found
        with log_context(request_id=request.id, step_id=step.id):
            return self._decide(step, request, actor, approve)

    def _decide(self, step: RequestStep, request: ChangeRequest, actor: str, approve: bool) -> Outcome:
        if step.state == S.PENDING:
            return self._decide_step(step, request, actor, approve)
        if step.state == S.REVERT_PENDING:
            return self._decide_undo(step, request, actor, approve)
        return self._already(step)

    def approve_all(self, request_id: str, user: str) -> list[Outcome]:
        """Approve every pending step of a request as `user`, running each one approved; one outcome per step."""
        outcomes = []
        try:
            steps = self.store.requests.get_steps(request_id)
        except UNREACHABLE:
            log.warning("the database is not answering: approve_all refused", exc_info=True)
            return [Outcome(K.UNAVAILABLE, DB_DOWN)]
        for step in steps:
            if step.state != S.PENDING:
                continue
            outcome = self.decide(step.id, user, approve=True)
            if outcome.run:
                self.run(step.id)
            outcomes.append(outcome)
        return outcomes

    @_told_if_db_down
    def apply_anyway(self, request_id: str, actor: str) -> Outcome:
        """An approver chooses to go on although a blocker the bot cannot change remains (audited).

        Nothing changes yet: each step still needs its own approval through the gate.
        """
        view = self.find(request_id)
        if view is None:
            return Outcome(K.NOT_FOUND, GONE)
        if not view.held:
            return Outcome(K.ALREADY, "Nothing to unlock: these steps can already be approved one by one.")
        refusal = self.policy.may_decide(actor, view.request.requester, self.members, approve=True)
        if refusal:
            self.store.requests.audit(actor, "request.apply_anyway_refused", request_id=request_id,
                                      target=view.request.upn, detail={"reason": refusal.reason})
            return Outcome(K.REFUSED, refusal.reason)
        if not self.store.requests.apply_anyway(request_id, actor, view.blockers()):
            return Outcome(K.ALREADY, "Another approver chose Apply anyway first; the steps can be approved.")
        self._changed(request_id)
        return Outcome(K.APPLY_ANYWAY, "The steps can now be approved one by one; they will not be enough on "
                       "their own while the blockers remain.")

    def _decide_step(self, step: RequestStep, request: ChangeRequest, actor: str, approve: bool) -> Outcome:
        if self.clock.now() >= request.expires_at:
            self.expire_due()
            return Outcome(K.EXPIRED, f"This approval expired at {self._when(request.expires_at)}. "
                           f"Run {command_for(request)} again for a fresh plan.",
                           self.store.requests.get_step(step.id))
        refusal = self.policy.may_decide(actor, request.requester, self.members, approve=approve)
        if refusal:
            self.store.requests.audit(actor, "step.refused", request_id=request.id, step_id=step.id,
                                      target=request.upn, detail={"approve": approve, "reason": refusal.reason})
            return Outcome(K.REFUSED, refusal.reason, step)
        if approve and self._view(request).held:
            return Outcome(K.REFUSED, "These changes will not be enough: something the bot cannot change still "
                           "blocks SMTP AUTH. An approver must choose Apply anyway on the card first.", step)
        new = S.APPROVED if approve else S.DENIED
        approvals: dict[str, Any] = {}
        if approve:
            collected = self._collect(step, request, actor, "step")
            if isinstance(collected, Outcome):
                return collected
            approvals = {"approvals": collected}
        if not self._claimed_transition(approve, step.id, S.PENDING, new, actor, f"step.{new}", decided_by=actor,
                                         **approvals):
            return self._already(self.store.requests.get_step(step.id))
        self._changed(request.id)
        self.on_event("approval" if approve else "denial")
        verb = "Approved; applying it now." if approve else "Denied; nothing will change."
        return Outcome(K(new), verb, self.store.requests.get_step(step.id), run=approve)

    def _decide_undo(self, step: RequestStep, request: ChangeRequest, actor: str, approve: bool) -> Outcome:
        asked_by = step.undo_requested_by or BOT_ACTOR
        deadline = (step.undo_requested_at or step.updated_at) + self.policy.ttl
        if self.clock.now() >= deadline:
            if self.store.requests.transition_step(step.id, S.REVERT_PENDING, S.VERIFIED, BOT_ACTOR, "undo.expired"):
                self._changed(request.id)
            return Outcome(K.EXPIRED, f"This undo request expired at {self._when(deadline)}; "
                           "click Undo again to ask anew.", self.store.requests.get_step(step.id))
        refusal = self.policy.may_decide(actor, asked_by, self.members, approve=approve)
        if refusal:
            self.store.requests.audit(actor, "undo.refused", request_id=request.id, step_id=step.id,
                                      target=request.upn, detail={"approve": approve, "reason": refusal.reason})
            return Outcome(K.REFUSED, refusal.reason, step)
        new, action = (S.REVERTING, "undo.approved") if approve else (S.VERIFIED, "undo.denied")
        # A denied undo keeps no approvals: on the card, an undo decided with approvals is one that was approved.
        approvals: dict[str, Any] = {"approvals": None}
        if approve:
            collected = self._collect(step, request, actor, "undo")
            if isinstance(collected, Outcome):
                return collected
            approvals = {"approvals": collected}
        if not self._claimed_transition(approve, step.id, S.REVERT_PENDING, new, actor, action,
                                         undo_decided_by=actor, **approvals):
            return self._already(self.store.requests.get_step(step.id))
        self._changed(request.id)
        if approve:
            return Outcome(K.UNDO_APPROVED, "Undo approved; restoring the previous value.",
                           self.store.requests.get_step(step.id), run=True)
        return Outcome(K.UNDO_DENIED, "Undo denied; the change stays.", self.store.requests.get_step(step.id))

    def _collect(self, step: RequestStep, request: ChangeRequest, actor: str, phase: str) -> list[str] | Outcome:
        """The approvers of a change once `actor`'s approval completes it, else the outcome of recording it.

        A wide change (tenant-wide or bulk) needs several different approvers (`GatePolicy.approvals_needed`);
        each approval but the last is recorded on the step (a conditional UPDATE on its version, so two
        approvers clicking at once are both counted) and audited as `<phase>.approval_recorded`.
        """
        needed = self.policy.approvals_needed(step.handler_key, str((step.proposed or {}).get("scope", "")))
        state = step.state
        for _ in range(needed + 3):
            have = list(step.approvals or ())
            if actor in have:
                return Outcome(K.ALREADY, f"You already approved this; it needs {needed - len(have)} more "
                               f"approver{'s' if needed - len(have) > 1 else ''} (not you).", step)
            if len(have) + 1 >= needed:
                return [*have, actor]
            if self.store.requests.add_approval(step.id, actor, step.version, f"{phase}.approval_recorded",
                                              needed):
                self._changed(request.id)
                left = needed - len(have) - 1
                return Outcome(K.APPROVAL_RECORDED, f"Approval {len(have) + 1} of {needed} recorded: this is a wide "
                               f"change, so {left} more approver{'s' if left > 1 else ''} must approve it too.",
                               self.store.requests.get_step(step.id))
            fresh = self.store.requests.get_step(step.id)
            if fresh is None or fresh.state != state:
                return self._already(fresh)
            step = fresh
        return self._already(step)

    def _claimed_transition(self, claim: bool, step_id: int, expected: StepState, new: StepState, actor: str,
                            action: str, **fields: Any) -> bool:
        """`transition_step`, first claiming the step for this process when `claim` (an approval it runs next),
        so no replica's sweep runs or settles it in between. A step another live process has claimed (it is
        approving or running it right now) is left to that process. The claim is renewed by this process until the
        thread running the step holds it. A claim whose transition lost is not released (another thread of this
        process may have won with it): it is no longer renewed and runs out by itself."""
        name = step_claim(step_id)
        if claim and not self.claims.stake(name):
            return False
        moved = False
        try:
            moved = self.store.requests.transition_step(step_id, expected, new, actor, action, **fields)
        finally:
            if claim and not moved:
                self.claims.unstake(name)
        return moved

    def _already(self, step: RequestStep | None) -> Outcome:
        if step is None:
            return Outcome(K.NOT_FOUND, GONE)
        who = f" by <@{step.decided_by}>" if step.decided_by and step.state in DECIDED else ""
        return Outcome(K.ALREADY, f"Already decided: this step is {step.state}{who} "
                       f"({self._when(step.decided_at or step.updated_at)}).", step)

    @_told_if_db_down
    def request_undo(self, step_id: int, actor: str) -> Outcome:
        """Ask to revert an applied step; an approver other than `actor` then decides, like the change."""
        found = self._load_for(step_id, actor, "ask to undo")
        if isinstance(found, Outcome):
            return found
        step, request = found
        refusal = undo_refusal(self.store, self._m365, step, request) if step.state == S.VERIFIED else None
        if refusal:
            return Outcome(K.REFUSED, refusal, step)
        if not self.store.requests.transition_step(step.id, S.VERIFIED, S.REVERT_PENDING, actor, "undo.requested",
                                                   undo_requested_by=actor, approvals=None, undo_decided_by=None):
            return self._already(self.store.requests.get_step(step.id))
        self._changed(request.id)
        return Outcome(K.UNDO_REQUESTED, "Undo requested; an approver must approve it.",
                       self.store.requests.get_step(step_id))

    @_told_if_db_down
    def retry(self, step_id: int, actor: str) -> Outcome:
        """Put a failed step back to pending: it goes through the gate again."""
        found = self._load_for(step_id, actor, "retry")
        if isinstance(found, Outcome):
            return found
        step, request = found
        if self.clock.now() >= request.expires_at:
            return Outcome(K.EXPIRED, f"This request expired at {self._when(request.expires_at)}. "
                           f"Run {command_for(request)} again.", step)
        if not self.store.requests.transition_step(step.id, S.FAILED, S.PENDING, actor, "step.retry", error=None,
                                                   approvals=None):
            return self._already(self.store.requests.get_step(step.id))
        self._changed(request.id)
        return Outcome(K.RETRY, "Retry requested; it needs an approval again.", self.store.requests.get_step(step_id))

    def _load_for(self, step_id: int, actor: str, verb: str) -> tuple[RequestStep, ChangeRequest] | Outcome:
        """A step and its request when `actor` (the requester or an approver) may `verb` it, else the refusal."""
        found = self._load(step_id)
        if found is None:
            return Outcome(K.NOT_FOUND, GONE)
        step, request = found
        if actor != request.requester and not self.is_approver(actor):
            return Outcome(K.REFUSED, f"Only the requester or an approver can {verb} a change.", step)
        return found

    def expire_due(self) -> list[int]:
        expired = self.store.requests.expire_due()
        for _ in expired:
            self.on_event("expiry")
        steps = (self.store.requests.get_step(step_id) for step_id in expired)
        for request_id in {s.request_id for s in steps if s is not None}:
            self._changed(request_id)
        return expired

    def close(self) -> None:
        self.pool.shutdown(wait=True)
