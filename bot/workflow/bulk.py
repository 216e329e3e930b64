"""The least-privilege clean-up: one bulk step that turns SMTP AUTH off for mailboxes that do not use it.

The readiness report (or `python -m bot cleanup`) hands `open_cleanup` its candidates: each mailbox with its
prior value (False: on for the mailbox, None: inherits an organisation that has it on) and the evidence (unused
for N days). The request holds one step of kind `bulk` (a wide change: the gate asks for as many approvers as
wide changes need) and, when the caller says no mailbox that inherits uses SMTP AUTH, the organisation switch
off. Every mailbox and its prior value is stored with the step when it is planned, before anything is written;
each one then moves on its own (`MailboxState`), so a crash, a Retry or an Undo touches only what is left.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import BotError, InvalidInput, M365Error, NotAllowed
from bot.m365.tenant import M365
from bot.store import Store
from bot.workflow.gate import GatePolicy, GroupMembers
from bot.workflow.grants import onboarded_mailboxes
from bot.workflow.model import (
    BOT_ACTOR,
    CLEANUP_KIND,
    MAILBOX_TODO,
    BulkMailbox,
    MailboxState,
    Outcome,
    OutcomeKind,
    RequestState,
    RequestStep,
    RequestView,
    StepState,
)
from handlers import BULK, CLEANUP
from handlers.base import fresh_facts
from handlers.bulk_smtp_auth_off import BulkSmtpAuthOff, OrgSmtpAuthOff
from handlers.facts import normalize_upn

log = logging.getLogger(__name__)
S, M, K = StepState, MailboxState, OutcomeKind
BULK_KEY = BulkSmtpAuthOff.key
ORG_OFF_KEY = OrgSmtpAuthOff.key
#: Which mailboxes were used since a moment (the sign-in logs); the readiness report provides it.
UsedSince = Callable[[M365, list[str], datetime], set[str]]
#: Words a report may use for a prior value, besides Exchange's own tri-state.
PRIOR_WORDS: dict[str, bool | None] = {"inherits": None, "inherit": None, "enabled": False, "on": False}
SHOWN_FAILURES = 10
STOPPED = "Not settled: the bot stopped or lost Exchange before this mailbox was done (or read back)."


@dataclass(frozen=True)
class Candidate:
    """A mailbox whose SMTP AUTH is effectively on and was not used in the period, with its own switch's value."""

    upn: str
    prior: bool | None  # False: on for this mailbox; None: inherits the organisation's (which is on)
    last_used: datetime | None = None

    @classmethod
    def of(cls, item: Candidate | tuple[str, Any]) -> Candidate:
        """A candidate from itself or a report's `(upn, prior)` pair, prior as a value or a word ("inherits")."""
        if isinstance(item, Candidate):
            upn, prior, last = item.upn, item.prior, item.last_used
        else:
            upn, prior, last = item[0], item[1], None
        if isinstance(prior, str):
            if prior.lower() not in PRIOR_WORDS:
                raise InvalidInput(f"{upn}: unknown prior value {prior!r}; expected enabled or inherits.")
            prior = PRIOR_WORDS[prior.lower()]
        if prior is not None and prior is not False:
            raise InvalidInput(f"{upn}: SMTP AUTH is already off for this mailbox; it is not a clean-up candidate.")
        return cls(normalize_upn(upn), prior, last)


def progress(mailboxes: Iterable[BulkMailbox]) -> Counter[MailboxState]:
    return Counter(m.state for m in mailboxes)


