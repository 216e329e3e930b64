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
from datetime import datetime
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import BotError, NotAllowed, StoreUnavailable
from bot.logs import log_context
from bot.m365.tenant import M365
from bot.store import UNREACHABLE, Store
from bot.workflow.claims import Claims, request_claim, step_claim
from bot.workflow.diagnose import diagnose
from bot.workflow.execution import Execution
from bot.workflow.gate import GatePolicy, GroupMembers
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
)
from bot.workflow.plan import make_plan
from bot.workflow.queries import Queries

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


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "earlier"


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


class Workflow(Queries, Execution):
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
        workers: int = 4,
        claims: Claims | None = None,
    ) -> None:
        self.store = store
        self.claims = claims or Claims(store.leases)
        self._m365 = m365
        self.policy = policy
        self.clock = clock
        self.members = members
        self.on_change = on_change
        self.on_event = on_event  # "request", "approval", "denial", "expiry", "failed_change" (for metrics)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workflow")
        self._running: list[Future[RequestStep | None]] = []

    def receive(self, upn: str, requester: str, channel: str, *, auth_mode: str = "basic",
                include_org: bool = False) -> str:
        """Store a command as it arrives, a request in `diagnosing`, before any work is handed on; its id.

        The request is claimed by this process, so no other replica resumes it while this one lives.
        """
        refusal = self.policy.may_request(requester, self.members)
        if refusal:
            raise NotAllowed(refusal.reason)
        request_id = self.store.requests.receive(upn, requester, channel, self.policy.ttl,
                                                 {"auth_mode": auth_mode, "include_org": include_org})
        try:
            self.claims.stake(request_claim(request_id))
        except UNREACHABLE:
            log.warning("request %s stored but not claimed; a sweep resumes it", request_id, exc_info=True)
        return request_id

    def open_request(self, upn: str, requester: str, channel: str, *, auth_mode: str = "basic",
                     include_org: bool = False) -> RequestView:
        """Receive, then diagnose the request at once (`receive` and `diagnose_request`)."""
        request_id = self.receive(upn, requester, channel, auth_mode=auth_mode, include_org=include_org)
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

    def _diagnose(self, request_id: str) -> RequestView:
        request = self.view(request_id).request
        if request.state != RequestState.DIAGNOSING:
            return self.view(request_id)
        auth_mode = str(request.options.get("auth_mode") or "basic")
        try:
            m365 = self._m365()
            [diagnosis] = diagnose(m365, [request.upn], auth_mode=auth_mode, clock=self.clock)
        except Exception as exc:
            self._diagnosis_failed(request, exc, {"upn": request.upn, "auth_mode": auth_mode})
            raise
        if diagnosis.error is not None:
            self._diagnosis_failed(request, diagnosis.error, diagnosis.to_dict())
            raise diagnosis.error
        plan = make_plan(diagnosis, include_org=bool(request.options.get("include_org")))
        steps = [{"handler_key": s.key, "title": s.title, "proposed": {
            "current": s.current, "proposed": s.proposed, "current_text": s.current_text,
            "proposed_text": s.proposed_text, "impact": s.impact, "reason": s.reason, "scope": s.scope,
            "docs": s.docs}}
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

    def resume(self) -> list[str]:
        """Start-up and sweep: diagnose each request left in `diagnosing` by a process that is gone (its claim
        ran out: it died, or the database failed under it) and redraw its card (plan or failure).

        A request a live process is still diagnosing is left to it. Returns the ids resumed.
        """
        resumed = []
        for request_id in self.store.requests.in_state(RequestState.DIAGNOSING):
            with log_context(request_id=request_id), self.claims.take_over(request_claim(request_id)) as mine:
                if not mine:
                    continue
                resumed.append(request_id)
                try:
                    self._diagnose(request_id)
                except Exception as exc:  # noqa: BLE001 - stored on the request; its card says what happened
                    log.warning("resumed request %s could not be diagnosed: %s", request_id, exc)
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
            return Outcome(K.EXPIRED, f"This approval expired at {_when(request.expires_at)}. "
                           f"Run /smtp-enable {request.upn} again for a fresh plan.",
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
        if not self._claimed_transition(approve, step.id, S.PENDING, new, actor, f"step.{new}", decided_by=actor):
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
            return Outcome(K.EXPIRED, f"This undo request expired at {_when(deadline)}; "
                           "click Undo again to ask anew.", self.store.requests.get_step(step.id))
        refusal = self.policy.may_decide(actor, asked_by, self.members, approve=approve)
        if refusal:
            self.store.requests.audit(actor, "undo.refused", request_id=request.id, step_id=step.id,
                                      target=request.upn, detail={"approve": approve, "reason": refusal.reason})
            return Outcome(K.REFUSED, refusal.reason, step)
        new, action = (S.REVERTING, "undo.approved") if approve else (S.VERIFIED, "undo.denied")
        if not self._claimed_transition(approve, step.id, S.REVERT_PENDING, new, actor, action):
            return self._already(self.store.requests.get_step(step.id))
        self._changed(request.id)
        if approve:
            return Outcome(K.UNDO_APPROVED, "Undo approved; restoring the previous value.",
                           self.store.requests.get_step(step.id), run=True)
        return Outcome(K.UNDO_DENIED, "Undo denied; the change stays.", self.store.requests.get_step(step.id))

    def _claimed_transition(self, claim: bool, step_id: int, expected: StepState, new: StepState, actor: str,
                            action: str, **fields: Any) -> bool:
        """`transition_step`, first claiming the step for this process when `claim` (an approval it runs next),
        so no replica's sweep runs or settles it in between. A step another live process has claimed (it is
        approving or running it right now) is left to that process. A claim whose transition lost is not released
        (another thread of this process may have won with it); it runs out by itself."""
        if claim and not self.claims.stake(step_claim(step_id)):
            return False
        return self.store.requests.transition_step(step_id, expected, new, actor, action, **fields)

    def _already(self, step: RequestStep | None) -> Outcome:
        if step is None:
            return Outcome(K.NOT_FOUND, GONE)
        who = f" by <@{step.decided_by}>" if step.decided_by and step.state in DECIDED else ""
        return Outcome(K.ALREADY, f"Already decided: this step is {step.state}{who} "
                       f"({_when(step.decided_at or step.updated_at)}).", step)

    @_told_if_db_down
    def request_undo(self, step_id: int, actor: str) -> Outcome:
        """Ask to revert an applied step; an approver other than `actor` then decides, like the change."""
        found = self._load_for(step_id, actor, "ask to undo")
        if isinstance(found, Outcome):
            return found
        step, request = found
        if not self.store.requests.transition_step(step.id, S.VERIFIED, S.REVERT_PENDING, actor, "undo.requested",
                                                   undo_requested_by=actor):
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
            return Outcome(K.EXPIRED, f"This request expired at {_when(request.expires_at)}. "
                           f"Run /smtp-enable {request.upn} again.", step)
        if not self.store.requests.transition_step(step.id, S.FAILED, S.PENDING, actor, "step.retry", error=None):
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
