"""Exchange redirects, the concurrency-limit answer and client-request-id, over HTTPS against the sandbox."""

from __future__ import annotations

import uuid

import pytest

from bot.errors import Throttled, UpstreamError
from bot.m365.graph import Op
from handlers.facts import SECURITY_DEFAULTS_PATH

READ = Op("read security defaults", "Policy.Read.All")


def exchange_calls(sandbox) -> list:
    return sandbox.state.requests.for_service("exchange")


def test_a_redirect_is_re_posted_with_its_headers_and_remembered(sandbox, m365):
    sandbox.state.faults.add("redirect", service="exchange", cmdlet="Get-TransportConfig")
    assert m365.exchange.invoke("Get-TransportConfig").value[0]["Identity"] == "Transport Settings"
    m365.exchange.invoke("Get-OrganizationConfig")
    calls = [(r.method, r.host.split(":")[0], r.status) for r in exchange_calls(sandbox)]
    assert calls == [("POST", "localhost", 302), ("POST", "127.0.0.1", 200), ("POST", "127.0.0.1", 200)]


def test_redirects_are_bounded(sandbox, m365):
    sandbox.state.faults.add("redirect", service="exchange", times=None)
    with pytest.raises(UpstreamError, match="more than 3 redirects"):
        m365.exchange.invoke("Get-TransportConfig")
    assert len(exchange_calls(sandbox)) == 4


def test_the_concurrency_limit_answer_is_retried_whatever_its_status(sandbox, m365, clock):
    sandbox.state.faults.add("concurrency", service="exchange", status=500)
    assert m365.exchange.invoke("Get-TransportConfig").value
    assert [r.status for r in exchange_calls(sandbox)] == [500, 200] and len(clock.sleeps) == 1


def test_the_concurrency_limit_that_outlasts_the_retries_is_throttled(sandbox, m365):
    sandbox.state.faults.add("concurrency", service="exchange", status=400, times=None)
    with pytest.raises(Throttled) as err:
        m365.exchange.invoke("Get-TransportConfig")
    assert err.value.client_request_id == exchange_calls(sandbox)[-1].client_request_id


def test_every_request_carries_a_fresh_client_request_id(sandbox, m365):
    m365.graph.get(SECURITY_DEFAULTS_PATH, READ)
    m365.exchange.invoke("Get-TransportConfig")
    m365.exchange.invoke("Get-TransportConfig")
    ids = [r.client_request_id for r in sandbox.state.requests if r.service != "login"]
    assert len(ids) == 3 == len(set(ids)) and all(uuid.UUID(i) for i in ids)


def test_errors_quote_client_request_id_and_request_id(sandbox, m365):
    sandbox.state.faults.add("status", service="exchange", status=500, times=None)  # reads retry a 500
    with pytest.raises(UpstreamError) as err:
        m365.exchange.invoke("Get-TransportConfig")
    sent = exchange_calls(sandbox)[-1].client_request_id
    assert err.value.client_request_id == sent and err.value.request_id
    assert f"client-request-id {sent}, request-id {err.value.request_id}" in err.value.message
    sandbox.state.faults.add("status", service="graph", path="identitySecurityDefaults", status=500,
                             times=None)
    with pytest.raises(UpstreamError) as err:
        m365.graph.get(SECURITY_DEFAULTS_PATH, READ)
    assert err.value.client_request_id == sandbox.state.requests.for_service("graph")[-1].client_request_id