def outcome_text(mailboxes: list[BulkMailbox], *, undo: bool = False) -> str:
    """"47 of 50 turned off; 3 failed: x (why), y (why), z (why)" (and the skipped ones), or the undo's words."""
    counts = progress(mailboxes)
    if undo:
        stuck = [m for m in mailboxes if m.state in (M.OFF, M.RESTORING)]
        parts = [f"{counts[M.RESTORED]} of {counts[M.RESTORED] + len(stuck)} restored to their own prior value"]
        verb = "not restored"
    else:
        stuck = [m for m in mailboxes if m.state in (M.FAILED, M.WRITING, M.PENDING)]
        parts = [f"{counts[M.OFF] + counts[M.RESTORED]} of {len(mailboxes)} turned off"]
        verb = "could not be turned off"
    if stuck:
        listed = ", ".join(f"{m.upn} ({m.error or 'not settled'})" for m in stuck[:SHOWN_FAILURES])
        more = f" and {len(stuck) - SHOWN_FAILURES} more" if len(stuck) > SHOWN_FAILURES else ""
        parts.append(f"{len(stuck)} {verb}: {listed}{more}")
    if not undo and counts[M.SKIPPED]:
        parts.append(f"{counts[M.SKIPPED]} skipped (changed or used since the report; left as they are)")
    if not undo and counts[M.RETRIED]:
        parts.append(f"{counts[M.RETRIED]} failed and handed to a retry step")
    return "; ".join(parts)


