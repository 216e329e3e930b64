"""Running steps: claim an approved step once, apply, verify, undo, and settle what a crash left behind."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from bot.errors import BotError, UpstreamError
from bot.logs import log_context
from bot.m365.tenant import M365
from bot.store import Store
from bot.workflow.claims import Claims, step_claim
from bot.workflow.grants import undo_refusal
from bot.workflow.model import BOT_ACTOR, ChangeRequest, RequestStep, StepState
from handlers import BULK, Change, remediation

log = logging.getLogger(__name__)
S = StepState

#: What start-up recovery does with a step a crash left in one of these states, by whether reading the
#: setting back shows the value the step was writing: the new state and the error the card shows.
SETTLED: dict[tuple[StepState, bool], tuple[StepState, str | None]] = {
    (S.APPLYING, True): (S.VERIFIED, None),
    (S.APPLYING, False): (S.FAILED, "The bot stopped before this change was made; nothing changed. "
                          "Retry to run it again."),
    (S.APPLIED, True): (S.VERIFIED, None),
    (S.APPLIED, False): (S.FAILED, "The change was sent, then the bot stopped before checking it; reading it "
                         "back at start-up shows the old value, so it has not taken effect (Microsoft can take "
                         "a few minutes). Retry to check and apply it again."),
    (S.REVERTING, True): (S.REVERTED, None),
    (S.REVERTING, False): (S.VERIFIED, "The bot stopped before the undo was made; click Undo again."),
}
SETTLED_STATES = (S.APPLYING, S.APPLIED, S.REVERTING)
#: What a failed write's read-back showed (False: the old value, None: unreadable), added to its error.
READ_BACK: dict[bool | None, str] = {
    False: "Reading the setting back shows nothing changed.",
    None: "The bot could not read the setting back, so it cannot tell whether Microsoft made the change.",
}


class Execution:
    """Write side after the gate (a mixin of `Workflow`, which sets these attributes)."""

    store: Store
    claims: Claims
    _m365: Callable[[], M365]
    on_change: Callable[[str], None]
    on_event: Callable[[str], None]
    on_onboarded: Callable[[ChangeRequest], None]
    pool: ThreadPoolExecutor
    _running: list[Future[RequestStep | None]]
    _execute_bulk: Callable[[RequestStep, ChangeRequest | None], RequestStep | None]
    _undo_bulk: Callable[[RequestStep, str], RequestStep | None]
    _recover_bulk: Callable[[RequestStep, str], bool]

    def submit(self, step_id: int) -> Future[RequestStep | None]:
        """Run an approved step (or an approved undo) on the workflow's bounded pool."""
        future = self.pool.submit(contextvars.copy_context().run, self.run, step_id)
        self._running = [f for f in self._running if not f.done()] + [future]
        return future

    def idle(self) -> bool:
        return all(f.done() for f in self._running)

    def run(self, step_id: int) -> RequestStep | None:
        """Execute an approved step or undo a reverting one, its log lines tagged with the step and request."""
        step = self.store.requests.get_step(step_id)
        with log_context(step_id=step_id, request_id=step.request_id if step else None):
            if step is not None and step.state == S.REVERTING:
                return self._claimed_undo(step_id)
            if step is not None and step.state == S.APPLYING and step.handler_key in BULK:
                return self._claimed_bulk(step_id)  # resumed after a crash
            return self.execute(step_id)

    def execute(self, step_id: int) -> RequestStep | None:
        """Claim an approved step and apply, then verify it. Returns None when someone else claimed it.

        `before` is the value the plan read, on every attempt: a retry or a crash never re-reads it from a
        tenant an earlier attempt may already have changed. A failed write is read back before it is called
        failed: Microsoft sometimes makes a change and then times out or errors on the answer.
        """
        with self.claims.hold(step_claim(step_id)) as mine:
            return self._execute(step_id) if mine else None

    def _execute(self, step_id: int) -> RequestStep | None:
        steps = self.store.requests
        if not steps.transition_step(step_id, S.APPROVED, S.APPLYING, BOT_ACTOR, "step.applying"):
            return None
        step = steps.get_step(step_id)
        request = steps.get(step.request_id) if step else None
        if step is None or request is None:
            return None
        self._changed(request.id)
        if step.handler_key in BULK:
            return self._execute_bulk(step, request)
        handler = remediation(step.handler_key)
        before = (step.proposed or {}).get("current")
        planned = Change(step.handler_key, request.upn, before, handler.target(before))
        try:
            m365 = self._m365()
            handler.apply(m365, request.upn, planned.before)
        except Exception as exc:  # noqa: BLE001 - every failure is read back and recorded on the step
            return self._read_back(step, request, planned, exc)
        steps.transition_step(step_id, S.APPLYING, S.APPLIED, BOT_ACTOR, "step.applied", before=planned.before,
                              after=planned.after)
        return self._verify(step, request, m365, planned)

    def _read_back(self, step: RequestStep, request: ChangeRequest, planned: Change,
                   exc: Exception) -> RequestStep | None:
        """Record what a failed write really did: applied after all (then verify), nothing, or unknown."""
        m365, landed = self._landed(planned)
        if m365 is None or not landed:
            return self._fail(step, request, S.APPLYING, exc, "step.failed", READ_BACK[landed])
        log.warning("step %s (%s): Microsoft answered an error but the change was made", step.id, step.handler_key)
        if _unanswered(exc):
            note = ("Applied after a timeout: Microsoft did not answer in time, but reading the setting back "
                    f"shows the change was made ({_text(exc)})")
        else:
            note = ("Applied after an error: reading the setting back shows the change was made although "
                    f"Microsoft answered: {_text(exc)}")
        self.store.requests.transition_step(
            step.id, S.APPLYING, S.APPLIED, BOT_ACTOR, "step.applied_after_error", before=planned.before,
            after=planned.after, error=note)
        return self._verify(step, request, m365, planned)

    def _landed(self, change: Change) -> tuple[M365 | None, bool | None]:
        """Whether the tenant now holds `change.after` (None: it could not be read), and the clients used."""
        try:
            m365 = self._m365()
            return m365, remediation(change.key).verify(m365, change)
        except Exception:
            log.warning("could not read %s of %s back", change.key, change.target, exc_info=True)
            return None, None

    def _verify(self, step: RequestStep, request: ChangeRequest, m365: M365, planned: Change) -> RequestStep | None:
        steps = self.store.requests
        try:
            verified = remediation(step.handler_key).verify(m365, planned)
        except Exception as exc:  # noqa: BLE001 - recorded on the step
            return self._fail(step, request, S.APPLIED, exc, "step.verify_failed")
        if verified:
            steps.transition_step(step.id, S.APPLIED, S.VERIFIED, BOT_ACTOR, "step.verified")
            self._after_onboarding(request)
        else:
            steps.transition_step(step.id, S.APPLIED, S.FAILED, BOT_ACTOR, "step.verify_failed",
                                  error="The change was sent but reading it back shows the old value; "
                                  "Microsoft can take a few minutes to apply it. Retry to check again.")
            self.on_event("failed_change")
        self._changed(request.id)
        return steps.get_step(step.id)

    def _after_onboarding(self, request: ChangeRequest) -> None:
        """When the last step of an OAuth onboarding (`/smtp-oauth`) is verified, tell `on_onboarded` (the XOAUTH2
        probe of a configured target). Its failure never touches the verified step."""
        if not request.options.get("app_id"):
            return
        if any(s.state != S.VERIFIED for s in self.store.requests.get_steps(request.id)):
            return
        try:
            self.on_onboarded(request)
        except Exception:
            log.exception("after onboarding %s", request.id)

    def _claimed_undo(self, step_id: int) -> RequestStep | None:
        """Undo a `reverting` step while holding its claim (recovery may have settled it just before)."""
        with self.claims.hold(step_claim(step_id)) as mine:
            step = self.store.requests.get_step(step_id)
            if not mine or step is None or step.state != S.REVERTING:
                return None
            return self._run_undo(step)

    def _claimed_bulk(self, step_id: int) -> RequestStep | None:
        """Go on with a bulk step recovery returned, holding its claim (another sweep may have resumed it)."""
        with self.claims.hold(step_claim(step_id)) as mine:
            step = self.store.requests.get_step(step_id)
            request = self.store.requests.get(step.request_id) if mine and step is not None else None
            if request is None or step is None or step.state != S.APPLYING:
                return None
            return self._execute_bulk(step, request)

    def _run_undo(self, step: RequestStep) -> RequestStep | None:
        request = self.store.requests.get(step.request_id)
        if request is None:
            return None
        if step.handler_key in BULK:
            return self._undo_bulk(step, request.id)
        refusal = undo_refusal(self.store, self._m365, step, request)  # checked again: things change meanwhile
        if refusal:
            self.store.requests.transition_step(step.id, S.REVERTING, S.VERIFIED, BOT_ACTOR, "undo.failed",
                                                error=refusal)
            self._changed(request.id)
            return self.store.requests.get_step(step.id)
        handler = remediation(step.handler_key)
        undo = Change(step.handler_key, request.upn, step.after, handler.normalise(step.before))
        try:
            m365 = self._m365()
            undo = handler.revert(m365, Change(step.handler_key, request.upn, step.before, step.after))
            verified = handler.verify(m365, undo)
        except Exception as exc:  # noqa: BLE001 - read back, then recorded on the step
            _, landed = self._landed(undo)
            if not landed:
                return self._fail(step, request, S.REVERTING, exc, "undo.failed", READ_BACK[landed],
                                  back_to=S.VERIFIED)
            verified = True
        if not verified:
            self.store.requests.transition_step(
                step.id, S.REVERTING, S.VERIFIED, BOT_ACTOR, "undo.failed",
                error="Undo was sent but the old value did not come back; try Undo again.")
        else:
            self.store.requests.audit(BOT_ACTOR, "undo.applied", request_id=request.id, step_id=step.id,
                                      target=request.upn, before=undo.before, after=undo.after,
                                      detail={"handler_key": step.handler_key})
            self.store.requests.transition_step(step.id, S.REVERTING, S.REVERTED, BOT_ACTOR, "undo.verified",
                                                error=None)
        self._changed(request.id)
        return self.store.requests.get_step(step.id)

    def _fail(self, step: RequestStep, request: ChangeRequest, state: StepState, exc: Exception, action: str,
              then: str = "", back_to: StepState = S.FAILED) -> RequestStep | None:
        if not isinstance(exc, BotError):
            log.error("step %s (%s) failed unexpectedly", step.id, step.handler_key, exc_info=exc)
        message = f"{_text(exc)}\n{then}" if then else _text(exc)
        self.store.requests.transition_step(step.id, state, back_to, BOT_ACTOR, action, error=message)
        self.on_event("failed_change")
        self._changed(request.id)
        return self.store.requests.get_step(step.id)

    def recover(self) -> list[int]:
        """Settle what a crash left behind; returns approved steps that still need running (those whose
        approver's process no longer holds their claim).

        Only a step whose claim ran out is touched (the process running it died, or lost the database): a
        step a live replica is applying or undoing is left to it. A step left `applying` or `applied` is
        read back: if the new value is there it is verified, otherwise it is failed with what the read
        showed (Retry goes through the gate again). A step left `reverting` is settled the same way against
        its old value. A step that cannot be read (or whose recovery fails unexpectedly: logged) stays as it is
        and is tried again at the next sweep; the other steps are still settled. A bulk step's mailboxes in
        flight are read back one by one and the step is returned to go on with the rest (its approval covered
        them all).
        """
        steps = self.store.requests
        resumed: list[int] = []
        for found in [s for state in SETTLED_STATES for s in steps.steps_in_state(state)]:
            with log_context(step_id=found.id, request_id=found.request_id):
                try:
                    if self._recover_one(found):
                        resumed.append(found.id)
                except Exception:
                    log.exception("recovery of step %s failed; it stays %s until the next sweep", found.id,
                                  found.state)
        approved = [s.id for s in steps.steps_in_state(S.APPROVED) if self.claims.leases.holder(step_claim(s.id)) is None]
        return approved + resumed

    def _recover_one(self, found: RequestStep) -> bool:
        """Settle one step a crash left, if its claim ran out; whether it is a bulk step to go on with."""
        steps = self.store.requests
        with self.claims.take_over(step_claim(found.id)) as mine:
            step = steps.get_step(found.id) if mine else None
            request = steps.get(found.request_id) if step is not None else None
            if step is None or request is None or step.state not in SETTLED_STATES:
                return False
            if step.handler_key in BULK:
                return self._recover_bulk(step, request.id)
            if self._recover_step(step, request):
                self._changed(request.id)
            return False

    def _recover_step(self, step: RequestStep, request: ChangeRequest) -> bool:
        wanted = step.before if step.state == S.REVERTING else (step.proposed or {}).get("proposed")
        try:
            m365 = self._m365()
            done = remediation(step.handler_key).verify(m365, Change(step.handler_key, request.upn, None, wanted))
        except BotError as exc:
            log.warning("recovery could not read step %s back (%s); it stays %s", step.id, exc.message, step.state)
            return False
        self._settle(step, done, wanted)
        return True

    def _settle(self, step: RequestStep, done: bool, wanted: object) -> None:
        new, error = SETTLED[step.state, done]
        action = "undo.recovered" if step.state == S.REVERTING else "step.recovered"
        fields = {"before": (step.proposed or {}).get("current"), "after": wanted} if step.state == S.APPLYING else {}
        self.store.requests.transition_step(step.id, step.state, new, BOT_ACTOR, action, error=error, **fields)

    def _changed(self, request_id: str) -> None:
        try:
            self.on_change(request_id)
        except Exception:
            log.exception("on_change failed for %s", request_id)


def _unanswered(exc: Exception) -> bool:
    """A write that got no answer at all (timeout, dropped connection), rather than an error answer."""
    return isinstance(exc, UpstreamError) and exc.status is None


def _text(exc: Exception) -> str:
    """What a step's card says about a failure: a BotError's own words; anything else is in the log."""
    return exc.describe() if isinstance(exc, BotError) else "Unexpected error; the details are in the bot's log."
