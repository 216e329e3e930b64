"""Target statuses: availability over 24 h and 7 d, states from results and alerts, the Basic-auth outlook."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from history_helpers import target
from sqlalchemy import event

from bot.clock import FakeClock
from bot.history import basic_auth_summary, purge, target_statuses
from bot.slack.blocks import status_blocks
from bot.store import AlertState, Store
from tests.slack.blocks_helpers import at


def record(store: Store, name: str, at: datetime, ok: bool, **fields: object) -> None:
    store.probes.record(name, f"{name}@contoso.com", ok, at=at, **fields)


def test_availability_over_24_hours_and_7_days_counts_probes_exactly_at_the_window_start(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    record(store, "scanner", now - timedelta(days=7, seconds=1), False)  # outside both windows
    record(store, "scanner", now - timedelta(days=7), False)  # first instant of the 7-day window
    record(store, "scanner", now - timedelta(days=3), True)
    record(store, "scanner", now - timedelta(hours=24), True)  # first instant of the 24-hour window
    record(store, "scanner", now - timedelta(hours=1), False, cause="auth_failed")
    record(
        store,
        "scanner",
        now,
        True,
        latency_ms=412,
        cert_days_left=54,
        tls_version="TLSv1.3",
        auth_mode="basic",
    )

    [status] = target_statuses(store, [target("scanner")], now)
    assert (status.probes_24h, status.probes_7d) == (3, 5)
    assert status.availability_24h == pytest.approx(2 / 3)
    assert status.availability_7d == pytest.approx(3 / 5)
    assert (status.state, status.ok, status.at, status.latency_ms) == ("ok", True, now, 412)
    assert (status.tls_version, status.auth_mode, status.cert_days_left) == ("TLSv1.3", "basic", 54)
    assert status.cert_expires_at == now + timedelta(days=54)


def test_a_target_without_probes_is_unknown_and_takes_its_auth_mode_from_the_config(
    store: Store, clock: FakeClock
) -> None:
    record(store, "printer", clock.now() - timedelta(days=8), True)  # only history older than 7 days
    statuses = target_statuses(store, [target("scanner", auth="xoauth2"), target("printer")], clock.now())
    scanner, printer = statuses
    assert (scanner.state, scanner.at, scanner.ok, scanner.cert_expires_at) == ("unknown", None, None, None)
    assert (scanner.availability_24h, scanner.availability_7d, scanner.probes_7d) == (None, None, 0)
    assert scanner.auth_mode == "oauth" and scanner.mailbox == "scanner@contoso.com"
    # The newest probe still tells the state; availability only counts the windows.
    assert (printer.state, printer.availability_7d, printer.auth_mode) == ("ok", None, "basic")
    assert target_statuses(store, [], clock.now()) == []


def test_states_come_from_the_last_result_unless_the_alert_says_flapping_or_snoozed(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    names = ["good", "bad", "flappy", "snoozed", "woke", "never"]
    for name in names[:-1]:
        record(store, name, now - timedelta(minutes=10), True)
        record(store, name, now - timedelta(minutes=5), name == "good", cause="smtp_auth_disabled_mailbox")
    store.alerts.save(AlertState(target="bad", status="failing", consecutive_failures=3))
    store.alerts.save(AlertState(target="flappy", status="flapping"))
    store.alerts.save(AlertState(target="snoozed", status="failing", snoozed_until=now + timedelta(hours=1)))
    store.alerts.save(AlertState(target="woke", status="failing", snoozed_until=now))  # the snooze just ended
    store.alerts.save(AlertState(target="never", status="flapping", snoozed_until=now + timedelta(hours=1)))

    statuses = target_statuses(store, [target(name) for name in names], now)
    assert {s.target: s.state for s in statuses} == {
        "good": "ok",
        "bad": "failing",
        "flappy": "flapping",
        "snoozed": "snoozed",
        "woke": "failing",
        "never": "snoozed",
    }
    assert statuses[1].cause == "smtp_auth_disabled_mailbox" and statuses[1].ok is False


def test_statuses_take_four_queries_whatever_the_number_of_targets(store: Store, clock: FakeClock) -> None:
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    for n in range(12):
        record(store, f"t{n}", clock.now(), True)
    statements.clear()
    target_statuses(store, [target("t0")], clock.now())
    one = len(statements)
    statements.clear()
    target_statuses(store, [target(f"t{n}") for n in range(12)], clock.now())
    assert statements == ["BEGIN", "SELECT"] * 4 and one == len(statements)


def test_status_blocks_show_state_availability_latency_certificate_and_auth(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    for minute in range(0, 60, 5):
        record(
            store,
            "scanner",
            now - timedelta(minutes=minute),
            minute != 30,
            latency_ms=400,
            cert_days_left=54,
            auth_mode="basic",
        )
    record(
        store,
        "erp",
        now,
        False,
        cause="smtp_auth_disabled_mailbox",
        reply="535 5.7.139 <b>",
        auth_mode="oauth",
    )
    statuses = target_statuses(store, [target("scanner"), target("erp"), target("copier")], now)

    payload = status_blocks(
        [], [s.to_dict() for s in statuses], now=now, basic_auth=basic_auth_summary(statuses, now)
    )
    text = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert (
        f":white_check_mark: *scanner (scanner@contoso.com)* ok · {at('2026-11-28 09:00')} · 400 ms · "
        "availability 24 h / 7 d: 91.7 % / 91.7 % · certificate expires in 54 days · password (Basic)"
    ) in text
    assert (
        f":x: *erp (erp@contoso.com)* failing: smtp_auth_disabled_mailbox · {at('2026-11-28 09:00')} · "
        "availability 24 h / 7 d: 0.0 % / 0.0 % · OAuth (XOAUTH2)\nReply: 535 5.7.139 &lt;b&gt;"
    ) in text
    assert (
        ":grey_question: *copier (copier@contoso.com)* no probe results yet · availability 24 h / 7 d: – / –"
        in text
    )
    assert (
        ":hourglass: 2 of 3 probe targets still sign in with Basic auth (a password): scanner, copier."
        in text
    )
    assert payload["text"] == "SMTP AUTH status: 0 open requests, 1 of 3 probes failing"


def test_status_blocks_word_flapping_and_snoozed_targets_and_skip_an_all_oauth_summary() -> None:
    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    base = {
        "target": "scanner",
        "mailbox": "",
        "at": now,
        "availability_24h": 0.99949,
        "availability_7d": 1.0,
    }
    probes = [
        base | {"state": "flapping", "ok": True},
        base | {"state": "snoozed", "ok": False, "cause": "timeout"},
    ]
    payload = status_blocks(
        [], probes, now=now, basic_auth={"count": 0, "text": "None of the 2 uses Basic auth."}
    )
    text = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert (
        f":warning: *scanner* flapping, last probe ok · {at('2026-11-28 09:00')} · availability 24 h / 7 d: 99.9 % / 100 %"
        in text
    )
    assert ":zzz: *scanner* snoozed, last probe failing: timeout" in text
    assert "Basic auth" not in text


@pytest.mark.parametrize(
    ("now", "since"),
    [
        (datetime(2026, 11, 28, 9, tzinfo=UTC), False),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), False),
        (datetime(2027, 1, 1, tzinfo=UTC), True),
        (datetime(2027, 9, 1, tzinfo=UTC), True),
    ],
)
def test_basic_auth_summary_before_and_after_the_end_of_december_2026(
    store: Store, clock: FakeClock, now: datetime, since: bool
) -> None:
    targets = [target("scanner"), target("copier", auth="plain"), target("erp", auth="xoauth2")]
    summary = basic_auth_summary(target_statuses(store, targets, now), now)
    assert {k: summary[k] for k in ("count", "total", "targets", "disabled_by_default")} == {
        "count": 2,
        "total": 3,
        "targets": ["scanner", "copier"],
        "disabled_by_default": since,
    }
    text = summary["text"]
    assert text.startswith(
        "2 of 3 probe targets still sign in with Basic auth (a password): scanner, copier."
    )
    assert "XOAUTH2" in text and "SMTP.SendAsApp" in text and "second half of 2027" in text
    assert ("Since the end of December 2026" in text) is since
    assert ("keeps working through December 2026" in text) is not since


def test_basic_auth_summary_without_basic_targets_and_with_many(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    oauth = target_statuses(store, [target("erp", auth="xoauth2")], now)
    assert basic_auth_summary(oauth, now) | {"text": ""} == {
        "count": 0,
        "total": 1,
        "targets": [],
        "disabled_by_default": False,
        "text": "",
    }
    assert basic_auth_summary(oauth, now)["text"] == "None of the 1 probe targets uses Basic auth."
    assert basic_auth_summary([], now)["text"] == "No probe targets are configured."
    many = [replace(oauth[0], target=f"t{n}", auth_mode="basic") for n in range(8)]
    assert "t0, t1, t2, t3, t4 and 3 more." in basic_auth_summary(many, now)["text"]


def test_purge_keeps_the_retention_window(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    for age in (timedelta(days=31), timedelta(days=30, seconds=1), timedelta(days=30), timedelta(days=1)):
        record(store, "scanner", now - age, True)
    assert purge(store, 30) == 2
    assert [p.at for p in store.probes.history("scanner")] == [
        now - timedelta(days=30),
        now - timedelta(days=1),
    ]
    assert purge(store, 30) == 0
