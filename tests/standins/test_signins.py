"""Sign-in logs stand-in: AuditLog.Read.All, the P1 licence, Graph's $filter allow-list, paging, retention, and
the sign-ins a Basic SMTP AUTH attempt leaves."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from bot.clock import FakeClock
from sandbox.launcher import Sandbox

from .conftest import Api
from .test_smtp_auth import BAD_CREDENTIALS, OK, auth, connect

SMTP = "clientAppUsed eq 'Authenticated SMTP'"


def sign_ins(api: Api, query: str = "", **kwargs: object) -> object:
    return api.graph("GET", f"/auditLogs/signIns{'?' + query if query else ''}", **kwargs)


def test_the_seeded_sign_ins_have_graphs_shape_newest_first_and_only_30_days(api: Api, clock: FakeClock) -> None:
    answer = sign_ins(api)
    assert answer.status_code == 200, answer.text
    items = answer.json()["value"]
    assert items and [i["createdDateTime"] for i in items] == sorted((i["createdDateTime"] for i in items), reverse=True)
    first = items[0]
    assert {"id", "createdDateTime", "userPrincipalName", "userId", "appDisplayName", "ipAddress", "clientAppUsed",
            "status", "conditionalAccessStatus", "location", "deviceDetail"} <= set(first)
    assert first["clientAppUsed"] == "Authenticated SMTP" and first["appDisplayName"] == "Office 365 Exchange Online"
    assert {i["userPrincipalName"] for i in items} >= {"printer@contoso.com", "erp@contoso.com"}
    assert "admin@contoso.com" not in {i["userPrincipalName"] for i in items}  # 45 days old: past retention
    erp = next(i for i in items if i["userPrincipalName"] == "erp@contoso.com")
    assert erp["status"]["errorCode"] == 50076 and erp["status"]["failureReason"]


def test_without_audit_log_read_all_graph_says_authorization_request_denied(api: Api, sb: Sandbox) -> None:
    sb.state.revoke(sb.creds()[1], "AuditLog.Read.All")
    answer = sign_ins(api)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "Authorization_RequestDenied"


def test_without_a_premium_licence_graph_refuses_with_its_own_code(api: Api) -> None:
    answer = sign_ins(api, token=api.token(tenant="fabrikam"))
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert error["message"] == "Neither tenant is B2C or tenant doesn't have premium license"


@pytest.mark.parametrize("expression", [
    f"createdDateTime ge 2026-01-01T00:00:00Z and {SMTP}",
    "userPrincipalName eq 'printer@contoso.com'",
    "startswith(userPrincipalName,'print')",
    "status/errorCode eq 50076",
    "ipAddress eq '203.0.113.25'",
])
def test_documented_filters_work(api: Api, expression: str) -> None:
    answer = sign_ins(api, f"$filter={quote(expression)}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"]


@pytest.mark.parametrize("expression", [
    "riskState eq 'atRisk' and clientAppUsed eq 'x'",  # riskState: not filterable in our allow-list
    "clientAppUsed ne 'Authenticated SMTP'",  # clientAppUsed: eq only
    "startswith(clientAppUsed,'Auth')",
    "createdDateTime gt 2026-01-01T00:00:00Z",  # createdDateTime: eq, le, ge
    "createdDateTime ge '2026-01-01'",  # DateTimeOffset literals are unquoted
    "status/errorCode ge 1",
    "userPrincipalName eq 'a' or userPrincipalName eq 'b'",
])
def test_other_filters_are_refused_as_graph_does(api: Api, expression: str) -> None:
    answer = sign_ins(api, f"$filter={quote(expression)}")
    assert answer.status_code == 400
    assert answer.json()["error"] == {**answer.json()["error"], "code": "BadRequest", "message": "Invalid filter clause"}


def test_pages_follow_next_link_with_the_filter_kept(api: Api) -> None:
    everything = sign_ins(api, f"$filter={quote(SMTP)}").json()["value"]
    seen, answer = [], sign_ins(api, f"$filter={quote(SMTP)}&$top=5").json()
    pages = 1
    while True:
        seen.extend(answer["value"])
        assert len(answer["value"]) <= 5
        if "@odata.nextLink" not in answer:
            break
        assert "$filter=" in answer["@odata.nextLink"]
        answer = sign_ins(api, answer["@odata.nextLink"].split("?", 1)[1]).json()
        pages += 1
    assert [i["id"] for i in seen] == [i["id"] for i in everything] and pages == -(-len(everything) // 5)
    assert sign_ins(api, "$top=1001").status_code == 400


def test_a_basic_smtp_login_leaves_a_sign_in_and_a_wrong_password_a_failed_one(api: Api, sb: Sandbox,
                                                                               clock: FakeClock) -> None:
    clock.advance(timedelta(minutes=1).total_seconds())
    for password, reply in (("Printer-Sandbox-1", OK), ("wrong", BAD_CREDENTIALS)):
        client = connect(sb)
        try:
            assert auth(client, "LOGIN", "printer@contoso.com", password).startswith(reply)
        finally:
            client.close()
    latest = sign_ins(api, f"$filter={quote(SMTP)}&$top=2").json()["value"]
    assert [i["status"]["errorCode"] for i in latest] in ([50126, 0], [0, 50126])
    assert all(i["userPrincipalName"] == "printer@contoso.com" and i["ipAddress"] == "127.0.0.1" for i in latest)
