"""The runtime's background plumbing under a burst: handed-over work waits for the burst to end (fake clock)."""

from __future__ import annotations

import threading

import pytest
from slack_helpers import wait_until


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
