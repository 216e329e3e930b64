"""What the Slack listeners need from the running bot (`SlackServices`); `bot.runtime.Runtime` provides it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.clock import Clock
    from bot.probe import ProbeResult
    from bot.readiness.model import Report
    from bot.slack.cards import Cards
    from bot.workflow.model import RequestView
    from bot.workflow.service import Workflow


class SlackServices(Protocol):
    """The narrow interface of the listeners: the workflow, the pool, probes and alerts, and the Slack client."""

    workflow: Workflow
    cards: Cards
    clock: Clock
    slack: WebClient

    @property
    def probe_targets(self) -> Sequence[Any]:
        """The configured probe targets (`probes.targets`), each with `name`, `mailbox` and `auth`."""
        ...

    @property
    def alert_channel(self) -> str | None:
        """Where alerts are posted; a Fix click outside a channel opens its plan there."""
        ...

    @property
    def busy_after(self) -> int:
        """Waiting diagnoses ahead past which a requester is told the bot is busy and where theirs waits."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run slow work after the ack, on the bounded pool."""
        ...

    def queue_diagnosis(self, work: Callable[[Any, list[Any]], None], request_id: str, item: Any) -> int | None:
        """Queue a stored request for a batched diagnosis (`work(services, items)` gets a batch's items): its position
        among the waiting (1 = next), or None when the queue is full (the request is diagnosed later)."""
        ...

    def probe_now(self, target: Any) -> ProbeResult:
        """Probe one configured target now, record the result and feed the alerts."""
        ...

    def snooze(self, target: str, mailbox: str, actor: str, hours: int, *, incident: str | None = None,
               cause: str | None = None) -> datetime | None:
        """Silence the open incident of a target for `hours` (audited); the end, or None if nothing to snooze.
        Raises NotAllowed (audited) when `actor` may not, a BotError when `incident` (the clicked card's) or its
        `cause` is no longer the open one."""
        ...

    def unsnooze(self, target: str, mailbox: str, actor: str, *, incident: str | None = None,
                 cause: str | None = None) -> bool:
        """End a target's snooze (audited); False if none holds. Raises NotAllowed (audited) when `actor` may not,
        a BotError for a stale card as `snooze` does."""
        ...

    def probe_statuses(self, upn: str | None = None) -> list[dict[str, Any]]:
        """Each configured target's state, availability and last result (only `upn`'s when given)."""
        ...

    def basic_auth_summary(self) -> dict[str, Any] | None:
        """The Basic-auth retirement outlook of the configured targets; None without targets."""
        ...

    def readiness_report(self, days: int, progress: Callable[[str, int], None]) -> tuple[Report, str]:
        """The tenant's SMTP AUTH readiness over `days` days and its CSV; `progress(phase, count)` as it reads."""
        ...

    def close_unused(self, days: int, requester: str, channel: str, thread_ts: str | None = None) -> RequestView:
        """Re-run the readiness report over `days` days and open the clean-up of what it finds unused, its card
        in `thread_ts` of `channel`. InvalidInput when there is nothing to close; NotAllowed for a requester
        who may not ask."""
        ...

    def chart_png(self) -> bytes:
        """The 7-day availability and latency chart of the configured targets, as a PNG."""
        ...
