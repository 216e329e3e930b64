"""What Slack and the console read about change requests: plain views, never store rows."""

from __future__ import annotations

from bot.errors import InvalidInput
from bot.store import Store
from bot.workflow.gate import GatePolicy, GroupMembers
from bot.workflow.grants import onboarded_mailboxes
from bot.workflow.model import ONBOARDING_PROBE, ChangeRequest, RequestState, RequestStep, RequestView
from handlers import BULK


class Queries:
    """Read side of the workflow (a mixin of `Workflow`, which sets these attributes)."""

    store: Store
    policy: GatePolicy
    members: GroupMembers

    def find(self, request_id: str) -> RequestView | None:
        request = self.store.requests.get(request_id)
        return self._view(request) if request else None

    def view(self, request_id: str) -> RequestView:
        found = self.find(request_id)
        if found is None:
            raise InvalidInput(f"No change request {request_id}.")
        return found

    def is_approver(self, user: str) -> bool:
        return self.policy.is_approver(user, self.members)

    def pending_for(self, user: str) -> list[RequestView]:
        """Open requests with a step waiting for a decision that `user` may see: all for approvers, else theirs."""
        approver = self.is_approver(user)
        return [view for view in self.requests_for(None, limit=50)
                if view.awaiting() and (approver or view.request.requester == user)]

    def requests_for(self, upn: str | None, *, open_only: bool = True, limit: int = 20) -> list[RequestView]:
        """Newest first; one mailbox's when `upn` is given, only planned (open) ones unless `open_only` is False."""
        state = RequestState.PLANNED if open_only else None
        return [self._view(r) for r in self.store.requests.list(state=state, upn=upn, limit=limit)]

    def started_in(self, channel: str, thread_ts: str, limit: int = 5) -> list[ChangeRequest]:
        """The requests whose cards are in that thread (plans started from an alert's Fix), newest first."""
        return self.store.requests.list(thread=(channel, thread_ts), limit=limit)

    def onboarded_mailboxes(self) -> dict[str, list[str]]:
        """Mailbox -> app ids the bot's own `/smtp-oauth` onboardings gave access to (verified, not undone)."""
        return onboarded_mailboxes(self.store)

    def recent(self, limit: int = 10) -> list[RequestView]:
        return self.requests_for(None, open_only=False, limit=limit)

    def set_card_message(self, request_id: str, channel: str, ts: str) -> bool:
        """Remember where the plan card was posted, so later redraws `chat.update` it."""
        return self.store.requests.set_message(request_id, channel, ts)

    def _view(self, request: ChangeRequest) -> RequestView:
        steps = tuple(self.store.requests.get_steps(request.id))
        bulk = [s.id for s in steps if s.handler_key in BULK]
        mailboxes = {step_id: tuple(boxes) for step_id, boxes in self.store.bulk.for_steps(bulk).items()}
        probe = None
        if request.options.get("app_id"):  # an onboarding: the XOAUTH2 probe the bot ran after its last step
            rows = [r for r in self.store.requests.audit_rows(request_id=request.id) if r.action == ONBOARDING_PROBE]
            probe = {**rows[-1].detail, "at": rows[-1].at} if rows else None
        return RequestView(request, steps, probe=probe, mailboxes=mailboxes)

    def _load(self, step_id: int) -> tuple[RequestStep, ChangeRequest] | None:
        """A step and its request, or None when either is gone."""
        step = self.store.requests.get_step(step_id)
        request = self.store.requests.get(step.request_id) if step else None
        return (step, request) if step and request else None
