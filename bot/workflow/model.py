"""The workflow's vocabulary: request and step states, outcome kinds, the one transition table, plain views."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.errors import IllegalTransition

#: Who the audit log names when the bot itself moves a step (execution, expiry, recovery).
BOT_ACTOR = "smtp-auth-bot"
#: The audit action of an approver choosing to go on although a blocker the bot cannot change remains.
APPLY_ANYWAY = "request.apply_anyway"
#: `ChangeRequest.options["kind"]` of a least-privilege clean-up (one bulk step, maybe the org switch off).
CLEANUP_KIND = "cleanup"
#: The longest period `/smtp-readiness --days N` takes (`bot.readiness.model.MAX_DAYS`, kept out of this cheap
#: import): Entra keeps sign-in logs 30 days.
READINESS_MAX_DAYS = 30
#: How cards and reports name each auth mode (`bot.workflow.AUTH_MODES`): how the device signs in.
AUTH_MODE_WORDS = {"basic": "password (Basic)", "oauth": "OAuth (XOAUTH2)"}


class RequestState(enum.StrEnum):
    DIAGNOSING = "diagnosing"
    PLANNED = "planned"
    CLOSED = "closed"


class StepState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    VERIFIED = "verified"
    DENIED = "denied"
    EXPIRED = "expired"
    FAILED = "failed"
    REVERT_PENDING = "revert_pending"
    REVERTING = "reverting"
    REVERTED = "reverted"


class OutcomeKind(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    REFUSED = "refused"
    ALREADY = "already"
    EXPIRED = "expired"
    UNDO_REQUESTED = "undo_requested"
    UNDO_APPROVED = "undo_approved"
    UNDO_DENIED = "undo_denied"
    RETRY = "retry"
    NOT_FOUND = "not_found"
    APPLY_ANYWAY = "apply_anyway"
    APPROVAL_RECORDED = "approval_recorded"  # one of several approvals a wide change needs
    UNAVAILABLE = "unavailable"


class MailboxState(enum.StrEnum):
    """Where one mailbox of a bulk step is. `writing`/`restoring` mark a write in flight: recovery reads it back."""

    PENDING = "pending"
    SKIPPED = "skipped"  # changed (or used) since the report: never overwritten
    WRITING = "writing"
    OFF = "off"  # written and read back
    FAILED = "failed"
    RESTORING = "restoring"
    RESTORED = "restored"  # its prior value is back, read back
    RETRIED = "retried"  # failed here and handed to a retry step of the same request


#: Mailboxes a bulk step still has to write (Retry redoes the failed ones, never the others).
MAILBOX_TODO = frozenset({MailboxState.PENDING, MailboxState.FAILED})

S = StepState

#: (from, to) -> the audit actions that may cause it. The store refuses any other step transition.
STEP_TRANSITIONS: Mapping[tuple[StepState, StepState], frozenset[str]] = {
    (S.PENDING, S.APPROVED): frozenset({"step.approved"}),
    (S.PENDING, S.DENIED): frozenset({"step.denied"}),
    (S.PENDING, S.EXPIRED): frozenset({"step.expired"}),
    (S.APPROVED, S.APPLYING): frozenset({"step.applying"}),
    (S.APPLYING, S.APPLIED): frozenset({"step.applied", "step.applied_after_error"}),
    (S.APPLYING, S.FAILED): frozenset({"step.failed", "step.recovered"}),
    (S.APPLYING, S.VERIFIED): frozenset({"step.recovered"}),
    (S.APPLIED, S.VERIFIED): frozenset({"step.verified", "step.recovered"}),
    (S.APPLIED, S.FAILED): frozenset({"step.verify_failed", "step.recovered"}),
    (S.FAILED, S.PENDING): frozenset({"step.retry"}),
    (S.VERIFIED, S.REVERT_PENDING): frozenset({"undo.requested"}),
    (S.REVERT_PENDING, S.REVERTING): frozenset({"undo.approved"}),
    (S.REVERT_PENDING, S.VERIFIED): frozenset({"undo.denied", "undo.expired"}),
    (S.REVERTING, S.REVERTED): frozenset({"undo.verified", "undo.recovered"}),
    (S.REVERTING, S.VERIFIED): frozenset({"undo.failed", "undo.recovered"}),
}

#: The same for requests.
REQUEST_TRANSITIONS: Mapping[tuple[RequestState, RequestState], frozenset[str]] = {
    (RequestState.DIAGNOSING, RequestState.PLANNED): frozenset({"request.planned"}),
    (RequestState.DIAGNOSING, RequestState.CLOSED): frozenset({"request.diagnosis_failed", "request.undeliverable"}),
    (RequestState.PLANNED, RequestState.CLOSED): frozenset({"request.nothing_to_change", "request.unreadable"}),
}

class NoticeKind(enum.StrEnum):
    """What the requester is told in the card's thread about one of their steps."""

    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    APPLIED = "applied"
    FAILED = "failed"
    UNDONE = "undone"
    UNDO_DENIED = "undo_denied"
    UNDO_EXPIRED = "undo_expired"
    UNDO_FAILED = "undo_failed"
    APPROVAL_RECORDED = "approval_recorded"  # one approval of several a wide change needs ("1 of 2")
    UNDO_APPROVAL_RECORDED = "undo_approval_recorded"