class BulkWork:
    """The clean-up's requests and its bulk step's execution (a mixin of `Workflow`, which sets these)."""

    store: Store
    policy: GatePolicy
    members: GroupMembers
    _m365: Callable[[], M365]
    on_event: Callable[[str], None]
    bulk_batch: int
    bulk_concurrency: int
    used_since: UsedSince | None
    _changed: Callable[[str], None]
    view: Callable[[str], RequestView]
    _load_for: Callable[[int, str, str], tuple[RequestStep, Any] | Outcome]

    # Opening ------------------------------------------------------------------------------------------
    def open_cleanup(self, candidates: Iterable[Candidate | tuple[str, Any]], days: int, requester: str,
                     channel: str, *, org_unused: bool = False, thread_ts: str | None = None) -> RequestView:
        """A request to turn SMTP AUTH off for `candidates` (unused for `days` days), planned at once.

        `org_unused`: the caller saw no mailbox that inherits the organisation's setting use SMTP AUTH; the
        organisation switch off is then proposed too, if it is on. `thread_ts`: its card goes in that thread of
        `channel` (the readiness report's). Bad input changes nothing.
        """
        refusal = self.policy.may_request(requester, self.members)
        if refusal:
            raise NotAllowed(refusal.reason)
        if not isinstance(days, int) or days < 1:
            raise InvalidInput("The period must be a whole number of days, at least 1.")
        chosen: dict[str, Candidate] = {}
        for item in candidates:
            candidate = Candidate.of(item)
            chosen.setdefault(candidate.upn, candidate)
        if not chosen and not org_unused:
            raise InvalidInput("No mailboxes to clean up: every mailbox with SMTP AUTH on used it in the period.")
        m365 = self._m365()
        steps = [self._bulk_step(list(chosen.values()), days)] if chosen else []
        org = self._org_step(m365) if org_unused else None
        if org is not None:
            steps.append(org)
        if not steps:
            raise InvalidInput("Nothing to clean up: no candidates, and SMTP AUTH is already off for the "
                               "organisation.")
        label = f"{len(chosen)} mailbox{'es' if len(chosen) != 1 else ''} unused for {days} days"
        options = {"kind": CLEANUP_KIND, "days": days, "org_unused": org_unused}
        request_id = self.store.requests.receive(label, requester, channel, self.policy.ttl, options, thread_ts)
        inherits = sum(1 for c in chosen.values() if c.prior is None)
        plan = {"upn": label, "cleanup": {"days": days, "count": len(chosen), "inherits": inherits,
                                          "org_unused": org_unused}, "advisories": [], "ok": []}
        self.store.requests.plan(request_id, m365.tenant_id, self.policy.ttl, steps, {"plan": plan})
        self.on_event("request")
        self._changed(request_id)
        return self.view(request_id)

    def read_candidates(self, upns: Iterable[str]) -> list[Candidate]:
        """Candidates without the readiness report (the console and `python -m bot cleanup`): each mailbox's own
        switch read now, in bulk. Refuses, naming them, mailboxes whose SMTP AUTH is already off (their own switch,
        or inherited from an organisation that has it off) or that cannot be read. Says nothing of use: the
        caller vouches that they are unused."""
        wanted = list(dict.fromkeys(normalize_upn(u) for u in upns))
        if not wanted:
            raise InvalidInput("Name at least one mailbox.")
        m365 = self._m365()
        org = CLEANUP[ORG_OFF_KEY].read(fresh_facts(m365), "")
        reads = BULK[BULK_KEY].read_many(m365, wanted)
        problems = []
        for upn in wanted:
            value = reads[upn]
            if isinstance(value, Exception):
                problems.append(f"{upn}: {_text(value)}")
            elif value is True or (value is None and org):
                problems.append(f"{upn}: SMTP AUTH is already off for it")
        if problems:
            raise InvalidInput("Not clean-up candidates: " + "; ".join(problems) + ".")
        return [Candidate(upn, reads[upn]) for upn in wanted]  # type: ignore[arg-type]

    def _bulk_step(self, chosen: list[Candidate], days: int) -> dict[str, Any]:
        handler = BULK[BULK_KEY]
        inherits = sum(1 for c in chosen if c.prior is None)
        current = f"on for {len(chosen)} mailboxes"
        if inherits:
            current += f" ({inherits} inherit the organisation's setting)"
        return {"handler_key": handler.key, "title": handler.title, "mailboxes": [(c.upn, c.prior) for c in chosen],
                "proposed": {"current": None, "proposed": handler.target_value, "current_text": current,
                             "proposed_text": "off for each of them (its own switch)", "impact": handler.impact,
                             "reason": f"SMTP AUTH is on for these mailboxes, and the sign-in logs show no use of it "
                                       f"in the last {days} days.", "scope": handler.scope, "docs": handler.docs,
                             "count": len(chosen), "days": days, "reduces_exposure": True,
                             "approvals_needed": self.policy.approvals_needed(handler.key, handler.scope)}}

    def _org_step(self, m365: M365) -> dict[str, Any] | None:
        handler = CLEANUP[ORG_OFF_KEY]
        try:
            current = handler.read(fresh_facts(m365), "")
        except M365Error as exc:
            log.warning("could not read the organisation's SMTP AUTH switch: %s; not proposing it", exc)
            return None
        if current:
            return None
        return {"handler_key": handler.key, "title": handler.title, "proposed": {
            "current": current, "proposed": handler.target_value, "current_text": handler.display(current),
            "proposed_text": handler.display(handler.target_value), "impact": handler.impact,
            "reason": "No mailbox that inherits the organisation's setting used SMTP AUTH in the period.",
            "scope": handler.scope, "docs": handler.docs, "reduces_exposure": True,
            "approvals_needed": self.policy.approvals_needed(handler.key, handler.scope)}}

    def retry_failed(self, step_id: int, actor: str) -> Outcome:
        """A new pending bulk step for the mailboxes of `step_id` that failed; it goes through the gate again.

        For a step that turned some mailboxes off (verified, undoable as it is); a step that changed nothing
        failed as a whole and is retried with `retry`.
        """
        found = self._load_for(step_id, actor, "retry")
        if isinstance(found, Outcome):
            return found
        step, request = found
        failed = [m for m in self.store.bulk.mailboxes(step.id) if m.state == M.FAILED]
        if step.handler_key not in BULK or step.state != S.VERIFIED or not failed:
            return Outcome(K.ALREADY, "Nothing to retry: no mailbox of this step failed.", step)

        def retry_step(claimed: list[BulkMailbox]) -> dict[str, Any]:
            proposed = dict(step.proposed or {}) | {
                "count": len(claimed), "retry_of": step.id,
                "current_text": f"on for {len(claimed)} mailboxes that failed in step {step.position + 1}"}
            return {"handler_key": step.handler_key, "title": f"{step.title} (retry of {len(claimed)} failed)",
                    "proposed": proposed, "mailboxes": claimed}

        # The mailboxes are claimed (failed -> retried) in the transaction that adds the step, and the step holds
        # only those: of two clicks at once, one adds the step and the other claims none.
        new = self.store.requests.add_retry_step(request.id, step.id, [m.upn for m in failed], retry_step, actor,
                                                 "step.retry_failed", self.policy.ttl)
        if new is None:
            current = self.store.requests.get(request.id)
            if current is None or current.state != RequestState.PLANNED:
                return Outcome(K.ALREADY, "This request is closed; run the clean-up again.", step)
            return Outcome(K.ALREADY, "Already retried: its failed mailboxes were handed to a retry step.", step)
        self._changed(request.id)
        retry = self.store.requests.get_step(new)
        count = (retry.proposed or {}).get("count", len(failed)) if retry else len(failed)
        return Outcome(K.RETRY, f"Retry of the {count} failed mailboxes requested; it needs approval again.", retry)

    # Applying -----------------------------------------------------------------------------------------
    def _execute_bulk(self, step: RequestStep, request: Any) -> RequestStep | None:
        """Turn SMTP AUTH off for each mailbox still to do, batch by batch, then settle the step."""
        try:
            m365 = self._m365()
            self._bulk_pass(step, request.id, m365)
        except Exception as exc:  # noqa: BLE001 - what was in flight is read back; the card lists the rest
            _log_stop(step, exc)
            self._read_back_in_flight(step, M.WRITING, M.OFF, M.PENDING)
        return self._settle_bulk(step, request.id)

    def _bulk_pass(self, step: RequestStep, request_id: str, m365: M365) -> None:
        todo = [m for m in self.store.bulk.mailboxes(step.id) if m.state in MAILBOX_TODO]
        for start in range(0, len(todo), self.bulk_batch):
            self._bulk_batch(step, request_id, m365, todo[start:start + self.bulk_batch])
            self._changed(request_id)

    def _bulk_batch(self, step: RequestStep, request_id: str, m365: M365, batch: list[BulkMailbox]) -> None:
        handler, bulk = BULK[step.handler_key], self.store.bulk
        reads = handler.read_many(m365, [m.upn for m in batch])
        used = self._used(m365, [m.upn for m in batch], request_id)
        onboarded = onboarded_mailboxes(self.store)  # given to an app by the bot since the report: it sends with it
        skip: dict[str, str | None] = {}
        unreadable: dict[str, str | None] = {}
        landed: dict[str, str | None] = {}
        write: list[str] = []
        for m in batch:
            now = reads[m.upn]
            if isinstance(now, Exception):
                unreadable[m.upn] = f"Could not read it, so nothing was written: {_text(now)}"
            elif now == handler.target_value and m.write_sent:  # never the bot's change where it sent nothing
                landed[m.upn] = "An earlier attempt's change was there when read back."
            elif now != m.prior:
                skip[m.upn] = (f"Changed since the report: it was {handler.display(m.prior)}, it is now "
                               f"{handler.display(now)}; left as it is.")
            elif m.upn in used:
                skip[m.upn] = "Used SMTP AUTH since the report; left on."
            elif m.upn.lower() in onboarded:
                skip[m.upn] = ("Onboarded to OAuth by the bot since the report (the app sends with SMTP AUTH); "
                               "left on.")
            else:
                write.append(m.upn)
        bulk.move(step.id, skip, MAILBOX_TODO, M.SKIPPED)
        bulk.move(step.id, unreadable, MAILBOX_TODO, M.FAILED)
        bulk.move(step.id, landed, MAILBOX_TODO, M.OFF)
        # The in-flight mark is stored before anything is sent: recovery reads these back after a crash.
        claimed = bulk.move(step.id, dict.fromkeys(write), MAILBOX_TODO, M.WRITING)
        if claimed:
            self._write_and_check(step, handler, m365, {upn: handler.target_value for upn in claimed},
                                  M.WRITING, M.OFF, M.FAILED)

    def _write_and_check(self, step: RequestStep, handler: BulkSmtpAuthOff, m365: M365,
                         values: dict[str, bool | None], marked: MailboxState, done: MailboxState,
                         undone: MailboxState) -> None:
        """Write `values`, read every one back (in bulk) and settle each mailbox as `done` or `undone`."""
        errors = handler.write_many(m365, values, concurrency=self.bulk_concurrency)
        after = handler.read_many(m365, list(values))
        ok: dict[str, str | None] = {}
        bad: dict[str, str | None] = {}
        for upn, wanted in values.items():
            value, error = after[upn], errors[upn]
            if not isinstance(value, Exception) and value == wanted:
                ok[upn] = f"Made although Microsoft answered: {_text(error)}" if error else None
            elif error is not None:
                seen = ("the bot could not read it back, so it cannot tell whether the change was made"
                        if isinstance(value, Exception) else "reading it back shows nothing changed")
                bad[upn] = f"{_text(error)} ({seen})"
            elif isinstance(value, Exception):
                bad[upn] = f"Sent, but it could not be read back: {_text(value)}"
            else:
                bad[upn] = (f"Sent, but reading it back shows {handler.display(value)} (Microsoft can take a few "
                            "minutes)")
        self.store.bulk.move(step.id, ok, {marked}, done)
        self.store.bulk.move(step.id, bad, {marked}, undone)

    def _used(self, m365: M365, upns: list[str], request_id: str) -> set[str]:
        if self.used_since is None:
            return set()
        request = self.store.requests.get(request_id)
        try:
            return self.used_since(m365, upns, request.created_at) if request else set()
        except BotError as exc:
            log.warning("could not check recent SMTP AUTH use (%s); going by the report", exc)
            return set()

    def _settle_bulk(self, step: RequestStep, request_id: str) -> RequestStep | None:
        """Settle an applying bulk step from its mailboxes: verified if any was turned off, else failed."""
        requests = self.store.requests
        mailboxes = self.store.bulk.mailboxes(step.id)
        left = {m.upn: STOPPED for m in mailboxes if m.state in (M.PENDING, M.WRITING)}
        if left:  # failed, so that Retry (or Retry failed) picks them up; a write that did land is seen then
            self.store.bulk.move(step.id, left, {M.PENDING, M.WRITING}, M.FAILED)
            mailboxes = self.store.bulk.mailboxes(step.id)
        counts = progress(mailboxes)
        before = {m.upn: m.prior for m in mailboxes}
        stuck = counts[M.FAILED] + counts[M.WRITING] + counts[M.PENDING]
        after = {"turned_off": counts[M.OFF], "not_turned_off": stuck, "left_alone": counts[M.SKIPPED]}
        text = outcome_text(mailboxes)
        if not counts[M.OFF] and stuck:
            requests.transition_step(step.id, S.APPLYING, S.FAILED, BOT_ACTOR, "step.failed", before=before,
                                     after=after, error=text)
            self.on_event("failed_change")
        else:
            partial = stuck or counts[M.SKIPPED]
            requests.transition_step(step.id, S.APPLYING, S.APPLIED, BOT_ACTOR, "step.applied", before=before,
                                     after=after, error=text if partial else None)
            requests.transition_step(step.id, S.APPLIED, S.VERIFIED, BOT_ACTOR, "step.verified",
                                     error=text if partial else None)
            if stuck:
                self.on_event("failed_change")
        self._changed(request_id)
        return requests.get_step(step.id)

    # Undoing ------------------------------------------------------------------------------------------
    def _undo_bulk(self, step: RequestStep, request_id: str) -> RequestStep | None:
        """Put each turned-off mailbox's own prior value back (inherits included); reverted when all are back."""
        handler, requests = BULK[step.handler_key], self.store.requests
        try:
            m365 = self._m365()
            todo = [m for m in self.store.bulk.mailboxes(step.id) if m.state == M.OFF]
            for start in range(0, len(todo), self.bulk_batch):
                batch = todo[start:start + self.bulk_batch]
                claimed = set(self.store.bulk.move(step.id, {m.upn: None for m in batch}, {M.OFF}, M.RESTORING))
                values = {m.upn: m.prior for m in batch if m.upn in claimed}
                if values:
                    self._write_and_check(step, handler, m365, values, M.RESTORING, M.RESTORED, M.OFF)
                self._changed(request_id)
        except Exception as exc:  # noqa: BLE001 - what was in flight is read back; the card lists the rest
            _log_stop(step, exc)
            self._read_back_in_flight(step, M.RESTORING, M.RESTORED, M.OFF)
        mailboxes = self.store.bulk.mailboxes(step.id)
        if any(m.state == M.RESTORING for m in mailboxes):  # unreadable: Undo again writes its prior value anew
            self.store.bulk.move(step.id, {m.upn: STOPPED for m in mailboxes if m.state == M.RESTORING},
                                 {M.RESTORING}, M.OFF)
            mailboxes = self.store.bulk.mailboxes(step.id)
        counts = progress(mailboxes)
        if counts[M.OFF] or counts[M.RESTORING]:
            requests.transition_step(step.id, S.REVERTING, S.VERIFIED, BOT_ACTOR, "undo.failed",
                                     error=outcome_text(mailboxes, undo=True) + "; click Undo again for the rest")
        else:
            requests.audit(BOT_ACTOR, "undo.applied", request_id=request_id, step_id=step.id,
                           target=f"{counts[M.RESTORED]} mailboxes", detail={"handler_key": step.handler_key,
                                                                             "restored": counts[M.RESTORED]})
            requests.transition_step(step.id, S.REVERTING, S.REVERTED, BOT_ACTOR, "undo.verified",
                                     error=outcome_text(mailboxes, undo=True))
        self._changed(request_id)
        return requests.get_step(step.id)

    # Recovery -----------------------------------------------------------------------------------------
    def _read_back_in_flight(self, step: RequestStep, marked: MailboxState, done: MailboxState,
                             undone: MailboxState) -> bool:
        """Settle each mailbox left `marked` (a write in flight) by reading it: the value written there → `done`,
        else `undone` (to do again; never written twice). False when some could not be read (they stay)."""
        handler, bulk = BULK[step.handler_key], self.store.bulk
        flying = [m for m in bulk.mailboxes(step.id) if m.state == marked]
        if not flying:
            return True
        try:
            reads = handler.read_many(self._m365(), [m.upn for m in flying])
        except Exception as exc:  # noqa: BLE001 - they stay in flight, read again at the next start
            _log_stop(step, exc)
            return False
        wanted = {m.upn: handler.target_value if marked == M.WRITING else m.prior for m in flying}
        readable = {u: v for u, v in reads.items() if not isinstance(v, Exception)}
        bulk.move(step.id, {u: None for u, v in readable.items() if v == wanted[u]}, {marked}, done)
        bulk.move(step.id, {u: None for u, v in readable.items() if v != wanted[u]}, {marked}, undone)
        return len(readable) == len(flying)

    def _recover_bulk(self, step: RequestStep, request_id: str) -> bool:
        """Settle each mailbox a crash left in flight by reading it back; True when the step should go on.

        Written and there: off (or restored). Not there: back to be done (never written twice). Unreadable: left
        in flight, and the step waits for the next start.
        """
        if step.state == S.APPLIED:  # every mailbox was settled before the crash
            self.store.requests.transition_step(step.id, S.APPLIED, S.VERIFIED, BOT_ACTOR, "step.recovered")
            return False
        flight = ((M.WRITING, M.OFF, M.PENDING) if step.state == S.APPLYING else (M.RESTORING, M.RESTORED, M.OFF))
        if not self._read_back_in_flight(step, *flight):
            log.warning("recovery could not read every mailbox of bulk step %s back; it stays %s", step.id,
                        step.state)
            return False
        self._changed(request_id)
        return True


def _log_stop(step: RequestStep, exc: Exception) -> None:
    if isinstance(exc, BotError):
        log.warning("bulk step %s stopped: %s", step.id, exc.message)
    else:
        log.error("bulk step %s stopped unexpectedly", step.id, exc_info=exc)


def _text(exc: Exception | None) -> str:
    if exc is None:
        return ""
    return exc.describe() if isinstance(exc, BotError) else "Unexpected error; the details are in the bot's log."
