"""Entra ID stand-in: discovery, client-credential tokens through unmodified MSAL, Entra's error shapes."""

from __future__ import annotations

import time
import uuid

import jwt
import msal
import pytest
import requests

from sandbox.entra import signing_key
from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, GRAPH, Api

EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"


def claims_of(token: str) -> dict:
    options = {"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    return jwt.decode(token, signing_key()[0].public_key(), algorithms=["RS256"], options=options)


def msal_app(sb: Sandbox, credential: object, tenant: str = "contoso") -> msal.ConfidentialClientApplication:
    tenant_id, client_id, _ = sb.creds(tenant)
    return msal.ConfidentialClientApplication(
        client_id,
        authority=f"{sb.url}/{tenant_id}",
        client_credential=credential,
        instance_discovery=False,
        verify=str(sb.ca_path),
    )


@pytest.fixture
def no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE override a session's verify=, which is how MSAL applies its own."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.mark.parametrize(
    "tenant_ref", ["8f3c2a10-5b7e-4d21-9a6c-3e1f0c7d5b42", "contoso.com", "contoso.onmicrosoft.com"]
)
def test_discovery_names_guid_endpoints(api: Api, sb: Sandbox, tenant_ref: str) -> None:
    doc = requests.get(
        f"{sb.url}/{tenant_ref}/v2.0/.well-known/openid-configuration", verify=api.verify, timeout=5
    ).json()
    tid = "8f3c2a10-5b7e-4d21-9a6c-3e1f0c7d5b42"
    assert doc["token_endpoint"] == f"{sb.url}/{tid}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{sb.url}/{tid}/v2.0"
    assert doc["authorization_endpoint"] == f"{sb.url}/{tid}/oauth2/v2.0/authorize"
    keys = requests.get(doc["jwks_uri"], verify=api.verify, timeout=5).json()["keys"]
    assert keys[0]["kid"] == signing_key()[1]


def test_discovery_of_unknown_tenant_is_400(api: Api, sb: Sandbox) -> None:
    response = requests.get(
        f"{sb.url}/nowhere.example/v2.0/.well-known/openid-configuration", verify=api.verify, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert response.json()["error_codes"] == [90002]


def test_msal_with_secret_and_verify(sb: Sandbox, no_ca_env: None) -> None:
    app = msal_app(sb, sb.creds()[2])
    graph = app.acquire_token_for_client(scopes=[GRAPH])
    exchange = app.acquire_token_for_client(scopes=[EXCHANGE])
    assert graph["token_type"] == "Bearer" and graph["expires_in"] == 3599
    g, x = claims_of(graph["access_token"]), claims_of(exchange["access_token"])
    tenant = sb.state.tenant("contoso")
    assert g["aud"] == "https://graph.microsoft.com" and x["aud"] == "https://outlook.office365.com"
    assert g["tid"] == x["tid"] == tenant.id
    assert g["appid"] == sb.creds()[1] and g["appidacr"] == "1"
    assert g["oid"] == tenant.apps[0].service_principal_id
    assert g["roles"] == sorted(tenant.apps[0].graph_roles)
    assert x["roles"] == ["Exchange.ManageAsApp"]
    assert x["wids"] == [EXCHANGE_ADMIN]
    assert g["exp"] - g["iat"] == 3599
    assert app.acquire_token_for_client(scopes=[GRAPH])["token_source"] == "cache"


def test_msal_with_session_that_ignores_the_environment(sb: Sandbox) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sb.ca_path)
    tenant_id, client_id, secret = sb.creds("fabrikam")
    app = msal.ConfidentialClientApplication(
        client_id,
        authority=f"{sb.url}/fabrikam.com",
        client_credential=secret,
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH])
    assert claims_of(result["access_token"])["tid"] == tenant_id


@pytest.mark.parametrize("form", ["thumbprint", "public_certificate"])
def test_msal_with_certificate(sb: Sandbox, no_ca_env: None, form: str) -> None:
    cert = sb.ca.issue_client_cert(f"client-{form}")
    assert sb.state.register_certificate(sb.creds()[1], cert.cert_pem) == cert.sha1_thumbprint
    credential = {
        "private_key": cert.key_pem,
        form: cert.msal_credential()[form],
    }  # RS256+x5t, or PS256+x5t#S256
    result = msal_app(sb, credential).acquire_token_for_client(scopes=[EXCHANGE])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appidacr"] == "2"


def test_msal_with_unregistered_certificate(sb: Sandbox, no_ca_env: None) -> None:
    cert = sb.ca.issue_client_cert("unregistered")
    result = msal_app(sb, cert.msal_credential()).acquire_token_for_client(scopes=[GRAPH])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert cert.sha1_thumbprint.upper() in result["error_description"]


def test_msal_with_bad_secret_returns_invalid_client(sb: Sandbox, no_ca_env: None) -> None:
    result = msal_app(sb, "not-the-secret").acquire_token_for_client(scopes=[GRAPH])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(result)


