"""Drive the alert policy through probe outcomes on a fake clock, one letter per probe: F fails, P passes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.alerts import Action, AlertPolicy, Observation, step
from bot.clock import FakeClock
from bot.store import AlertState

TARGET, MAILBOX = "scanner", "scanner@contoso.com"
EVERY = timedelta(minutes=5)
DISABLED = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
            "Visit https://aka.ms/smtp_auth_disabled for more information.")
BAD_PASSWORD = "535 5.7.3 Authentication unsuccessful"


class Run:
    """A target's alert state fed probe outcomes `EVERY` apart; the lead's delivery of the card is simulated."""

    def __init__(self, policy: AlertPolicy | None = None, state: AlertState | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self.state = state or AlertState(target=TARGET)
        self.clock = FakeClock()
        self.start = self.clock.now()
        self.sent: list[Action] = []

    def probe(self, ok: bool, *, cause: str = "smtp_auth_disabled_tenant", reply: str = DISABLED) -> list[Action]:
        obs = Observation(target=TARGET, mailbox=MAILBOX, ok=ok, at=self.clock.now(), cause=None if ok else cause,
                          reply=None if ok else reply, phase=None if ok else "auth")
        self.state, actions = step(self.state, obs, self.policy)
        if any(a.kind == "open" for a in actions):  # the outbox delivered the card
            self.state = replace(self.state, alert_channel="C0ALERTS", alert_ts=f"{len(self.sent)}.0001")
        self.sent += actions
        self.clock.advance(EVERY.total_seconds())
        return actions

    def feed(self, pattern: str, **failure: str) -> list[list[str]]:
        """The kinds of the actions each probe of `pattern` sent."""
        return [[a.kind for a in self.probe(letter == "P", **failure)] for letter in pattern]

    def kinds(self) -> list[str]:
        return [a.kind for a in self.sent]
