"""BatchQueue: bounded, batched, a fixed number of runners; synchronised with events, never timed."""

from __future__ import annotations

import threading

import pytest

from bot.batches import BatchQueue

WAIT = 10  # seconds a synchronisation may take before the test gives up (never reached when it works)


def test_items_queued_together_are_handled_as_one_batch():
    batches: list[list[int]] = []
    queue = BatchQueue(batches.append, capacity=50, runners=1, batch=20)
    assert [queue.offer(n) for n in range(5)] == [1, 2, 3, 4, 5]  # positions among the waiting
    queue.start()
    queue.stop(WAIT)
    assert batches == [[0, 1, 2, 3, 4]]


def test_a_batch_holds_at_most_batch_items_in_arrival_order():
    batches: list[list[int]] = []
    queue = BatchQueue(batches.append, capacity=50, runners=1, batch=4)
    for n in range(10):
        queue.offer(n)
    queue.start()
    queue.stop(WAIT)
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_full_queue_refuses_and_says_so():
    queue = BatchQueue(lambda items: None, capacity=3, runners=1, batch=1)
    assert [queue.offer(n) for n in range(4)] == [1, 2, 3, None]
    assert queue.waiting() == 3


def test_no_more_than_runners_batches_run_at_once_and_the_rest_wait():
    entered, release = threading.Semaphore(0), threading.Event()
    active, most = [0], [0]
    lock = threading.Lock()

    def handle(items: list[int]) -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        entered.release()
        release.wait(WAIT)
        with lock:
            active[0] -= 1

    queue = BatchQueue(handle, capacity=10, runners=2, batch=1)
    queue.start()
    for n in range(5):
        queue.offer(n)
    assert entered.acquire(timeout=WAIT) and entered.acquire(timeout=WAIT)
    assert queue.waiting() == 3 and queue.busy() == 5  # two running, three waiting behind them
    release.set()
    queue.stop(WAIT)
    assert most[0] == 2 and queue.busy() == 0


def test_a_failing_batch_is_logged_and_the_runner_goes_on(caplog):
    handled: list[list[int]] = []

    def handle(items: list[int]) -> None:
        if items == [0]:
            raise RuntimeError("boom")
        handled.append(items)

    queue = BatchQueue(handle, capacity=10, runners=1, batch=1)
    queue.offer(0)
    queue.offer(1)
    queue.start()
    queue.stop(WAIT)
    assert handled == [[1]] and "a batch of 1 failed" in caplog.text


def test_after_refusing_work_the_queue_says_when_it_has_emptied():
    drained = threading.Event()
    queue = BatchQueue(lambda items: None, capacity=2, runners=1, batch=1, on_drained=drained.set)
    assert [queue.offer(n) for n in range(3)] == [1, 2, None]
    queue.start()
    assert drained.wait(WAIT)
    queue.stop(WAIT)


@pytest.mark.parametrize("bad", [{"capacity": 0}, {"runners": 0}, {"batch": 0}, {"window": -1}, {"max_hold": -1}])
def test_nonsense_limits_are_refused(bad):
    limits = {"capacity": 1, "runners": 1, "batch": 1, "window": 0.0} | bad
    with pytest.raises(ValueError):
        BatchQueue(lambda items: None, **limits)


def test_a_burst_is_held_until_it_ends_then_handled_in_full_batches():
    handled = threading.Event()
    batches: list[list[int]] = []

    def handle(items: list[int]) -> None:
        batches.append(items)
        handled.set()

    queue = BatchQueue(handle, capacity=50, runners=1, batch=3, window=WAIT, max_hold=WAIT)
    queue.start()
    for n in range(7):
        queue.offer(n)
    assert not handled.wait(0.2)  # arrivals are recent: the runner leaves the request threads alone
    queue.stop(WAIT)  # stopping handles what waits at once
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_item_waits_no_longer_than_max_hold():
    handled = threading.Event()
    queue = BatchQueue(lambda items: handled.set(), capacity=5, runners=1, batch=5, window=WAIT, max_hold=0)
    queue.start()
    queue.offer(1)
    assert handled.wait(WAIT)
    queue.stop(WAIT)
