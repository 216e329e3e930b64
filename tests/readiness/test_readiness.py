"""The readiness report: each class, the clean-up list, the missing licence and permission, bulk reads and paging
against the sandbox (requests counted by the sandbox), and the command line's table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import load_config, with_overrides
from bot.errors import InvalidInput
from bot.m365.tenant import M365, connect
from bot.readiness import AccountClass, Source, Usage, collect, unused_mailboxes
from bot.readiness.classify import classify
from bot.readiness.collect import build_report
from bot.readiness.model import Account, Report
from bot.readiness.render import CSV_HEADER, table, to_csv
from sandbox import cli as bridge
from sandbox.bulk import seed_with_mailboxes
from sandbox.launcher import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def used(count: int = 3, failures: int = 0, ips: tuple[str, ...] = ("203.0.113.1",)) -> Usage:
    usage = Usage()
    for n in range(count):
        usage.add(NOW - timedelta(hours=n), ips[n % len(ips)], 50126 if n < failures else 0)
    return usage


@pytest.mark.parametrize(("account", "org_disabled", "expected", "path_word"), [
    (Account("a@x", has_mailbox=True, switch=False, usage=used()), True, AccountClass.BASIC_IN_USE, "OAuth"),
    (Account("a@x", has_mailbox=True, switch=None, usage=used()), False, AccountClass.BASIC_IN_USE, "OAuth"),
    (Account("a@x", has_mailbox=True, switch=False, usage=Usage()), True, AccountClass.ENABLED_UNUSED, "off"),
    (Account("a@x", has_mailbox=True, switch=None, usage=Usage()), False, AccountClass.ENABLED_UNUSED, "off"),
    (Account("a@x", has_mailbox=True, switch=False, usage=None), True, AccountClass.ENABLED_USAGE_UNKNOWN, "Find"),
    (Account("a@x", has_mailbox=True, switch=False, usage=Usage(), oauth=True), True, AccountClass.OAUTH, "OAuth"),
    (Account("a@x", has_mailbox=True, switch=True, usage=Usage()), False, AccountClass.OFF, "Nothing"),
    (Account("a@x", has_mailbox=True, switch=None, usage=Usage()), True, AccountClass.OFF, "Nothing"),
    (Account("a@x", has_mailbox=True, switch=True, usage=used()), False, AccountClass.OFF, "Find the device"),
    (Account("a@x", usage=used()), False, AccountClass.OFF, "Find the device"),
])
def test_each_class_with_its_path_and_reason(account: Account, org_disabled: bool, expected: AccountClass,
                                            path_word: str) -> None:
    classify(account, org_disabled=org_disabled, days=30)
    assert account.klass is expected
    assert path_word in account.path and account.why


def test_the_reason_names_counts_failures_and_the_one_ip_a_connector_could_use() -> None:
    account = classify(Account("a@x", has_mailbox=True, switch=False, usage=used(4, failures=1)),
                       org_disabled=True, days=7)
    assert "4 password sign-in(s) in 7 days (3 succeeded, 1 failed (wrong password))" in account.why
    assert "203.0.113.1" in account.why and "High Volume Email" in account.why


def report_of(accounts: list[Account], *, read: bool = True) -> Report:
    for account in accounts:
        classify(account, org_disabled=False, days=30)
    return Report(NOW, 30, False, accounts, Source(read, "" if read else "no"), Source(False, "not read"))


def test_unused_mailboxes_gives_each_prior_value_including_inherits() -> None:
    report = report_of([Account("on@x", has_mailbox=True, switch=False, usage=Usage()),
                        Account("inherits@x", has_mailbox=True, switch=None, usage=Usage()),
                        Account("busy@x", has_mailbox=True, switch=False, usage=used()),
                        Account("off@x", has_mailbox=True, switch=True, usage=Usage())])
    assert unused_mailboxes(report) == [("on@x", False), ("inherits@x", None)]


def test_unknown_usage_is_never_a_clean_up_candidate() -> None:
    report = report_of([Account("on@x", has_mailbox=True, switch=False, usage=None)], read=False)
    assert report.accounts[0].klass is AccountClass.ENABLED_USAGE_UNKNOWN
    assert unused_mailboxes(report) == []


def test_days_until_the_december_change_follow_the_clock() -> None:
    report = report_of([])
    assert report.days_until_change() == 29
    report.generated_at = datetime(2027, 1, 5, tzinfo=UTC)
    assert report.days_until_change() == 0


# --- against the sandbox ----------------------------------------------------------------------------------


def read(m365: M365, clock: FakeClock, **kwargs: object) -> Report:
    return build_report(m365, days=30, now=clock.now(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def now_clock(sandbox: Sandbox) -> FakeClock:
    """The bot's clock at the sandbox's time (the sandbox seeds sign-ins relative to its own clock)."""
    return FakeClock(sandbox.state.clock.now())


def by_upn(report: Report) -> dict[str, Account]:
    return {a.upn: a for a in report.accounts}


def test_the_demo_tenant_report(sandbox: Sandbox, m365: M365, now_clock: FakeClock) -> None:
    report = read(m365, now_clock, oauth_mailboxes=["breakglass@contoso.com"])
    accounts = by_upn(report)
    assert report.sign_ins.read and report.org_disabled and report.mailboxes_read == 9
    printer = accounts["printer@contoso.com"]
    assert printer.klass is AccountClass.BASIC_IN_USE
    assert (printer.usage.count, printer.usage.successes, printer.usage.failures) == (17, 16, 1)
    assert printer.usage.ips == {"203.0.113.25", "203.0.113.26"}
    assert accounts["erp@contoso.com"].klass is AccountClass.BASIC_IN_USE
    assert accounts["admin@contoso.com"].klass is AccountClass.ENABLED_UNUSED  # its sign-ins are 45 days old
    assert accounts["breakglass@contoso.com"].klass is AccountClass.OAUTH
    assert accounts["scanner@contoso.com"].klass is AccountClass.OFF and accounts["scanner@contoso.com"].usage.count
    assert accounts["copier@contoso.com"].klass is AccountClass.OFF
    assert set(unused_mailboxes(report)) == {("admin@contoso.com", False), ("fax@contoso.com", False)}
    # the demo tenant's device app is registered in Entra ID but not yet in Exchange (that is /smtp-oauth's job)
    assert report.service_principals.read and report.service_principal_names == []


def test_an_inheriting_mailbox_is_on_when_the_organisation_is(sandbox: Sandbox, m365: M365,
                                                              now_clock: FakeClock) -> None:
    sandbox.state.tenant("contoso").smtp_client_authentication_disabled = False
    report = read(m365, now_clock)
    assert by_upn(report)["copier@contoso.com"].klass is AccountClass.ENABLED_UNUSED
    assert ("copier@contoso.com", None) in unused_mailboxes(report)


def test_without_audit_log_read_all_usage_is_unknown_not_unused(sandbox: Sandbox, m365: M365,
                                                                now_clock: FakeClock) -> None:
    sandbox.state.revoke(sandbox.creds()[1], "AuditLog.Read.All")
    report = read(m365, now_clock)
    assert not report.sign_ins.read and "AuditLog.Read.All" in report.sign_ins.problem
    accounts = by_upn(report)
    assert accounts["printer@contoso.com"].klass is AccountClass.ENABLED_USAGE_UNKNOWN
    assert accounts["admin@contoso.com"].klass is AccountClass.ENABLED_USAGE_UNKNOWN
    assert accounts["scanner@contoso.com"].klass is AccountClass.OFF
    assert unused_mailboxes(report) == []
    assert "not read" in table(report)


def test_without_the_p1_licence_the_report_says_so_and_carries_on(sandbox: Sandbox, m365: M365,
                                                                  now_clock: FakeClock) -> None:
    sandbox.state.tenant("contoso").entra_id_p1 = False
    report = read(m365, now_clock)
    assert not report.sign_ins.read and "Entra ID P1" in report.sign_ins.problem
    assert report.mailboxes_read == 9 and unused_mailboxes(report) == []
    assert report.counts()[AccountClass.ENABLED_USAGE_UNKNOWN] == 7


def test_sign_ins_are_read_page_by_page(sandbox: Sandbox, m365: M365, now_clock: FakeClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    whole = read(m365, now_clock)
    monkeypatch.setattr(collect, "SIGN_IN_PAGE", 5)
    sandbox.state.requests.clear()
    paged = read(m365, now_clock)
    graph = [r for r in sandbox.state.requests if r.service == "graph"]
    assert len(graph) == -(-29 // 5)  # 29 "Authenticated SMTP" sign-ins within 30 days, 5 a page
    assert [(a.upn, a.klass, a.usage and a.usage.count) for a in paged.accounts] == \
        [(a.upn, a.klass, a.usage and a.usage.count) for a in whole.accounts]


def test_ten_thousand_mailboxes_take_a_few_requests(tmp_path: Path) -> None:
    with start_sandbox(tmp_path, seed=seed_with_mailboxes(10_000)) as big:
        cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": big.m365_settings()})
        m365 = connect(cfg.m365)
        phases: list[tuple[str, int]] = []
        report = build_report(m365, days=30, now=big.state.clock.now(), progress=lambda p, n: phases.append((p, n)))
        seen = [r for r in big.state.requests if r.service != "login"]
    assert report.mailboxes_read == 10_009
    cas = [r for r in seen if r.cmdlet == "Get-CASMailbox"]
    assert len(cas) == 11  # pages of 1,000, not one request per mailbox
    assert len(seen) <= 16
    assert ("mailboxes", 10_009) in phases
    counts = report.counts()
    assert counts[AccountClass.ENABLED_UNUSED] > 1000 and counts[AccountClass.BASIC_IN_USE] > 100


# --- the command line -------------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = bridge.main(["--config", str(ROOT / "app.yaml"), "readiness", *argv], env={}, stdout=out)
    return code, out.getvalue()


def test_the_command_line_prints_a_table_json_and_csv_against_the_sandbox() -> None:
    code, text = run_cli("--days", "7")
    assert code == 0 and "Basic in use: 3" in text and "printer@contoso.com" in text and "ACCOUNT" in text
    code, text = run_cli("--json")
    data = json.loads(text)
    assert data["days"] == 30 and data["counts"]["basic_in_use"] == 4 and data["sign_in_logs"]["read"] is True
    assert {a["upn"] for a in data["accounts"] if a["class"] == "enabled_unused"} >= {"admin@contoso.com"}
    code, text = run_cli("--csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 10
    assert rows[1][0] == "printer@contoso.com" and rows[1][1] == "Basic in use"


def test_the_command_line_refuses_a_window_entra_does_not_keep() -> None:
    code, text = run_cli("--days", "31")
    assert code == 2 and "between 1 and 30" in text
    with pytest.raises(InvalidInput):
        collect.check_days(0)


def test_the_csv_says_not_read_rather_than_zero() -> None:
    report = report_of([Account("on@x", has_mailbox=True, switch=False, usage=None)], read=False)
    row = list(csv.DictReader(io.StringIO(to_csv(report))))[0]
    assert row["password_sign_ins"] == "not read" and row["class"] == "Enabled, usage unknown"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_on_a_terminal_and_none_otherwise(sandbox: Sandbox, m365: M365) -> None:
    from argparse import Namespace

    from bot.cli import run_readiness

    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    args = Namespace(days=30, format="json")
    out, err = io.StringIO(), Terminal()
    assert run_readiness(m365, cfg, args, out, err) == 0
    assert "reading mailboxes: 9" in err.getvalue() and err.getvalue().endswith("\r")
    assert json.loads(out.getvalue())["mailboxes_read"] == 9
    quiet = io.StringIO()
    run_readiness(m365, cfg, args, io.StringIO(), quiet)
    assert quiet.getvalue() == ""


def test_the_command_exits_1_when_the_sign_in_logs_cannot_be_read(sandbox: Sandbox, m365: M365) -> None:
    from argparse import Namespace

    from bot.cli import run_readiness

    sandbox.state.revoke(sandbox.creds()[1], "AuditLog.Read.All")
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    out = io.StringIO()
    assert run_readiness(m365, cfg, Namespace(days=30, format=None), out, io.StringIO()) == 1
    assert "Sign-in logs could not be read" in out.getvalue() and "AuditLog.Read.All" in out.getvalue()
