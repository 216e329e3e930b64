"""Graph stand-in over HTTPS: users, memberships, policies, per-user MFA, token checks and JSON batching."""

from __future__ import annotations

import pytest

from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, Api

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return response.status_code, error["code"], error["message"]


def test_user_default_properties_and_select(api: Api, sb: Sandbox) -> None:
    user = sb.state.tenant("contoso").user("printer@contoso.com")
    default = api.graph("GET", "/users/PRINTER@contoso.com").json()
    assert default["id"] == user.id and default["userPrincipalName"] == "printer@contoso.com"
    assert "accountEnabled" not in default and "assignedLicenses" not in default
    assert default["@odata.context"] == f"{sb.url}/v1.0/$metadata#users/$entity"
    selected = api.graph(
        "GET", f"/users/{user.id}", params={"$select": "id,accountEnabled,assignedLicenses,userType,mail"}
    ).json()
    assert selected["@odata.context"].endswith(
        "#users(id,accountEnabled,assignedLicenses,userType,mail)/$entity"
    )
    assert selected["accountEnabled"] is True and selected["userType"] == "Member"
    assert selected["assignedLicenses"] == [
        {"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "disabledPlans": []}
    ]
    assert set(selected) == {"@odata.context", "id", "accountEnabled", "assignedLicenses", "userType", "mail"}


def test_unlicensed_and_disabled_users(api: Api) -> None:
    kiosk = api.graph("GET", "/users/kiosk@contoso.com", params={"$select": "assignedLicenses,mail"}).json()
    old = api.graph("GET", "/users/oldscanner@contoso.com", params={"$select": "accountEnabled"}).json()
    assert (kiosk["assignedLicenses"], kiosk["mail"], old["accountEnabled"]) == ([], None, False)


def test_unknown_user_is_404(api: Api) -> None:
    response = api.graph("GET", "/users/ghost@contoso.com", headers={"client-request-id": "abc"})
    assert error_of(response) == (
        404,
        "Request_ResourceNotFound",
        "Resource 'ghost@contoso.com' does not exist or one of its queried reference-property objects are "
        "not present.",
    )
    assert response.headers["client-request-id"] == "abc"
    assert response.json()["error"]["innerError"]["request-id"] == response.headers["request-id"]


def test_unknown_select_property_is_400(api: Api) -> None:
    assert error_of(api.graph("GET", "/users/printer@contoso.com", params={"$select": "id,shoeSize"}))[
        :2
    ] == (400, "BadRequest")


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("", "Access token is empty."),
        ("Bearer not.a.jwt", "Access token validation failure."),
    ],
)
def test_missing_or_garbage_token_is_401(api: Api, sb: Sandbox, authorization: str, message: str) -> None:
    import requests

    response = requests.get(
        f"{sb.url}/v1.0/users/printer@contoso.com",
        headers={"Authorization": authorization},
        verify=api.verify,
        timeout=5,
    )
    assert error_of(response) == (401, "InvalidAuthenticationToken", message)
    assert "WWW-Authenticate" in response.headers


def test_exchange_token_on_graph_is_401(api: Api) -> None:
    response = api.graph("GET", "/users/printer@contoso.com", token=api.token(EXCHANGE))
    assert error_of(response) == (
        401,
        "InvalidAuthenticationToken",
        "Access token validation failure. Invalid audience.",
    )


def test_token_expires_on_the_sandbox_clock(api: Api, sb: Sandbox) -> None:
    token = api.token()
    assert api.graph("GET", "/users/printer@contoso.com", token=token).status_code == 200
    sb.state.clock.advance(3599)
    response = api.graph("GET", "/users/printer@contoso.com", token=token)
    assert error_of(response) == (
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    )
    assert api.graph("GET", "/users/printer@contoso.com").status_code == 200


