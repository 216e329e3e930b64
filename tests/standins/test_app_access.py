"""The sandbox's app objects over HTTPS: Graph service principals, applications and consent; Exchange service
principals, mailbox permissions and RBAC for Applications, with their shapes and refusals."""

from __future__ import annotations

import requests

from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, Api

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
EXO_APP = "00000002-0000-0ff1-ce00-000000000000"


def values(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["value"]


def exo_error(response: requests.Response) -> tuple[int, str]:
    error = response.json()["error"]
    return response.status_code, error["details"][0]["message"].split("|")[2]


def sp_id(sb: Sandbox) -> str:
    return sb.state.tenant("contoso").app(APP).service_principal_id


def register(api: Api, sb: Sandbox) -> requests.Response:
    return api.exo("New-ServicePrincipal", {"AppId": APP, "ObjectId": sp_id(sb), "DisplayName": "Scanner"})


def test_graph_service_principals_by_app_id_and_strict_filters(api: Api, sb: Sandbox) -> None:
    [sp] = values(api.graph("GET", "/servicePrincipals", params={"$filter": f"appId eq '{APP}'",
                                                               "$select": "id,appId,displayName"}))
    assert sp == {"id": sp_id(sb), "appId": APP, "displayName": "Scanner 3rd Floor (SMTP OAuth)"}
    assert values(api.graph("GET", "/servicePrincipals", params={"$filter": "appId eq '0-0'"})) == []
    [app] = values(api.graph("GET", "/applications", params={"$filter": f"appId eq '{APP}'"}))
    assert app["appId"] == APP and app["signInAudience"] == "AzureADMyOrg"
    refused = api.graph("GET", "/servicePrincipals", params={"$filter": "tags/any(t:t eq 'x')"})
    assert refused.status_code == 400 and "Invalid filter clause" in refused.text
    unsupported = api.graph("GET", "/servicePrincipals", params={"$filter": "notes eq 'x'"})
    assert unsupported.status_code == 400 and "Unsupported or invalid query filter clause" in unsupported.text


def test_consent_is_an_app_role_assignment_on_the_exchange_resource(api: Api, sb: Sandbox) -> None:
    assert values(api.graph("GET", f"/servicePrincipals/{sp_id(sb)}/appRoleAssignments")) == []
    sb.state.grant(APP, "SMTP.SendAsApp")
    [assignment] = values(api.graph("GET", f"/servicePrincipals/{sp_id(sb)}/appRoleAssignments"))
    [exo] = values(api.graph("GET", "/servicePrincipals", params={"$filter": f"appId eq '{EXO_APP}'"}))
    role = next(r for r in exo["appRoles"] if r["value"] == "SMTP.SendAsApp")
    assert (assignment["resourceId"], assignment["appRoleId"]) == (exo["id"], role["id"])
    assert assignment["principalId"] == sp_id(sb) and assignment["principalType"] == "ServicePrincipal"


def test_reading_apps_needs_application_read(api: Api, sb: Sandbox) -> None:
    sb.state.revoke(sb.creds()[1], "Application.Read.All")
    denied = api.graph("GET", "/servicePrincipals", params={"$filter": f"appId eq '{APP}'"})
    assert denied.status_code == 403 and "Authorization_RequestDenied" in denied.text


def test_register_service_principal_once_and_only_for_a_real_app(api: Api, sb: Sandbox) -> None:
    [created] = values(register(api, sb))
    assert (created["AppId"], created["ObjectId"], created["DisplayName"]) == (APP, sp_id(sb), "Scanner")
    assert values(api.exo("Get-ServicePrincipal", {"Identity": APP}))[0]["ObjectId"] == sp_id(sb)
    status, text = exo_error(register(api, sb))
    assert status == 400 and "already exists" in text
    status, text = exo_error(api.exo("New-ServicePrincipal", {"AppId": APP, "ObjectId": APP}))
    assert status == 400 and "wasn't found in Microsoft Entra ID" in text  # the app id is not the object id
    status, text = exo_error(api.exo("New-ServicePrincipal", {"AppId": "11111111-2222-3333-4444-555555555555",
                                                              "ObjectId": sp_id(sb)}))
    assert "wasn't found" in text
    assert api.exo("Remove-ServicePrincipal", {"Identity": sp_id(sb)}).status_code == 200
    assert api.exo("Get-ServicePrincipal", {"Identity": APP}).status_code == 404


def test_mailbox_permission_needs_a_registered_service_principal(api: Api, sb: Sandbox) -> None:
    grant = {"Identity": "scanner@contoso.com", "User": sp_id(sb), "AccessRights": ["FullAccess"]}
    assert api.exo("Add-MailboxPermission", grant).status_code == 404
    register(api, sb)
    [row] = values(api.exo("Add-MailboxPermission", grant))
    assert row["AccessRights"] == ["FullAccess"] and row["IsInherited"] is False
    again = api.exo("Add-MailboxPermission", grant).json()
    assert "existing permission entry" in again["@adminapi.warnings"][0]
    assert values(api.exo("Get-MailboxPermission", {"Identity": "scanner@contoso.com", "User": sp_id(sb)}))
    bad = api.exo("Add-MailboxPermission", {**grant, "AccessRights": ["Everything"]})
    assert bad.status_code == 400 and "AccessRights" in bad.text
    assert api.exo("Remove-MailboxPermission", grant).status_code == 200
    assert values(api.exo("Get-MailboxPermission", {"Identity": "scanner@contoso.com", "User": sp_id(sb)})) == []


def test_rbac_for_applications_scope_assignment_and_test_authorization(api: Api, sb: Sandbox) -> None:
    assignment = {"Name": "scanner only", "App": sp_id(sb), "Role": "Application SMTP.SendAsApp",
                  "CustomResourceScope": "scanner only"}
    assert exo_error(api.exo("New-ManagementRoleAssignment", assignment))[0] == 404  # no such scope yet
    bad = api.exo("New-ManagementScope", {"Name": "x", "RecipientRestrictionFilter": "Office -eq 'x'"})
    assert bad.status_code == 400 and "RecipientRestrictionFilter" in bad.text
    scope = {"Name": "scanner only", "RecipientRestrictionFilter": "PrimarySmtpAddress -eq 'scanner@contoso.com'"}
    assert api.exo("New-ManagementScope", scope).status_code == 200
    assert exo_error(api.exo("New-ManagementScope", scope))[1].endswith("already exists.")
    # A role assignment for a service principal Exchange does not know is refused.
    assert api.exo("New-ManagementRoleAssignment", assignment).status_code == 404
    register(api, sb)
    assert api.exo("New-ManagementRoleAssignment", {**assignment, "Role": "Application Everything"}).status_code == 404
    [created] = values(api.exo("New-ManagementRoleAssignment", assignment))
    assert created["RoleAssigneeType"] == "ServicePrincipal" and created["CustomResourceScope"] == "scanner only"
    [row] = values(api.exo("Test-ServicePrincipalAuthorization", {"Identity": sp_id(sb),
                                                                 "Resource": "scanner@contoso.com"}))
    assert row == {"RoleName": "Application SMTP.SendAsApp", "GrantedPermissions": "SMTP.SendAsApp",
                   "AllowedResourceScope": "scanner only", "ScopeType": "CustomRecipientScope", "InScope": True}
    [other] = values(api.exo("Test-ServicePrincipalAuthorization", {"Identity": sp_id(sb),
                                                                   "Resource": "printer@contoso.com"}))
    assert other["InScope"] is False
    status, text = exo_error(api.exo("Remove-ManagementScope", {"Identity": "scanner only"}))
    assert status == 400 and "referenced by management role assignments" in text
    assert api.exo("Remove-ManagementRoleAssignment", {"Identity": "scanner only"}).status_code == 200
    assert api.exo("Remove-ManagementScope", {"Identity": "scanner only"}).status_code == 200
    assert api.exo("Get-ManagementScope", {"Identity": "scanner only"}).status_code == 404


def test_a_role_assignment_name_longer_than_exchanges_limit_is_refused_not_cut(api: Api, sb: Sandbox) -> None:
    register(api, sb)
    scope = {"Name": "scanner only", "RecipientRestrictionFilter": "PrimarySmtpAddress -eq 'scanner@contoso.com'"}
    assert api.exo("New-ManagementScope", scope).status_code == 200
    assignment = {"Name": "n" * 65, "App": sp_id(sb), "Role": "Application SMTP.SendAsApp",
                  "CustomResourceScope": "scanner only"}
    refused = api.exo("New-ManagementRoleAssignment", assignment)
    assert refused.status_code == 400 and "maximum length is 64" in refused.text
    assert values(api.exo("Get-ManagementRoleAssignment", {})) == []  # nothing made under a shortened name
    [made] = values(api.exo("New-ManagementRoleAssignment", {**assignment, "Name": "n" * 64}))
    assert made["Name"] == "n" * 64


def test_recipient_administrator_cannot_register_service_principals(api: Api, sb: Sandbox) -> None:
    client_id = sb.creds()[1]
    sb.state.revoke(client_id, "Exchange Administrator")
    sb.state.grant(client_id, "Exchange Recipient Administrator")
    token = api.token(EXCHANGE)
    refused = api.exo("New-ServicePrincipal", {"AppId": APP, "ObjectId": sp_id(sb)}, token=token, stream=True)
    assert refused.status_code == 403  # the NUL-byte body Exchange sends for a missing role
    assert api.exo("Get-MailboxPermission", {"Identity": "scanner@contoso.com"}, token=token).status_code == 200
