"""Claims: which process works on a request or step; another takes it over only once the claim ran out."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

from workflow_helpers import REQUESTER

from bot.runtime import Runtime
from bot.workflow.claims import Claims

TTL = timedelta(seconds=30)


def test_a_held_claim_keeps_other_processes_out_until_released(store):
    a, b = Claims(store.leases, TTL), Claims(store.leases, TTL)
    with a.hold("step:1") as mine:
        assert mine
        with b.hold("step:1") as theirs, b.take_over("step:1") as taken:
            assert not theirs and not taken
        with a.hold("step:1") as again:
            assert not again  # one thread of a process at a time
    with b.take_over("step:1") as taken:
        assert taken


def test_a_stake_is_this_processes_to_hold_but_never_taken_over_while_it_lasts(store, clock):
    a, b = Claims(store.leases, TTL), Claims(store.leases, TTL)
    assert a.stake("request:CR-1")
    with a.take_over("request:CR-1") as taken, a.hold("request:CR-1") as mine:
        assert not taken  # the thread the stake was for may still be about to run...
        assert mine  # ...and a sweep looking at it meanwhile never keeps that thread out
    assert not store.leases.renew("request:CR-1", a.owner, TTL)  # released: a late renewal does not revive it
    clock.advance(TTL.total_seconds())
    assert b.stake("step:2") and not a.stake("step:2")
    clock.advance(TTL.total_seconds())  # b died without ever holding it
    with a.take_over("step:2") as taken:
        assert taken


def test_renewal_keeps_a_long_held_claim_alive_and_a_dead_processes_claim_runs_out(store, clock):
    a, b = Claims(store.leases, TTL), Claims(store.leases, TTL)
    with a.hold("step:3"):
        for _ in range(4):  # held four claim periods, renewed every half of one
            clock.advance(TTL.total_seconds() / 2)
            assert a.renew() == 1
            with b.take_over("step:3") as taken:
                assert not taken
    assert a.stake("step:4")  # then the process dies: nothing renews or releases it
    clock.advance(TTL.total_seconds() - 1)
    with b.take_over("step:4") as taken:
        assert not taken
    clock.advance(1)
    with b.take_over("step:4") as taken:
        assert taken


def test_a_stake_is_renewed_until_a_thread_holds_it_then_released_with_the_hold(store, clock):
    a, b = Claims(store.leases, TTL), Claims(store.leases, TTL)
    assert a.stake("step:5")
    for _ in range(4):  # the approval's run waits for the pool for four claim periods
        clock.advance(TTL.total_seconds() / 2)
        assert a.renew() == 1
        with b.take_over("step:5") as taken:
            assert not taken
    with a.hold("step:5") as mine:
        assert mine and a.renew() == 1
    assert a.renew() == 0 and store.leases.holder("step:5") is None  # forgotten and released with the hold


def test_a_stake_whose_work_will_not_come_is_no_longer_renewed_but_another_threads_stake_is(store, clock):
    a = Claims(store.leases, TTL)
    assert a.stake("step:6") and a.stake("step:6")  # two approvals of this process raced for the step
    a.unstake("step:6")  # the one that lost
    assert a.renew() == 1  # the winner's run still waits
    a.unstake("step:6")
    assert a.renew() == 0
    clock.advance(TTL.total_seconds())
    assert store.leases.holder("step:6") is None  # ran out by itself


class FlakyLeases:
    """`Store.leases` whose renewal of one name fails (a database error on that row)."""

    def __init__(self, leases, broken):
        self.leases, self.broken = leases, broken

    def __getattr__(self, name):
        return getattr(self.leases, name)

    def renew(self, name, holder, ttl):
        if name == self.broken:
            raise RuntimeError("could not renew")
        return self.leases.renew(name, holder, ttl)


def test_one_claim_that_cannot_be_renewed_does_not_stop_the_others_being_renewed(store, clock):
    a, b = Claims(FlakyLeases(store.leases, "step:7"), TTL), Claims(store.leases, TTL)
    with a.hold("step:7"), a.hold("step:8"), a.hold("step:9"):
        clock.advance(TTL.total_seconds() / 2)
        assert a.renew() == 2
        clock.advance(TTL.total_seconds() / 2)
        with b.take_over("step:8") as eight, b.take_over("step:9") as nine:
            assert not eight and not nine


def test_the_queue_brings_back_what_it_refused_and_what_is_a_claim_old_but_not_another_replicas_fresh_request(
        make_workflow, clock):
    a, b = make_workflow(), make_workflow()
    old = a.receive("printer@contoso.com", REQUESTER, "C0OPS")  # its process died before diagnosing it
    clock.advance(b.claims.ttl.total_seconds() + 1)
    fresh = a.receive("scanner@contoso.com", REQUESTER, "C0OPS")  # acked by a, waiting in a's queue
    refused = b.receive("copier@contoso.com", REQUESTER, "C0OPS")  # b's full queue refused it
    queued: list[str] = []
    runtime = SimpleNamespace(_busy_lock=threading.Lock(), _queued=set(), _refused={refused}, clock=clock,
                              workflow=b, queue_diagnosis=lambda work, request_id, item: queued.append(request_id)
                              or len(queued))
    Runtime._bring_back(runtime)  # b's queue has emptied
    assert queued == [old, refused] and fresh in b.waiting_diagnosis()  # a's fresh request is left to a
