"""The change-request workflow: open from a diagnosis, gate every decision, run each step exactly once.

Every state change is one conditional UPDATE in the store (`transition_step`), so the first decision
wins and a step is claimed for execution once, across threads, Slack retries and replicas. This
module knows nothing of Slack: callers render state and tell users what `Outcome.message` says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import BotError, InvalidInput, NotAllowed
from bot.m365.tenant import M365
from bot.store import ChangeRequest, Step, Store
from bot.workflow.diagnose import diagnose
from bot.workflow.gate import GatePolicy, GroupMembers
from bot.workflow.plan import make_plan
from handlers import REMEDIATIONS, Change

log = logging.getLogger(__name__)

BOT = "smtp-auth-bot"
TERMINAL = frozenset({"denied", "expired", "reverted"})


@dataclass(frozen=True)
class Outcome:
    """What a click did. `message` is for the person who clicked; `run` says the caller should execute now."""

    kind: str  # approved, denied, refused, already, expired, undo_requested, undo_denied, retry, not_found
    message: str
    step: Step | None = None
    run: bool = False


@dataclass
class RequestView:
    """Everything a card shows: the request, its steps in order, and the plan's advisories."""

    request: ChangeRequest
    steps: list[Step] = field(default_factory=list)

    @property
    def plan(self) -> dict[str, Any]:
        return self.request.diagnosis.get("plan", {})


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "earlier"


