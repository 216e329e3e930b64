"""The real Graph and Exchange clients over HTTPS against the sandbox: retries, errors, paging, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.errors import AuthenticationFailed, PermissionMissing, Throttled, UpstreamError
from bot.m365.exchange import ExchangeNotFound, error_text
from bot.m365.graph import BatchItem, Op
from bot.m365.http import parse_retry_after
from handlers.facts import SECURITY_DEFAULTS_PATH

READ = Op("read security defaults", "Policy.Read.All")


def graph_calls(sandbox, path_part: str) -> list:
    return [r for r in sandbox.state.requests.for_service("graph") if path_part in r.path]


def test_429_retry_after_is_honoured_with_the_injected_clock(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=429,
                             retry_after="1.5", times=2)
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False
    assert clock.sleeps == [1.5, 1.5]
    assert [r.status for r in graph_calls(sandbox, "identitySecurityDefaults")] == [429, 429, 200]


def test_fractional_retry_after_and_http_date(clock):
    assert parse_retry_after("2.128", clock) == pytest.approx(2.128)
    assert parse_retry_after("Sat, 28 Nov 2026 09:00:30 GMT", clock) == pytest.approx(30.0)
    assert parse_retry_after("soon", clock) is None
    assert parse_retry_after(None, clock) is None


def test_throttling_that_outlasts_the_attempts_raises_throttled(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=429,
                             retry_after="0.5", times=None)
    with pytest.raises(Throttled) as err:
        m365.graph.get(SECURITY_DEFAULTS_PATH, READ)
    assert err.value.retry_after == 0.5
    assert clock.sleeps == [0.5, 0.5, 0.5]  # 4 attempts, 3 waits
    assert len(graph_calls(sandbox, "identitySecurityDefaults")) == 4


def test_a_retry_after_longer_than_the_limit_is_not_waited_for(sandbox, make_m365, clock):
    m365 = make_m365(max_retry_wait_seconds=10)
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=429,
                             retry_after="120")
    with pytest.raises(Throttled) as err:
        m365.graph.get(SECURITY_DEFAULTS_PATH, READ)
    assert err.value.retry_after == 120 and clock.sleeps == []


def test_503_without_retry_after_backs_off_then_succeeds(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=503, times=2)
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False
    assert len(clock.sleeps) == 2 and 0 < clock.sleeps[0] <= 1.0 and clock.sleeps[1] <= 2.0


def test_a_read_retries_a_500_and_a_write_does_not(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=500, times=2)
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False
    assert len(clock.sleeps) == 2
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=500)
    with pytest.raises(UpstreamError) as err:
        m365.graph.patch(SECURITY_DEFAULTS_PATH, {"isEnabled": False}, READ)
    assert err.value.status == 500 and len(clock.sleeps) == 2


def test_a_dropped_connection_is_retried(sandbox, m365, clock):
    sandbox.state.faults.add("drop", service="graph", path="identitySecurityDefaults")
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False
    assert len(clock.sleeps) == 1


def test_a_malformed_body_is_a_clear_error(sandbox, m365):
    sandbox.state.faults.add("malformed", service="graph", path="identitySecurityDefaults")
    with pytest.raises(UpstreamError, match="not valid JSON"):
        m365.graph.get(SECURITY_DEFAULTS_PATH, READ)


def test_batch_items_throttled_alone_are_retried_after_the_longest_retry_after(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="graph", path="/users/printer", in_batch=True, status=429,
                             retry_after="0.25")
    sandbox.state.faults.add("status", service="graph", path="/users/scanner", in_batch=True, status=429,
                             retry_after="2")
    items = [BatchItem(f"u{n}", f"/users/{u}@contoso.com?$select=id", Op("read users", "User.Read.All"))
             for n, u in enumerate(("printer", "scanner", "copier"))]
    m365.graph.batch(items)
    assert [i.status for i in items] == [200, 200, 200]
    assert clock.sleeps == [2.0]
    batches = graph_calls(sandbox, "$batch")
    assert [len(b.batch_items) for b in batches] == [3, 2]


def test_batches_hold_at_most_twenty_requests(sandbox, m365):
    items = [BatchItem(str(n), "/users/printer@contoso.com?$select=id", Op("read users", "User.Read.All"))
             for n in range(45)]
    m365.graph.batch(items)
    assert all(i.ok() for i in items)
    assert [len(b.batch_items) for b in graph_calls(sandbox, "$batch")] == [20, 20, 5]


def test_missing_graph_permission_is_named(sandbox, make_m365):
    tenant_id, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Policy.Read.All")
    with pytest.raises(PermissionMissing) as err:
        make_m365().graph.get(SECURITY_DEFAULTS_PATH, READ)
    assert err.value.permission == "Policy.Read.All"
    assert "Policy.Read.All" in err.value.describe() and "admin consent" in err.value.describe()


def test_expired_token_is_refreshed_once(sandbox, m365, monkeypatch):
    m365.graph.get(SECURITY_DEFAULTS_PATH, READ)  # MSAL now caches a token it believes valid for an hour
    # Two hours pass for the sandbox: it now judges that cached token expired, as Graph would.
    monkeypatch.setattr(sandbox.state, "clock", FakeClock(datetime.now(UTC) + timedelta(hours=2)))
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False
    statuses = [r.status for r in graph_calls(sandbox, "identitySecurityDefaults")]
    assert statuses == [200, 401, 200]
    tokens = [r for r in sandbox.state.requests.for_service("login") if r.path.endswith("/token")]
    assert len(tokens) == 2


def test_exchange_nul_byte_403_names_the_missing_role(sandbox, make_m365):
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Exchange Administrator")
    with pytest.raises(PermissionMissing) as err:
        make_m365().exchange.invoke("Get-TransportConfig")
    assert "Exchange Administrator" in err.value.role
    assert "Entra role" in err.value.describe()


def test_exchange_injected_nul403_fault(sandbox, m365):
    sandbox.state.faults.add("nul403", service="exchange", cmdlet="Set-CASMailbox")
    with pytest.raises(PermissionMissing, match="Set-CASMailbox"):
        m365.exchange.invoke("Set-CASMailbox", {"Identity": "scanner@contoso.com",
                                                "SmtpClientAuthenticationDisabled": False})


def test_exchange_without_the_app_role_names_exchange_manageasapp(sandbox, make_m365):
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Exchange.ManageAsApp")
    with pytest.raises(PermissionMissing) as err:
        make_m365().exchange.invoke("Get-CASMailbox", {"Identity": "printer@contoso.com"})
    assert err.value.permission == "Exchange.ManageAsApp"


def test_exchange_pages_through_next_link(sandbox, m365):
    m365.exchange.page_size = 2
    result = m365.exchange.invoke("Get-CASMailbox", select=["PrimarySmtpAddress"])
    mailboxes = {r["PrimarySmtpAddress"].lower() for r in result.value}
    assert result.pages >= 3 and len(mailboxes) == len(result.value)
    assert {"printer@contoso.com", "scanner@contoso.com", "copier@contoso.com"} <= mailboxes
    posts = sandbox.state.requests.for_service("exchange")
    assert len(posts) == result.pages


def test_exchange_error_text_comes_from_details(sandbox, m365):
    with pytest.raises(ExchangeNotFound, match="couldn't be found"):
        m365.exchange.invoke("Get-CASMailbox", {"Identity": "nobody@contoso.com"})
    with pytest.raises(UpstreamError, match="A parameter cannot be found"):
        m365.exchange.invoke("Get-CASMailbox", {"Identity": "printer@contoso.com", "Bogus": 1})


def test_error_text_preference_order():
    body = {"error": {"message": "Invalid Operation", "details": [{"message": "Ex1|Type|From details"}],
                      "innererror": {"internalexception": {"message": "From inner"}}}}
    assert error_text(body) == "From details"
    del body["error"]["details"]
    assert error_text(body) == "From inner"
    del body["error"]["innererror"]
    assert error_text(body) == "Invalid Operation"
    assert error_text(None) == ""


def test_exchange_503_retried_with_retry_after(sandbox, m365, clock):
    sandbox.state.faults.add("status", service="exchange", cmdlet="Get-TransportConfig", status=429,
                             retry_after="3")
    assert m365.exchange.invoke("Get-TransportConfig").value[0]["SmtpClientAuthenticationDisabled"] is True
    assert clock.sleeps == [3.0]


def test_wrong_secret_is_a_clear_error_without_the_secret(sandbox, make_m365):
    wrong = "definitely-not-the-secret-value"
    with pytest.raises(AuthenticationFailed) as err:
        make_m365(client_secret=wrong).graph.get(SECURITY_DEFAULTS_PATH, READ)
    text = err.value.describe()
    assert "7000215" in text and "secret" in text.lower() and wrong not in text


def test_certificate_credential(sandbox, make_m365, tmp_path: Path):
    _, client_id, _ = sandbox.creds()
    issued = sandbox.ca.issue_client_cert("app-credential")
    sandbox.state.register_certificate(client_id, issued.cert_pem)
    pem = tmp_path / "app.pem"
    pem.write_text(issued.key_pem + issued.cert_pem)
    m365 = make_m365(client_secret=None, client_cert_path=str(pem))
    assert m365.tokens.credential_kind == "certificate"
    assert m365.graph.get(SECURITY_DEFAULTS_PATH, READ)["isEnabled"] is False


def test_requests_ca_bundle_in_the_environment_does_not_override_the_sandbox_ca(sandbox, m365, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert m365.exchange.invoke("Get-TransportConfig").value
