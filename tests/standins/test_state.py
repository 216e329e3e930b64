"""Seeded tenant state, its mutators and reset, and the request log that never holds a secret."""

from __future__ import annotations

import msal
import pytest

from bot.clock import FakeClock
from sandbox.launcher import Sandbox
from sandbox.state import SandboxState

from .conftest import EXCHANGE, GRAPH, Api

CONTOSO = "8f3c2a10-5b7e-4d21-9a6c-3e1f0c7d5b42"
FABRIKAM = "2d9e6b31-7a4c-4f08-b5d2-8c1e3f6a9d70"


@pytest.fixture(scope="module")
def state() -> SandboxState:
    return SandboxState(clock=FakeClock())


@pytest.mark.parametrize("ref", ["contoso", CONTOSO, "CONTOSO.COM", "contoso.onmicrosoft.com"])
def test_tenants_by_key_id_or_domain(state: SandboxState, ref: str) -> None:
    assert state.tenant(ref).key == "contoso"
    assert state.find_tenant("nowhere.example") is None


@pytest.mark.parametrize(
    ("upn", "blocker"),
    [
        ("printer@contoso.com", lambda u, t: u.mailbox.smtp_client_authentication_disabled is False),
        ("scanner@contoso.com", lambda u, t: u.mailbox.smtp_client_authentication_disabled is True),
        (
            "copier@contoso.com",
            lambda u, t: (
                u.mailbox.smtp_client_authentication_disabled is None
                and t.smtp_client_authentication_disabled
            ),
        ),
        ("erp@contoso.com", lambda u, t: u.per_user_mfa_state == "enforced"),
        ("crm@contoso.com", lambda u, t: u.id in t.group("Legacy auth blocked").members),
        (
            "fax@contoso.com",
            lambda u, t: not t.authentication_policy(u.authentication_policy).switches["AllowBasicAuthSmtp"],
        ),
        ("oldscanner@contoso.com", lambda u, t: not u.account_enabled),
        ("kiosk@contoso.com", lambda u, t: u.mailbox is None and u.assigned_licenses == []),
        (
            "admin@contoso.com",
            lambda u, t: [r.display_name for r in t.member_of(u)] == ["Global Administrator"],
        ),
        (
            "breakglass@contoso.com",
            lambda u, t: all(
                u.id in p["conditions"]["users"]["excludeUsers"] for p in t.conditional_access_policies
            ),
        ),
        (
            "mfp@fabrikam.com",
            lambda u, t: t.security_defaults_enabled and not t.smtp_client_authentication_disabled,
        ),
    ],
)
def test_seeded_blockers(state: SandboxState, upn: str, blocker) -> None:
    tenant = state.tenant(upn.split("@")[1])
    user = tenant.user(upn)
    assert blocker(user, tenant)
    assert user.smtp_password or user.mailbox is None


def test_apps_and_secrets(state: SandboxState) -> None:
    contoso, fabrikam = state.tenant("contoso").apps[0], state.tenant("fabrikam").apps[0]
    assert contoso.client_id != fabrikam.client_id
    assert contoso.client_secret != fabrikam.client_secret and len(contoso.client_secret) >= 32
    assert contoso.directory_roles == {"Exchange Administrator"}
    secret = state.client_secret(contoso.client_id)
    state.reset()
    assert (
        state.client_secret(contoso.client_id) == secret
    )  # stable for the process, so sandbox.env stays valid
    assert SandboxState().client_secret(contoso.client_id) != secret


def test_add_user_defaults(state: SandboxState) -> None:
    user = state.add_user("contoso", "new@contoso.com")
    assert (
        user.account_enabled,
        user.mailbox.smtp_client_authentication_disabled,
        user.per_user_mfa_state,
    ) == (True, None, "disabled")
    assert user.assigned_licenses and user.mail == "new@contoso.com"
    with pytest.raises(ValueError):
        state.add_user("contoso", "NEW@contoso.com")
    with pytest.raises(ValueError):
        state.add_user("contoso", "x@contoso.com", authentication_policy="No Such Policy")
    with pytest.raises(ValueError):
        state.grant(state.tenant("contoso").apps[0].client_id, "Chief Wizard")
    state.reset()
    assert state.tenant("contoso").user("new@contoso.com") is None