class Workflow:
    """Opens, decides, executes, undoes and recovers change requests."""

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
    ) -> None:
        self.store = store
        self._m365 = m365
        self.policy = policy
        self.clock = clock
        self.members = members
        self.on_change = on_change
        self.on_event = on_event  # "request", "approval", "denial", "expiry", "failed_change" (for metrics)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workflow")
        self._running: list[Future[Step | None]] = []

    # Opening a request ---------------------------------------------------------------------------
    def open_request(self, upn: str, requester: str, channel: str, *, auth_mode: str = "basic",
                     include_org: bool = False) -> RequestView:
        """Diagnose `upn`, plan the least change and store it with one pending step per change."""
        refusal = self.policy.may_request(requester, self.members)
        if refusal:
            raise NotAllowed(refusal.reason)
        m365 = self._m365()
        [diagnosis] = diagnose(m365, [upn], auth_mode=auth_mode, clock=self.clock)
        if diagnosis.error is not None:
            raise diagnosis.error
        plan = make_plan(diagnosis, include_org=include_org)
        steps = [{"handler_key": s.key, "title": s.title, "proposed": {
            "current": s.current, "proposed": s.proposed, "current_text": s.current_text,
            "proposed_text": s.proposed_text, "impact": s.impact, "reason": s.reason, "scope": s.scope}}
            for s in plan.steps]
        request_id = self.store.create_request(
            diagnosis.upn, m365.tenant_id, requester, channel, self.policy.ttl, steps,
            {"diagnosis": diagnosis.to_dict(), "plan": plan.to_dict()},
            {"auth_mode": auth_mode, "include_org": include_org},
        )
        if not steps:
            self.store.transition_request(request_id, "planned", "closed", BOT, "request.nothing_to_change")
        self.on_event("request")
        return self.view(request_id)

    def view(self, request_id: str) -> RequestView:
        request = self.store.get_request(request_id)
        if request is None:
            raise InvalidInput(f"No change request {request_id}.")
        return RequestView(request, self.store.get_steps(request_id))

    # Decisions -----------------------------------------------------------------------------------
    def decide(self, step_id: int, actor: str, *, approve: bool) -> Outcome:
        """Approve or deny a pending step (or a pending undo). The first decision wins."""
        step = self.store.get_step(step_id)
        if step is None:
            return Outcome("not_found", "That change request no longer exists.")
        request = self.store.get_request(step.request_id)
        assert request is not None
        if step.state == "pending":
            return self._decide_step(step, request, actor, approve)
        if step.state == "revert_pending":
            return self._decide_undo(step, request, actor, approve)
        return self._already(step)

    def _decide_step(self, step: Step, request: ChangeRequest, actor: str, approve: bool) -> Outcome:
        if self.clock.now() >= request.expires_at:
            self.expire_due()
            return Outcome("expired", f"This approval expired at {_when(request.expires_at)}. "
                           f"Run /smtp-enable {request.upn} again for a fresh plan.", self.store.get_step(step.id))
        refusal = self.policy.may_decide(actor, request.requester, self.members, approve=approve)
        if refusal:
            self.store.audit(actor, "step.refused", request_id=request.id, step_id=step.id, target=request.upn,
                             detail={"approve": approve, "reason": refusal.reason})
            return Outcome("refused", refusal.reason, step)
        new = "approved" if approve else "denied"
        if not self.store.transition_step(step.id, "pending", new, actor, f"step.{new}", decided_by=actor):
            return self._already(self.store.get_step(step.id))
        self._changed(request.id)
        self.on_event("approval" if approve else "denial")
        verb = "Approved; applying it now." if approve else "Denied; nothing will change."
        return Outcome(new, verb, self.store.get_step(step.id), run=approve)

    def _decide_undo(self, step: Step, request: ChangeRequest, actor: str, approve: bool) -> Outcome:
        asked_by, asked_at = self._undo_request(step)
        if self.clock.now() >= asked_at + self.policy.ttl:
            if self.store.transition_step(step.id, "revert_pending", "verified", BOT, "undo.expired"):
                self._changed(request.id)
            return Outcome("expired", f"This undo request expired at {_when(asked_at + self.policy.ttl)}; "
                           "click Undo again to ask anew.", self.store.get_step(step.id))
        refusal = self.policy.may_decide(actor, asked_by, self.members, approve=approve)
        if refusal:
            self.store.audit(actor, "undo.refused", request_id=request.id, step_id=step.id, target=request.upn,
                             detail={"approve": approve, "reason": refusal.reason})
            return Outcome("refused", refusal.reason, step)
        new, action = ("reverting", "undo.approved") if approve else ("verified", "undo.denied")
        if not self.store.transition_step(step.id, "revert_pending", new, actor, action):
            return self._already(self.store.get_step(step.id))
        self._changed(request.id)
        if approve:
            return Outcome("undo_approved", "Undo approved; restoring the previous value.",
                           self.store.get_step(step.id), run=True)
        return Outcome("undo_denied", "Undo denied; the change stays.", self.store.get_step(step.id))

    def _undo_request(self, step: Step) -> tuple[str, datetime]:
        rows = [r for r in self.store.audit_rows(request_id=step.request_id)
                if r.step_id == step.id and r.action == "undo.requested"]
        return (rows[-1].actor, rows[-1].at) if rows else (BOT, step.updated_at)

    def _already(self, step: Step | None) -> Outcome:
        if step is None:
            return Outcome("not_found", "That change request no longer exists.")
        who = f" by <@{step.decided_by}>" if step.decided_by and step.state in ("approved", "denied", "applying",
                                                                                 "applied", "verified") else ""
        return Outcome("already", f"Already decided: this step is {step.state}{who} "
                       f"({_when(step.decided_at or step.updated_at)}).", step)

    def request_undo(self, step_id: int, actor: str) -> Outcome:
        """Ask to revert an applied step; an approver other than `actor` then decides, like the change."""
        step = self.store.get_step(step_id)
        if step is None:
            return Outcome("not_found", "That change request no longer exists.")
        request = self.store.get_request(step.request_id)
        assert request is not None
        if actor != request.requester and not self.policy.is_approver(actor, self.members):
            return Outcome("refused", "Only the requester or an approver can ask to undo a change.", step)
        if not self.store.transition_step(step.id, "verified", "revert_pending", actor, "undo.requested"):
            return self._already(self.store.get_step(step.id))
        self._changed(request.id)
        return Outcome("undo_requested", "Undo requested; an approver must approve it.", self.store.get_step(step_id))

    def retry(self, step_id: int, actor: str) -> Outcome:
        """Put a failed step back to pending: it goes through the gate again."""
        step = self.store.get_step(step_id)
        if step is None:
            return Outcome("not_found", "That change request no longer exists.")
        request = self.store.get_request(step.request_id)
        assert request is not None
        if actor != request.requester and not self.policy.is_approver(actor, self.members):
            return Outcome("refused", "Only the requester or an approver can retry a change.", step)
        if self.clock.now() >= request.expires_at:
            return Outcome("expired", f"This request expired at {_when(request.expires_at)}. "
                           f"Run /smtp-enable {request.upn} again.", step)
        if not self.store.transition_step(step.id, "failed", "pending", actor, "step.retry", error=None):
            return self._already(self.store.get_step(step.id))
        self._changed(request.id)
        return Outcome("retry", "Retry requested; it needs an approval again.", self.store.get_step(step_id))

    # Execution -----------------------------------------------------------------------------------
    def submit(self, step_id: int) -> Future[Step | None]:
        """Run an approved step (or an approved undo) on the workflow's bounded pool."""
        future = self.pool.submit(self.run, step_id)
        self._running = [f for f in self._running if not f.done()] + [future]
        return future

    def idle(self) -> bool:
        return all(f.done() for f in self._running)

    def run(self, step_id: int) -> Step | None:
        step = self.store.get_step(step_id)
        if step is not None and step.state == "reverting":
            return self._run_undo(step)
        return self.execute(step_id)

    def execute(self, step_id: int) -> Step | None:
        """Claim an approved step and apply, then verify it. Returns None when someone else claimed it."""
        if not self.store.transition_step(step_id, "approved", "applying", BOT, "step.applying"):
            return None
        step = self.store.get_step(step_id)
        assert step is not None
        request = self.store.get_request(step.request_id)
        assert request is not None
        self._changed(request.id)
        handler = REMEDIATIONS[step.handler_key]
        try:
            m365 = self._m365()
            change = handler.apply(m365, request.upn)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the step
            return self._fail(step, request, "applying", exc, "step.failed")
        before = step.before if step.applied_at is not None else change.before  # a retry keeps the original
        self.store.transition_step(step_id, "applying", "applied", BOT, "step.applied", before=before,
                                   after=change.after)
        try:
            verified = handler.verify(m365, Change(change.key, change.target, before, change.after))
        except Exception as exc:  # noqa: BLE001
            return self._fail(step, request, "applied", exc, "step.verify_failed")
        if verified:
            self.store.transition_step(step_id, "applied", "verified", BOT, "step.verified")
        else:
            self.store.transition_step(step_id, "applied", "failed", BOT, "step.verify_failed",
                                       error="The change was sent but reading it back shows the old value; "
                                       "Microsoft can take a few minutes to apply it. Retry to check again.")
            self.on_event("failed_change")
        self._changed(request.id)
        return self.store.get_step(step_id)

    def _run_undo(self, step: Step) -> Step | None:
        request = self.store.get_request(step.request_id)
        assert request is not None
        handler = REMEDIATIONS[step.handler_key]
        try:
            m365 = self._m365()
            undo = handler.revert(m365, Change(step.handler_key, request.upn, step.before, step.after))
            verified = handler.verify(m365, undo)
        except Exception as exc:  # noqa: BLE001
            return self._fail(step, request, "reverting", exc, "undo.failed", back_to="verified")
        if not verified:
            self.store.transition_step(step.id, "reverting", "verified", BOT, "undo.failed",
                                       error="Undo was sent but the old value did not come back; try Undo again.")
        else:
            self.store.audit(BOT, "undo.applied", request_id=request.id, step_id=step.id, target=request.upn,
                             before=undo.before, after=undo.after, detail={"handler_key": step.handler_key})
            self.store.transition_step(step.id, "reverting", "reverted", BOT, "undo.verified", error=None)
        self._changed(request.id)
        return self.store.get_step(step.id)

    def _fail(self, step: Step, request: ChangeRequest, state: str, exc: Exception, action: str,
              back_to: str = "failed") -> Step | None:
        if isinstance(exc, BotError):
            message = exc.describe()
        else:
            log.exception("step %s (%s) failed unexpectedly", step.id, step.handler_key)
            message = "Unexpected error; the details are in the bot's log."
        self.store.transition_step(step.id, state, back_to, BOT, action, error=message)
        self.on_event("failed_change")
        self._changed(request.id)
        return self.store.get_step(step.id)

    # Housekeeping --------------------------------------------------------------------------------
    def expire_due(self) -> list[int]:
        expired = self.store.expire_due()
        for _ in expired:
            self.on_event("expiry")
        for request_id in {s.request_id for s in map(self.store.get_step, expired) if s is not None}:
            self._changed(request_id)
        return expired

    def recover(self) -> list[int]:
        """Settle what a crash left behind; returns approved steps that still need running.

        A step left `applying` is read back: if the new value is there it is verified, otherwise it is
        failed with a note that nothing was changed (Retry goes through the gate again). A step left
        `reverting` is settled the same way against its old value.
        """
        m365 = None
        for step in self.store.steps_in_state("applying") + self.store.steps_in_state("reverting"):
            request = self.store.get_request(step.request_id)
            assert request is not None
            handler = REMEDIATIONS[step.handler_key]
            wanted = (step.proposed or {}).get("proposed") if step.state == "applying" else step.before
            try:
                m365 = m365 or self._m365()
                done = handler.verify(m365, Change(step.handler_key, request.upn, None, wanted))
            except BotError as exc:
                log.warning("recovery could not read step %s back (%s); it stays %s", step.id, exc.message,
                            step.state)
                continue
            if step.state == "applying" and done:
                self.store.transition_step(step.id, "applying", "verified", BOT, "step.recovered",
                                           before=(step.proposed or {}).get("current"), after=wanted)
            elif step.state == "applying":
                self.store.transition_step(step.id, "applying", "failed", BOT, "step.recovered",
                                           error="The bot stopped before this change was made; nothing "
                                           "changed. Retry to run it again.")
            elif done:
                self.store.transition_step(step.id, "reverting", "reverted", BOT, "undo.recovered")
            else:
                self.store.transition_step(step.id, "reverting", "verified", BOT, "undo.recovered",
                                           error="The bot stopped before the undo was made; click Undo again.")
            self._changed(request.id)
        return [s.id for s in self.store.steps_in_state("approved")]

    def _changed(self, request_id: str) -> None:
        try:
            self.on_change(request_id)
        except Exception:  # noqa: BLE001 - a failed notification must not undo a recorded decision
            log.exception("on_change failed for %s", request_id)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