def test_bad_secret_is_http_401(api: Api) -> None:
    response = api.post_token(client_secret="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_client_is_unauthorized_client(api: Api) -> None:
    response = api.post_token(client_id=str(uuid.uuid4()))
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["error_codes"]) == ("unauthorized_client", [700016])


def test_client_of_another_tenant_is_unknown_here(api: Api, sb: Sandbox) -> None:
    response = api.post_token(client_id=sb.creds("fabrikam")[1])
    assert response.json()["error_codes"] == [700016]


def test_unknown_tenant_is_invalid_request(api: Api, sb: Sandbox) -> None:
    response = requests.post(
        f"{sb.url}/{uuid.uuid4()}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sb.creds()[1],
            "client_secret": "x",
            "scope": GRAPH,
        },
        verify=api.verify,
        timeout=5,
    )
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["error_codes"]) == ("invalid_request", [90002])


@pytest.mark.parametrize(
    ("scope", "error", "code"),
    [
        ("User.Read.All", "invalid_scope", 1002012),
        ("https://graph.microsoft.com/User.Read.All", "invalid_scope", 1002012),
        ("https://nothing.example/.default", "invalid_resource", 500011),
        (f"{GRAPH} {EXCHANGE}", "invalid_scope", 28000),
    ],
)
def test_bad_scope(api: Api, scope: str, error: str, code: int) -> None:
    response = api.post_token(scope)
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["error_codes"]) == (error, [code])


def test_missing_credential(api: Api) -> None:
    tenant_id, client_id, _ = api.sb.creds()
    response = requests.post(
        f"{api.sb.url}/{tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "scope": GRAPH},
        verify=api.verify,
        timeout=5,
    )
    assert (response.status_code, response.json()["error_codes"]) == (401, [7000218])


def test_national_cloud_scope_sets_audience(api: Api) -> None:
    assert claims_of(api.token("https://graph.microsoft.us/.default"))["aud"] == "https://graph.microsoft.us"


def test_token_lifetime_and_grants_follow_state(api: Api, sb: Sandbox) -> None:
    sb.state.token_lifetime = 60
    client_id = sb.creds()[1]
    sb.state.grant(client_id, "SMTP.SendAsApp")
    sb.state.grant(client_id, "Global Reader")
    sb.state.revoke(client_id, "Policy.Read.All")
    response = api.post_token(EXCHANGE)
    assert response.json()["expires_in"] == 60
    claims = claims_of(response.json()["access_token"])
    assert claims["exp"] - claims["iat"] == 60
    assert claims["roles"] == ["Exchange.ManageAsApp", "SMTP.SendAsApp"]
    assert claims["wids"] == sorted([EXCHANGE_ADMIN, "f2ef992c-3afb-46b9-b7cf-a126ee74c451"])
    assert "Policy.Read.All" not in claims_of(api.token())["roles"]


def test_token_times_come_from_the_sandbox_clock(api: Api, sb: Sandbox) -> None:
    sb.state.clock.advance(86400)
    assert claims_of(api.token())["iat"] == int(sb.state.clock.now().timestamp())


def _assertion(sb: Sandbox, key_pem: str, thumbprint: str, **claims: object) -> str:
    tenant_id, client_id, _ = sb.creds()
    now = time.time()
    payload = {
        "aud": f"{sb.url}/{tenant_id}/oauth2/v2.0/token",
        "iss": client_id,
        "sub": client_id,
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    return jwt.encode(
        payload,
        key_pem,
        algorithm="RS256",
        headers={"x5t": jwt.utils.base64url_encode(bytes.fromhex(thumbprint)).decode()},
    )


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({}, None),
        ({"aud": "https://elsewhere.example/token"}, 50012),
        ({"iss": "someone-else"}, 700021),
        ({"exp": time.time() - 3600, "iat": time.time() - 4000}, 700024),
    ],
)
def test_client_assertion_checks(api: Api, sb: Sandbox, claims: dict, code: int | None) -> None:
    cert = sb.ca.issue_client_cert("assertion")
    sb.state.register_certificate(sb.creds()[1], cert.cert_pem)
    response = api.post_token(
        client_secret=None,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(sb, cert.key_pem, cert.sha1_thumbprint, **claims),
    )
    if code is None:
        assert response.status_code == 200, response.text
    else:
        assert (response.status_code, response.json()["error_codes"]) == (401, [code])


def test_assertion_signed_by_another_key(api: Api, sb: Sandbox) -> None:
    registered, other = sb.ca.issue_client_cert("registered"), sb.ca.issue_client_cert("other")
    sb.state.register_certificate(sb.creds()[1], registered.cert_pem)
    response = api.post_token(
        client_secret=None,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(sb, other.key_pem, registered.sha1_thumbprint),
    )
    assert (response.status_code, response.json()["error_codes"]) == (401, [700027])
    assert "did not match" in response.json()["error_description"]
