"""The clean-up's handlers against the sandbox: bulk reads by filter, per-mailbox writes, $null back to inherit."""

from __future__ import annotations

from bot.errors import ExchangeNotFound, PermissionMissing
from handlers import BULK, CLEANUP, Status
from handlers.facts import Facts

BULK_OFF = BULK["bulk_smtp_auth_off"]


def exchange_reads(sandbox):
    return [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Get-CASMailbox"]


def test_reads_are_bulk_and_a_mailbox_the_filter_misses_is_read_on_its_own(m365, sandbox):
    sandbox.state.add_user("contoso", "alias@contoso.com", mail="other.address@contoso.com",
                           smtp_client_authentication_disabled=False)
    upns = ["scanner@contoso.com", "copier@contoso.com", "printer@contoso.com", "alias@contoso.com",
            "kiosk@contoso.com"]
    sandbox.state.requests.clear()
    found = BULK_OFF.read_many(m365, upns)

    assert {u: v for u, v in found.items() if not isinstance(v, Exception)} == {
        "scanner@contoso.com": True, "copier@contoso.com": None, "printer@contoso.com": False,
        "alias@contoso.com": False}
    assert isinstance(found["kiosk@contoso.com"], ExchangeNotFound)  # no mailbox: said, never guessed
    assert len(exchange_reads(sandbox)) == 3  # one filter for all five, then the two it did not return, each


def test_a_missing_role_holds_for_every_mailbox_of_the_read(m365, sandbox):
    _, client_id, _ = sandbox.creds("contoso")
    sandbox.state.revoke(client_id, "Exchange Administrator")
    found = BULK_OFF.read_many(m365, ["scanner@contoso.com", "printer@contoso.com"])
    assert all(isinstance(v, PermissionMissing) for v in found.values())


def test_writes_go_one_by_one_and_null_puts_inheritance_back(m365, sandbox):
    errors = BULK_OFF.write_many(m365, {"copier@contoso.com": True, "printer@contoso.com": True}, concurrency=2)
    assert errors == {"copier@contoso.com": None, "printer@contoso.com": None}
    assert BULK_OFF.read_many(m365, ["copier@contoso.com", "printer@contoso.com"]) == {
        "copier@contoso.com": True, "printer@contoso.com": True}
    BULK_OFF.write_many(m365, {"copier@contoso.com": None, "printer@contoso.com": False}, concurrency=2)
    assert sandbox.state.tenant("contoso").user("copier@contoso.com").mailbox.smtp_client_authentication_disabled is None


def test_the_org_switch_off_round_trip(make_m365, sandbox):
    m365 = make_m365("fabrikam")
    org = CLEANUP["org_smtp_auth_off"]
    assert org.inspect(Facts(m365), "").status is Status.CHANGE
    change = org.apply(m365, "", False)
    assert org.verify(m365, change) and sandbox.state.tenant("fabrikam").smtp_client_authentication_disabled
    assert org.verify(m365, org.revert(m365, change))
    assert sandbox.state.tenant("fabrikam").smtp_client_authentication_disabled is False