def test_seed_from_a_dict() -> None:
    seed = {
        "tenants": {
            "t": {
                "id": CONTOSO,
                "displayName": "T",
                "domains": ["t.example"],
                "users": [{"userPrincipalName": "a@t.example", "mailbox": None}],
            }
        }
    }
    state = SandboxState(seed)
    assert state.tenant("t").user("a@t.example").mailbox is None
    with pytest.raises(ValueError, match="unknown keys"):
        SandboxState(
            {
                "tenants": {
                    "t": {**seed["tenants"]["t"], "users": [{"userPrincipalName": "a@t", "mialbox": None}]}
                }
            }
        )


def test_new_user_is_visible_over_the_wire(api: Api, sb: Sandbox) -> None:
    sb.state.add_user(
        "fabrikam",
        "desk@fabrikam.com",
        smtp_client_authentication_disabled=True,
        per_user_mfa_state="enforced",
    )
    token = api.token(tenant="fabrikam")
    assert api.graph("GET", "/users/desk@fabrikam.com", token=token).status_code == 200
    mailbox = api.exo("Get-CASMailbox", {"Identity": "desk@fabrikam.com"}, tenant="fabrikam").json()["value"][
        0
    ]
    assert mailbox["SmtpClientAuthenticationDisabled"] is True


def test_reset_restores_the_seed(api: Api, sb: Sandbox) -> None:
    api.graph("PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", json={"isEnabled": True})
    api.exo("Set-CASMailbox", {"Identity": "scanner", "SmtpClientAuthenticationDisabled": False})
    api.exo("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False})
    sb.state.revoke(sb.creds()[1], "Exchange Administrator")
    sb.state.faults.add("drop")
    sb.state.token_lifetime = 5
    sb.state.set_basic_auth_retired(True)
    sb.reset()
    contoso = sb.state.tenant("contoso")
    assert contoso.security_defaults_enabled is False
    assert contoso.user("scanner@contoso.com").mailbox.smtp_client_authentication_disabled is True
    assert contoso.smtp_client_authentication_disabled is True
    assert contoso.apps[0].directory_roles == {"Exchange Administrator"}
    assert (
        sb.state.faults.rules,
        len(sb.state.requests),
        sb.state.token_lifetime,
        sb.state.basic_auth_retired,
    ) == ([], 0, 3599, False)


def test_requests_are_recorded_without_secrets(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    tenant_id, client_id, secret = sb.creds()
    cert = sb.ca.issue_client_cert("recorded")
    sb.state.register_certificate(client_id, cert.cert_pem)
    tokens = []
    for credential in (secret, cert.msal_credential(), "a-wrong-secret"):
        app = msal.ConfidentialClientApplication(
            client_id,
            authority=f"{sb.url}/{tenant_id}",
            client_credential=credential,
            instance_discovery=False,
            verify=str(sb.ca_path),
        )
        tokens += [
            app.acquire_token_for_client(scopes=[scope]).get("access_token") for scope in (GRAPH, EXCHANGE)
        ]
    api = Api(sb)
    api.graph("GET", "/users/printer@contoso.com", token=tokens[0])
    api.exo("Get-CASMailbox", {"Identity": "printer"}, token=tokens[1])
    recorded = repr(sb.state.requests.snapshot()) + repr(sb.state.faults.fired)
    for sensitive in (secret, "a-wrong-secret", cert.key_pem.splitlines()[1], *filter(None, tokens)):
        assert sensitive not in recorded
    assert "client_assertion" not in recorded and "eyJ" not in recorded
    counts = sb.state.requests.count_by_service()
    assert counts["graph"] == 1 and counts["exchange"] == 1 and counts["login"] >= 6