N = NoticeKind
#: The outbox kind of a notice; the store queues one in the transaction of the step transition that causes it.
NOTICE_KIND = "notice"
#: (new state, audit action) -> the notice that step transition sends the requester (one per transition).
#: Intermediate states (`applying`, unverified `applied`, `reverting`) are not told: their outcome is.
NOTICES: Mapping[tuple[StepState, str], NoticeKind] = {
    (S.APPROVED, "step.approved"): N.APPROVED,
    (S.DENIED, "step.denied"): N.DENIED,
    (S.EXPIRED, "step.expired"): N.EXPIRED,
    (S.VERIFIED, "step.verified"): N.APPLIED,
    (S.VERIFIED, "step.recovered"): N.APPLIED,
    (S.FAILED, "step.failed"): N.FAILED,
    (S.FAILED, "step.verify_failed"): N.FAILED,
    (S.FAILED, "step.recovered"): N.FAILED,
    (S.REVERTED, "undo.verified"): N.UNDONE,
    (S.REVERTED, "undo.recovered"): N.UNDONE,
    (S.VERIFIED, "undo.denied"): N.UNDO_DENIED,
    (S.VERIFIED, "undo.expired"): N.UNDO_EXPIRED,
    (S.VERIFIED, "undo.failed"): N.UNDO_FAILED,
    (S.VERIFIED, "undo.recovered"): N.UNDO_FAILED,
    # Not transitions: one approval recorded of the several a wide change needs (the step stays waiting).
    (S.PENDING, "step.approval_recorded"): N.APPROVAL_RECORDED,
    (S.REVERT_PENDING, "undo.approval_recorded"): N.UNDO_APPROVAL_RECORDED,
}

#: Steps that never move again.
TERMINAL = frozenset({S.DENIED, S.EXPIRED, S.REVERTED})
#: Steps waiting for an approver's decision (a change or an undo).
AWAITING_DECISION = frozenset({S.PENDING, S.REVERT_PENDING})
#: Steps whose `decided_by` is the approver of the change itself.
DECIDED = frozenset({S.APPROVED, S.DENIED, S.APPLYING, S.APPLIED, S.VERIFIED})


def check_step_transition(expected: StepState, new: StepState, action: str) -> None:
    """Raise IllegalTransition unless the table lets `action` move a step from `expected` to `new`."""
    if action not in STEP_TRANSITIONS.get((expected, new), frozenset()):
        raise IllegalTransition("step", expected, new, action)


def check_request_transition(expected: RequestState, new: RequestState, action: str) -> None:
    """Raise IllegalTransition unless the table lets `action` move a request from `expected` to `new`."""
    if action not in REQUEST_TRANSITIONS.get((expected, new), frozenset()):
        raise IllegalTransition("request", expected, new, action)


