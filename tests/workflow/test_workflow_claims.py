"""Claims: which process works on a request or step; another takes it over only once the claim ran out."""

from __future__ import annotations

from datetime import timedelta

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
