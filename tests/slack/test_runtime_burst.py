"""The runtime's background plumbing under a burst: handed-over work waits for the burst to end (fake clock)."""

from __future__ import annotations

import threading

import pytest
from slack_helpers import wait_until

from bot.workflow.claims import Claims
from bot.workflow.service import Workflow


def test_work_handed_over_waits_until_nothing_new_arrives_for_the_window(start_bot):
    bot = start_bot(server={"diagnoses": {"window_ms": 200, "max_hold_ms": 5000}})
    clock, ran = bot.clock, []
    lock = threading.Lock()

    def work(name: str) -> None:
        with lock:
            ran.append((name, clock.monotonic()))

    handed = clock.monotonic()
    bot.runtime.submit(work, "first")
    bot.runtime.submit(work, "second")
    wait_until(lambda: len(ran) == 2, what="both done")
    # Neither started before 200 ms (fake) had passed since the last hand-over.
    assert all(at >= handed + 0.2 for _, at in ran) and pytest.approx(0.2) in clock.sleeps


def test_work_waits_no_longer_than_max_hold(start_bot):
    bot = start_bot(server={"diagnoses": {"window_ms": 5000, "max_hold_ms": 100}})
    done = threading.Event()
    handed = bot.clock.monotonic()
    bot.runtime.submit(done.set)
    assert done.wait(10)
    assert handed + 0.1 <= bot.clock.monotonic() < handed + 5


class CountedLeases:
    """`Store.leases`, counting renewals."""

    def __init__(self, leases):
        self.leases, self.renewals = leases, 0

    def __getattr__(self, name):
        return getattr(self.leases, name)

    def renew(self, name, holder, ttl):
        self.renewals += 1
        return self.leases.renew(name, holder, ttl)


def test_stopping_keeps_the_claims_of_running_work_renewed_until_it_has_finished(start_bot):
    bot = start_bot(database={"claim_seconds": 0.3})  # the sweeper renews every 0.1 s (a third of a claim)
    runtime, clock = bot.runtime, bot.clock
    claims = runtime.workflow.claims
    claims.leases = leases = CountedLeases(claims.leases)
    other = Claims(runtime.store.leases, claims.ttl)
    held, finish = threading.Event(), threading.Event()

    def applying() -> None:  # a step being applied when the bot is told to stop
        with claims.hold("step:1"):
            held.set()
            finish.wait(10)

    runtime.workflow.pool.submit(applying)
    assert held.wait(10)
    stopping = threading.Thread(target=runtime.stop)
    stopping.start()
    try:
        wait_until(runtime._stop.is_set, what="stop begun")
        for _ in range(3):  # three half-claims pass while stop() waits for the apply
            seen = leases.renewals
            clock.advance(claims.ttl.total_seconds() / 2)
            wait_until(lambda: leases.renewals > seen + 1, what="a renewal after the clock moved")  # noqa: B023
            with other.take_over("step:1") as taken:
                assert not taken  # no replica settles the apply under it
    finally:
        finish.set()
        stopping.join(10)
    assert not stopping.is_alive()


def test_a_start_up_recovery_that_fails_does_not_stop_the_bot_starting(start_bot, monkeypatch):
    calls = []

    def broken(self) -> list[int]:
        calls.append("recover")
        raise RuntimeError("a bug in recovery")

    monkeypatch.setattr(Workflow, "recover", broken)
    bot = start_bot(database={"claim_seconds": 0.3})
    assert [t.is_alive() for t in bot.runtime._threads] == [True]  # the sweeper runs...
    wait_until(lambda: len(calls) > 1, what="a sweep trying recovery again")  # ...and tries again
