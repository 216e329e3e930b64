"""Facts.prefetch against the sandbox's strict Exchange: documented filters only, per-identity fallback."""

from __future__ import annotations

from bot.workflow.diagnose import diagnose
from handlers import Status
from handlers.facts import Facts

UPNS = ["scanner@contoso.com", "copier@contoso.com", "kiosk@contoso.com"]


def exchange_calls(sandbox) -> list[tuple[str | None, int]]:
    return [(r.cmdlet, r.status) for r in sandbox.state.requests.for_service("exchange")]


def test_bulk_reads_use_filters_exchange_accepts(make_m365, sandbox):
    facts = Facts(make_m365())
    facts.prefetch(UPNS)
    sandbox.state.requests.clear()
    assert facts.mailbox("scanner@contoso.com")["SmtpClientAuthenticationDisabled"] is True
    assert facts.mailbox("copier@contoso.com")["SmtpClientAuthenticationDisabled"] is None
    assert facts.mailbox("kiosk@contoso.com") is None  # unlicensed: no mailbox
    assert facts.user_auth_policy("scanner@contoso.com") is None
    assert exchange_calls(sandbox) == []  # every fact came from the bulk reads


def test_a_rejected_bulk_filter_falls_back_to_each_identity(make_m365, sandbox):
    sandbox.state.faults.add("status", service="exchange", cmdlet="Get-CASMailbox", status=400, times=1)
    results = diagnose(make_m365(), UPNS[:2])
    assert [d.findings["mailbox_smtp_auth"].status for d in results] == [Status.CHANGE, Status.CHANGE]
    cas = [(c, s) for c, s in exchange_calls(sandbox) if c == "Get-CASMailbox"]
    assert cas == [("Get-CASMailbox", 400), ("Get-CASMailbox", 200), ("Get-CASMailbox", 200)]
