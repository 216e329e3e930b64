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


def batches(sandbox, version: str) -> list[int]:
    """How many requests each `$batch` of `version` carried, in order."""
    return [len(r.batch_items) for r in sandbox.state.requests.for_service("graph")
            if r.path.endswith("$batch") and r.api_version == version]


def test_many_users_are_read_with_one_batch_per_graph_version_and_one_read_per_exchange_cmdlet(make_m365, sandbox):
    results = diagnose(make_m365(), UPNS)
    assert [d.error for d in results] == [None, None, None]
    assert batches(sandbox, "v1.0") == [2 + 2 * len(UPNS)] and batches(sandbox, "beta") == [len(UPNS)]
    cmdlets = sorted(c for c, _ in exchange_calls(sandbox))
    assert cmdlets == ["Get-AuthenticationPolicy", "Get-CASMailbox", "Get-OrganizationConfig",
                       "Get-TransportConfig", "Get-User"]


def test_graph_batches_stay_within_microsofts_twenty_requests(make_m365, sandbox):
    upns = [f"bulk{n:02}@contoso.com" for n in range(25)]
    for upn in upns:
        sandbox.state.add_user("contoso", upn)
    results = diagnose(make_m365(), upns)
    assert all(d.error is None for d in results)
    assert sorted(batches(sandbox, "v1.0")) == [12, 20, 20] and sorted(batches(sandbox, "beta")) == [5, 20]
    assert sorted(c for c, _ in exchange_calls(sandbox)).count("Get-User") == 1


def test_the_first_round_of_reads_is_sent_at_once(make_m365, sandbox):
    # Each of the six reads that need nothing from another is held until all six have arrived: read one
    # after the other, the first would wait alone and get 503 instead.
    m365 = make_m365()
    m365.tokens.token(m365.graph.scope)
    m365.tokens.token(m365.exchange.scope)
    barrier = sandbox.state.faults.add("barrier", path=r"(\$batch|InvokeCommand)$", parties=6, seconds=10)
    [result] = diagnose(m365, ["scanner@contoso.com"])
    held = [r for r in sandbox.state.requests if r.fault == "barrier"]
    assert barrier.fired == 6 and [r.status for r in held] == [200] * 6
    assert result.error is None and result.findings["mailbox_smtp_auth"].status == Status.CHANGE
    # ...and the mailbox read, which needs Get-User's Guid, comes after them (not one of the six the barrier held:
    # it was sent once they were answered): two round trips in all. Answers may be recorded in any order.
    [mailbox_read] = [r for r in sandbox.state.requests if r.cmdlet == "Get-CASMailbox"]
    assert (mailbox_read.status, mailbox_read.fault) == (200, None)
