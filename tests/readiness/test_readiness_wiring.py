"""The readiness report wired to the rest of issue 12: whether the organisation switch may go (`org_unused`), an
organisation-wide app role, and the clean-up's sign-in check (`used_since`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.m365.tenant import M365
from bot.readiness import Source, Usage, org_unused
from bot.readiness.collect import build_report, used_since
from bot.readiness.model import Account, Report
from sandbox.launcher import Sandbox
from sandbox.signins import add_sign_in

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"


def seen(count: int) -> Usage:
    usage = Usage()
    for _ in range(count):
        usage.count += 1
    return usage


def report_of(accounts: list[Account], *, read: bool = True) -> Report:
    from datetime import UTC, datetime

    return Report(datetime(2026, 12, 2, tzinfo=UTC), 30, False, accounts, Source(read), Source(True))


@pytest.mark.parametrize(("accounts", "read", "expected"), [
    ([Account("a@x", has_mailbox=True, switch=None, usage=Usage()),
      Account("b@x", has_mailbox=True, switch=False, usage=seen(3))], True, True),  # only an explicit "on" is used
    ([Account("a@x", has_mailbox=True, switch=None, usage=seen(1))], True, False),  # an inheriting mailbox used it
    ([Account("a@x", has_mailbox=True, switch=None, usage=Usage(), oauth=True)], True, False),  # OAuth needs it too
    ([Account("a@x", has_mailbox=True, switch=None, usage=None)], True, False),  # usage unknown is never unused
    ([Account("a@x", has_mailbox=True, switch=None, usage=Usage())], False, False),  # the logs were not read
    ([Account("a@x", usage=seen(2)), Account("b@x", has_mailbox=True, switch=True, usage=seen(1))], True, True),
])
def test_org_unused_only_when_the_logs_were_read_and_no_inheriting_mailbox_uses_smtp_auth(accounts, read, expected):
    assert org_unused(report_of(accounts, read=read)) is expected


@pytest.fixture
def now_clock(sandbox: Sandbox) -> FakeClock:
    return FakeClock(sandbox.state.clock.now())


def test_an_organisation_wide_role_is_named_not_spread_over_every_mailbox(sandbox, m365: M365, now_clock):
    m365.exchange.invoke("New-ServicePrincipal", {
        "AppId": APP, "ObjectId": sandbox.state.tenant("contoso").app(APP).service_principal_id})
    m365.exchange.invoke("New-ManagementRoleAssignment", {"App": APP, "Role": "Application SMTP.SendAsApp"})
    report = build_report(m365, days=30, now=now_clock.now())
    assert not any(a.oauth for a in report.accounts)
    assert any("may send as every mailbox" in n for n in report.oauth_notes)


def test_used_since_reads_the_sign_in_logs_from_that_moment(sandbox, m365: M365, now_clock):
    tenant = sandbox.state.tenant("contoso")
    since = sandbox.state.clock.now() - timedelta(minutes=1)
    assert used_since(m365, ["fax@contoso.com", "breakglass@contoso.com"], since) == set()
    add_sign_in(tenant, "breakglass@contoso.com", sandbox.state.clock.now(), "192.0.2.7", 50126)
    assert used_since(m365, ["fax@contoso.com", "BreakGlass@contoso.com"], since) == {"breakglass@contoso.com"}


def test_used_since_looks_back_over_the_logs_latency(sandbox, m365: M365):
    tenant = sandbox.state.tenant("contoso")
    since = sandbox.state.clock.now()
    add_sign_in(tenant, "fax@contoso.com", since - timedelta(minutes=30), "192.0.2.8")  # logged late, before `since`
    add_sign_in(tenant, "admin@contoso.com", since - timedelta(hours=2), "192.0.2.9")  # the report saw this one
    assert used_since(m365, ["fax@contoso.com", "admin@contoso.com"], since) == {"fax@contoso.com"}