def command_for(request: ChangeRequest, code: Callable[[str], str] = str) -> str:
    """What opens this request anew, to follow "Run" and precede "again", its command passed through `code` (a
    card wraps it in backticks): `/smtp-oauth UPN --app ID` for an onboarding (`options["app_id"]`), the
    readiness report and its *Close unused* button for a clean-up (`options["kind"]`: its `upn` is a label such as
    "7 mailboxes unused for 30 days", and Close unused reads the tenant again and proposes what is unused now, as
    the clean-up did), else `/smtp-enable UPN`."""
    if request.options.get("kind") == CLEANUP_KIND:
        days = request.options.get("days")
        period = f" --days {days}" if isinstance(days, int) and 1 <= days <= READINESS_MAX_DAYS else ""
        return f"{code('/smtp-readiness' + period)} and click Close unused on its card"
    app_id = request.options.get("app_id")
    if not app_id:
        return code(f"/smtp-enable {request.upn}")
    full = " --full-access" if request.options.get("route") == "full_access" else ""
    return code(f"/smtp-oauth {request.upn} --app {app_id}{full}")


#: The audit action of the XOAUTH2 probe the bot runs once an OAuth onboarding's last step is verified.
ONBOARDING_PROBE = "oauth.probe"


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    id: str
    upn: str
    tenant_id: str
    requester: str
    channel: str
    message_ts: str | None
    state: RequestState
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    diagnosis: dict[str, Any]
    options: dict[str, Any]
    applied_anyway_by: str | None = None
    applied_anyway_at: datetime | None = None
    thread_ts: str | None = None
    """The thread the card was asked to go in (the alert's, for a Fix on an alert); None: the channel itself."""

    @property
    def thread(self) -> str | None:
        """Where the card's follow-ups go: the thread it lives in, else the card's own thread; None until posted."""
        return self.thread_ts or self.message_ts


@dataclass(frozen=True, slots=True)
class RequestStep:
    """One stored step of a change request: the remediation it runs and where it is in its life."""

    id: int
    request_id: str
    position: int
    handler_key: str
    title: str
    state: StepState
    before: Any
    after: Any
    proposed: Any
    decided_by: str | None
    decided_at: datetime | None
    applied_at: datetime | None
    error: str | None
    attempts: int
    version: int
    updated_at: datetime
    undo_requested_by: str | None = None
    undo_requested_at: datetime | None = None
    approvals: tuple[str, ...] | None = None  # who approved so far, for a change that needs several approvers
    undo_decided_by: str | None = None  # who approved (the last of its approvers) or denied the last undo asked for
    undo_decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BulkMailbox:
    """One mailbox of a bulk step: its value before the change (None: inherits the organisation's) and state.

    `write_sent`: a write turning it off may have reached Exchange (this step's or, for a retry, the failed one's).
    """

    step_id: int
    position: int
    upn: str
    prior: bool | None
    state: MailboxState
    error: str | None
    updated_at: datetime
    write_sent: bool = False


@dataclass(frozen=True, slots=True)
class RequestView:
    """Everything a card shows: the request, its steps in order, the plan's advisories, and who chose to apply
    the steps anyway although a blocker the bot cannot change remains."""

    request: ChangeRequest
    steps: tuple[RequestStep, ...] = ()
    probe: dict[str, Any] | None = None  # an onboarding's XOAUTH2 probe after its last step (`oauth.probe`, `at`)
    mailboxes: Mapping[int, tuple[BulkMailbox, ...]] = field(default_factory=dict)  # by step id, bulk steps only

    @property
    def applied_anyway_by(self) -> str | None:
        return self.request.applied_anyway_by

    @property
    def cleanup(self) -> bool:
        """A least-privilege clean-up (from the readiness report), not a diagnosis of one mailbox."""
        return self.request.options.get("kind") == CLEANUP_KIND

    @property
    def plan(self) -> dict[str, Any]:
        return self.request.diagnosis.get("plan", {})

    @property
    def held(self) -> bool:
        """The steps will not be enough (a blocker remains) and no approver has chosen to apply them anyway."""
        return bool(self.plan.get("blocked")) and self.applied_anyway_by is None

    def blockers(self) -> list[str]:
        """Titles of the findings that block SMTP AUTH and that no step of the bot changes."""
        return [str(f.get("title", "")) for f in self.plan.get("advisories", []) if f.get("status") == "blocked"]

    def awaiting(self) -> bool:
        """True while a step waits for a decision (a change or an undo)."""
        return any(s.state in AWAITING_DECISION for s in self.steps)


@dataclass(frozen=True)
class Outcome:
    """What a click did. `message` is for the person who clicked; `run` says the caller should execute now."""

    kind: OutcomeKind
    message: str
    step: RequestStep | None = None
    run: bool = False