def test_revoked_permission_is_403_with_a_new_token(api: Api, sb: Sandbox) -> None:
    old_token = api.token()
    sb.state.revoke(sb.creds()[1], "Policy.Read.All")
    new_token = api.token()
    assert (
        api.graph("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", token=old_token).status_code
        == 200
    )
    response = api.graph("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", token=new_token)
    assert error_of(response) == (
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    assert api.graph("GET", "/users/printer@contoso.com", token=new_token).status_code == 200


def test_security_defaults_patch_persists(api: Api, sb: Sandbox) -> None:
    token = api.token(tenant="fabrikam")
    before = api.graph("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", token=token).json()
    assert before["isEnabled"] is True and before["id"] == "00000000-0000-0000-0000-000000000005"
    patched = api.graph(
        "PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", token=token, json={"isEnabled": False}
    )
    assert (patched.status_code, patched.content) == (204, b"")
    after = api.graph("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", token=token).json()
    assert after["isEnabled"] is False
    assert sb.state.tenant("contoso").security_defaults_enabled is False  # other tenant untouched


@pytest.mark.parametrize(
    "body",
    [{"isEnabled": "no"}, {"displayName": "x"}, {"isEnabled": False, "colour": "red"}, {}, ["isEnabled"]],
)
def test_security_defaults_patch_rejects_bad_bodies(api: Api, body: object) -> None:
    response = api.graph("PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", json=body)
    assert error_of(response)[:2] == (400, "BadRequest")


def test_security_defaults_patch_needs_write_permission(api: Api, sb: Sandbox) -> None:
    sb.state.revoke(sb.creds()[1], "Policy.ReadWrite.SecurityDefaults")
    response = api.graph(
        "PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", json={"isEnabled": True}
    )
    assert error_of(response)[:2] == (403, "Authorization_RequestDenied")
    sb.state.grant(sb.creds()[1], "Policy.ReadWrite.ConditionalAccess")
    assert (
        api.graph(
            "PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", json={"isEnabled": True}
        ).status_code
        == 204
    )


def test_conditional_access_policies(api: Api, sb: Sandbox) -> None:
    body = api.graph("GET", "/identity/conditionalAccess/policies").json()
    tenant = sb.state.tenant("contoso")
    policies = {p["displayName"]: p for p in body["value"]}
    assert body["@odata.context"] == f"{sb.url}/v1.0/$metadata#identity/conditionalAccess/policies"
    legacy = policies["Block legacy authentication"]
    assert legacy["state"] == "enabled"
    assert legacy["conditions"]["clientAppTypes"] == ["exchangeActiveSync", "other"]
    assert legacy["conditions"]["applications"]["includeApplications"] == ["All"]
    assert legacy["conditions"]["users"]["includeGroups"] == [tenant.group("Legacy auth blocked").id]
    assert legacy["conditions"]["users"]["excludeUsers"] == [tenant.user("breakglass@contoso.com").id]
    assert legacy["grantControls"] == {
        "operator": "OR",
        "builtInControls": ["block"],
        "customAuthenticationFactors": [],
        "termsOfUse": [],
        "authenticationStrength": None,
    }
    assert policies["Require MFA for admins"]["conditions"]["users"]["includeRoles"] == [GLOBAL_ADMIN]
    assert (
        policies["Report-only: block legacy auth for everyone"]["state"]
        == "enabledForReportingButNotEnforced"
    )
    fabrikam = api.graph(
        "GET", "/identity/conditionalAccess/policies", token=api.token(tenant="fabrikam")
    ).json()
    assert fabrikam["value"] == []


def test_transitive_member_of_with_paging(api: Api, sb: Sandbox) -> None:
    sb.state.add_user(
        "contoso", "ops@contoso.com", groups=["Legacy auth blocked"], roles=["Global Administrator"]
    )
    first = api.graph(
        "GET",
        "/users/ops@contoso.com/transitiveMemberOf",
        params={"$select": "id,displayName,roleTemplateId", "$top": "1"},
    ).json()
    assert first["value"] == [
        {
            "@odata.type": "#microsoft.graph.group",
            "id": sb.state.tenant("contoso").group("Legacy auth blocked").id,
            "displayName": "Legacy auth blocked",
        }
    ]
    assert first["@odata.nextLink"].startswith(f"{sb.url}/v1.0/users/ops%40contoso.com/transitiveMemberOf?")
    second = api.graph("GET", first["@odata.nextLink"]).json()
    assert [(o["@odata.type"], o["roleTemplateId"]) for o in second["value"]] == [
        ("#microsoft.graph.directoryRole", GLOBAL_ADMIN)
    ]
    assert "@odata.nextLink" not in second


def test_transitive_member_of_needs_membership_permission(api: Api, sb: Sandbox) -> None:
    assert len(api.graph("GET", "/users/crm@contoso.com/transitiveMemberOf").json()["value"]) == 1
    sb.state.revoke(sb.creds()[1], "GroupMember.Read.All")
    assert error_of(api.graph("GET", "/users/crm@contoso.com/transitiveMemberOf"))[0] == 403


def test_role_objects_are_limited_without_role_management_read(api: Api, sb: Sandbox) -> None:
    """Without RoleManagement.Read.Directory a role comes back as @odata.type and id, the rest null."""
    path = "/users/admin@contoso.com/transitiveMemberOf?$select=id,roleTemplateId"
    [role] = api.graph("GET", path).json()["value"]
    assert role["roleTemplateId"] == GLOBAL_ADMIN
    sb.state.revoke(sb.creds()[1], "RoleManagement.Read.Directory")
    [role] = api.graph("GET", path).json()["value"]
    assert role["@odata.type"] == "#microsoft.graph.directoryRole" and role["id"]
    assert role["roleTemplateId"] is None


@pytest.mark.parametrize(
    ("upn", "requested", "result"),
    [
        ("printer@contoso.com", "enabled", "enabled"),  # no MFA method registered yet
        ("admin@contoso.com", "enabled", "enforced"),  # has a method: enabled becomes enforced
        ("erp@contoso.com", "disabled", "disabled"),
    ],
)
def test_per_user_mfa(api: Api, upn: str, requested: str, result: str) -> None:
    path = f"/users/{upn}/authentication/requirements"
    patched = api.graph("PATCH", path, version="beta", json={"perUserMfaState": requested})
    assert patched.status_code == 204
    body = api.graph("GET", path, version="beta").json()
    assert body["perUserMfaState"] == result
    assert "/beta/$metadata#users('" in body["@odata.context"]


def test_per_user_mfa_is_beta_only_and_validated(api: Api, sb: Sandbox) -> None:
    path = "/users/erp@contoso.com/authentication/requirements"
    assert api.graph("GET", path, version="beta").json()["perUserMfaState"] == "enforced"
    assert error_of(api.graph("GET", path))[:2] == (400, "BadRequest")
    assert error_of(api.graph("PATCH", path, version="beta", json={"perUserMfaState": "off"}))[0] == 400
    sb.state.revoke(sb.creds()[1], "Policy.ReadWrite.AuthenticationMethod")
    token = api.token()
    assert api.graph("GET", path, version="beta", token=token).status_code == 200  # Policy.Read.All reads
    assert (
        error_of(api.graph("PATCH", path, version="beta", token=token, json={"perUserMfaState": "disabled"}))[
            0
        ]
        == 403
    )


def test_batch_limit_is_20(api: Api) -> None:
    requests_ = [{"id": str(i), "method": "GET", "url": "/users/printer@contoso.com"} for i in range(21)]
    response = api.graph("POST", "/$batch", json={"requests": requests_})
    assert error_of(response)[:2] == (400, "BadRequest")


def test_batch_dispatches_each_item(api: Api, sb: Sandbox) -> None:
    items = [
        {"id": "1", "method": "GET", "url": "/users/printer@contoso.com?$select=id,accountEnabled"},
        {"id": "2", "method": "GET", "url": "users/ghost@contoso.com"},
        {"id": "3", "method": "GET", "url": "/users/erp@contoso.com/authentication/requirements"},
        {
            "id": "4",
            "method": "PATCH",
            "url": "/policies/identitySecurityDefaultsEnforcementPolicy",
            "headers": {"Content-Type": "application/json"},
            "body": {"isEnabled": True},
        },
        {
            "id": "5",
            "method": "GET",
            "url": "/policies/identitySecurityDefaultsEnforcementPolicy",
            "dependsOn": ["4"],
        },
        {
            "id": "6",
            "method": "GET",
            "url": "/users/ghost@contoso.com/transitiveMemberOf",
            "dependsOn": ["2"],
        },
    ]
    response = api.graph("POST", "/$batch", json={"requests": items})
    assert response.status_code == 200
    responses = response.json()["responses"]
    assert [r["id"] for r in responses] != [i["id"] for i in items]  # order is not preserved
    by_id = {r["id"]: r for r in responses}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["accountEnabled"] is True
    assert by_id["2"]["status"] == 404 and by_id["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["3"]["status"] == 405  # beta-only URL inside a v1.0 batch
    assert by_id["4"]["status"] == 204 and "body" not in by_id["4"]
    assert by_id["5"]["body"]["isEnabled"] is True
    assert by_id["6"]["status"] == 424
    assert sb.state.tenant("contoso").security_defaults_enabled is True
    record = sb.state.requests.for_service("graph")[-1]
    assert [(i.id, i.method, i.url, i.status) for i in record.batch_items][:2] == [
        ("1", "GET", "/users/printer@contoso.com?$select=id,accountEnabled", 200),
        ("2", "GET", "users/ghost@contoso.com", 404),
    ]


def test_beta_batch_reaches_beta_only_paths(api: Api) -> None:
    items = [
        {
            "id": "a",
            "method": "PATCH",
            "url": "/users/erp@contoso.com/authentication/requirements",
            "headers": {"content-type": "application/json"},
            "body": {"perUserMfaState": "disabled"},
        },
        {
            "id": "b",
            "method": "GET",
            "url": "/users/erp@contoso.com/authentication/requirements",
            "dependsOn": ["a"],
        },
    ]
    by_id = {
        r["id"]: r
        for r in api.graph("POST", "/$batch", version="beta", json={"requests": items}).json()["responses"]
    }
    assert by_id["a"]["status"] == 204
    assert by_id["b"]["body"]["perUserMfaState"] == "disabled"


@pytest.mark.parametrize(
    "payload",
    [
        {
            "requests": [
                {
                    "id": "1",
                    "method": "PATCH",
                    "url": "/policies/identitySecurityDefaultsEnforcementPolicy",
                    "body": {},
                }
            ]
        },
        {"requests": [{"id": "1", "method": "GET"}]},
        {
            "requests": [
                {"id": "1", "method": "GET", "url": "/users/x"},
                {"id": "1", "method": "GET", "url": "/users/y"},
            ]
        },
        {"nothing": []},
    ],
)
def test_bad_batches_are_400(api: Api, payload: dict) -> None:
    assert error_of(api.graph("POST", "/$batch", json=payload))[:2] == (400, "BadRequest")


def test_batch_item_throttled_with_retry_after(api: Api, sb: Sandbox) -> None:
    rule = sb.state.faults.add(
        "status", service="graph", path="/users/scanner", in_batch=True, status=429, retry_after="0.5"
    )
    items = [
        {"id": str(i), "method": "GET", "url": f"/users/{u}@contoso.com"}
        for i, u in enumerate(["printer", "scanner"])
    ]
    by_id = {r["id"]: r for r in api.graph("POST", "/$batch", json={"requests": items}).json()["responses"]}
    assert by_id["0"]["status"] == 200
    assert by_id["1"]["status"] == 429
    assert by_id["1"]["headers"]["Retry-After"] == "0.5"
    assert by_id["1"]["body"]["error"]["code"] == "TooManyRequests"
    assert rule.fired == 1
    assert [(f.path, f.in_batch) for f in sb.state.faults.fired] == [
        ("/v1.0/users/scanner@contoso.com", True)
    ]
    again = {r["id"]: r for r in api.graph("POST", "/$batch", json={"requests": items}).json()["responses"]}
    assert again["1"]["status"] == 200  # times=1


def test_unknown_path_and_method(api: Api) -> None:
    assert error_of(api.graph("GET", "/groups"))[:2] == (400, "BadRequest")
    assert error_of(api.graph("DELETE", "/users/printer@contoso.com"))[0] == 405


def test_batch_items_cannot_be_batches(api: Api) -> None:
    items = [
        {
            "id": "1",
            "method": "POST",
            "url": "/$batch",
            "headers": {"Content-Type": "application/json"},
            "body": {},
        }
    ]
    [item] = api.graph("POST", "/$batch", json={"requests": items}).json()["responses"]
    assert item["status"] == 400
