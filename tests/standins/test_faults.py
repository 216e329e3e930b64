"""Fault injection, in process and through the control plane: every kind, matching, counting and recording."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, Api

USER = "/users/printer@contoso.com"


def test_status_fault_with_retry_after_on_graph(api: Api, sb: Sandbox) -> None:
    token = api.token()
    sb.state.faults.add("status", service="graph", path="^/v1.0/users/", status=429, retry_after="2.128")
    response = api.graph("GET", USER, token=token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.128"
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert "request-id" in response.headers
    assert api.graph("GET", USER, token=token).status_code == 200


def test_status_fault_on_exchange_cmdlet(api: Api, sb: Sandbox) -> None:
    token = api.token(EXCHANGE)
    sb.state.faults.add("status", service="exchange", cmdlet="set-casmailbox", status=429, times=None)
    assert api.exo("Get-CASMailbox", {"Identity": "printer"}, token=token).status_code == 200
    for _ in range(2):
        response = api.exo("Set-CASMailbox", {"Identity": "printer", "ImapEnabled": False}, token=token)
        assert response.status_code == 429
        details = response.json()["error"]["details"][0]["message"]
        assert details.endswith(
            "You have reached the maximum number of concurrent requests per tenant. "
            "Please wait and try again."
        )
    assert sb.state.tenant("contoso").user("printer@contoso.com").mailbox.protocols["ImapEnabled"] is True


def test_an_exchange_fault_can_fail_one_mailbox_of_many(api: Api, sb: Sandbox) -> None:
    token = api.token(EXCHANGE)
    sb.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", identity="Printer@Contoso.com",
                        status=500, times=None)
    failed = api.exo("Set-CASMailbox", {"Identity": "printer@contoso.com", "ImapEnabled": False}, token=token)
    passed = api.exo("Set-CASMailbox", {"Identity": "scanner@contoso.com", "ImapEnabled": False}, token=token)
    assert (failed.status_code, passed.status_code) == (500, 200)
    contoso = sb.state.tenant("contoso")
    assert contoso.user("printer@contoso.com").mailbox.protocols["ImapEnabled"] is True
    assert contoso.user("scanner@contoso.com").mailbox.protocols["ImapEnabled"] is False


def test_status_fault_on_login_and_custom_body(api: Api, sb: Sandbox) -> None:
    sb.state.faults.add("status", service="login", method="POST", status=503, times=2)
    assert api.post_token().json()["error"] == "temporarily_unavailable"
    sb.state.faults.clear()
    sb.state.faults.add("status", service="graph", status=500, body={"custom": True})
    assert api.graph("GET", USER).json() == {"custom": True}


def test_latency_fault_then_normal_answer(api: Api, sb: Sandbox) -> None:
    token = api.token()
    sb.state.faults.add("latency", service="graph", seconds=0.05)
    started = time.monotonic()
    assert api.graph("GET", USER, token=token).status_code == 200
    assert time.monotonic() - started >= 0.05


def test_malformed_fault(api: Api, sb: Sandbox) -> None:
    sb.state.faults.add("malformed", service="exchange")
    response = api.exo("Get-TransportConfig")
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_nul403_fault(api: Api, sb: Sandbox) -> None:
    token = api.token()
    sb.state.faults.add("nul403", path="identitySecurityDefaults")
    response = api.graph(
        "GET", "/policies/identitySecurityDefaultsEnforcementPolicy", token=token, stream=True
    )
    assert (response.status_code, response.headers["Content-Encoding"]) == (403, "gzip")
    assert set(response.raw.read(decode_content=False)) == {0}


def test_drop_fault_closes_the_connection(api: Api, sb: Sandbox) -> None:
    token = api.token()
    sb.state.faults.add("drop", service="graph")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.graph("GET", USER, token=token)
    assert api.graph("GET", USER, token=token).status_code == 200
    dropped = sb.state.requests.for_service("graph")[0]
    assert (dropped.status, dropped.fault) == (0, "drop")


def test_apply_first_makes_the_change_then_fails_the_answer(api: Api, sb: Sandbox) -> None:
    """"Apply then fail": what Microsoft does when a write lands but the answer times out or errors."""
    token = api.token(EXCHANGE)
    sb.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=503, apply_first=True)
    response = api.exo("Set-CASMailbox", {"Identity": "printer", "ImapEnabled": False}, token=token)
    assert response.status_code == 503
    assert sb.state.tenant("contoso").user("printer@contoso.com").mailbox.protocols["ImapEnabled"] is False
    sb.state.faults.add("drop", service="graph", method="PATCH", apply_first=True)
    policy = "/policies/identitySecurityDefaultsEnforcementPolicy"
    with pytest.raises(requests.exceptions.ConnectionError):
        api.graph("PATCH", policy, token=api.token(), json={"isEnabled": True})
    assert sb.state.tenant("contoso").security_defaults_enabled is True


def test_fault_matching_and_counting(api: Api, sb: Sandbox) -> None:
    token = api.token()
    beta_only = sb.state.faults.add("status", method="GET", path="^/beta/", status=503, times=2)
    assert api.graph("GET", USER, token=token).status_code == 200
    assert [api.graph("GET", USER, token=token, version="beta").status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]
    assert beta_only.fired == 2
    assert [f.rule_id for f in sb.state.faults.fired] == [beta_only.id, beta_only.id]
    assert [r.fault for r in sb.state.requests.for_service("graph")] == [None, "status", "status", None]


def test_outer_batch_fault_is_not_an_item_fault(api: Api, sb: Sandbox) -> None:
    sb.state.faults.add("status", service="graph", in_batch=False, path=r"\$batch", status=503)
    items = [{"id": "1", "method": "GET", "url": USER}]
    assert api.graph("POST", "/$batch", json={"requests": items}).status_code == 503
    assert api.graph("POST", "/$batch", json={"requests": items}).json()["responses"][0]["status"] == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "explode"},
        {"kind": "status", "service": "smtp"},
        {"kind": "status", "colour": "red"},
        ["status"],
    ],
)
def test_invalid_rules_are_refused(sb: Sandbox, api: Api, rule: object) -> None:
    response = requests.post(f"{sb.url}/_sandbox/faults", json=rule, verify=api.verify, timeout=5)
    assert response.status_code == 400


def test_control_plane(sb: Sandbox, api: Api) -> None:
    base = f"{sb.url}/_sandbox"
    health = requests.get(f"{base}/health", verify=api.verify, timeout=5).json()
    assert health == {
        "status": "ok",
        "tenants": {"contoso": sb.creds()[0], "fabrikam": sb.creds("fabrikam")[0]},
    }
    rule = {"kind": "status", "service": "graph", "status": 429, "retry_after": 0.5, "times": None}
    created = requests.post(f"{base}/faults", json=rule, verify=api.verify, timeout=5)
    assert created.status_code == 201 and created.json()["retry_after"] == "0.5"
    token = api.token()
    assert api.graph("GET", USER, token=token).headers["Retry-After"] == "0.5"
    listed = requests.get(f"{base}/faults", verify=api.verify, timeout=5).json()["rules"]
    assert [(r["id"], r["fired"]) for r in listed] == [(created.json()["id"], 1)]
    gone = requests.delete(
        f"{base}/faults", params={"id": created.json()["id"]}, verify=api.verify, timeout=5
    )
    assert gone.status_code == 204
    assert api.graph("GET", USER, token=token).status_code == 200
    requests.post(f"{base}/faults", json={"kind": "drop"}, verify=api.verify, timeout=5)
    assert requests.delete(f"{base}/faults", verify=api.verify, timeout=5).status_code == 204
    assert sb.state.faults.rules == []
    sb.state.tenant("contoso").security_defaults_enabled = True
    assert requests.post(f"{base}/reset", verify=api.verify, timeout=5).json() == {"status": "reset"}
    assert sb.state.tenant("contoso").security_defaults_enabled is False
    assert len(sb.state.requests) == 0  # the control plane is not recorded; reset cleared the rest
