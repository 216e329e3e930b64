"""Exchange admin API stand-in over HTTPS: InvokeCommand cmdlets, paging, filters, roles and error shapes."""

from __future__ import annotations

import pytest
import requests

from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, Api

CONTOSO_MAILBOXES = 9  # every seeded contoso user but the unlicensed kiosk


def values(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["value"]


def exo_error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    text = error["details"][0]["message"].split("|")[2]
    assert error["innererror"]["internalexception"]["message"] == text
    return response.status_code, error["code"], text


def test_get_cas_mailbox(api: Api, sb: Sandbox) -> None:
    [mailbox] = values(api.exo("Get-CASMailbox", {"Identity": "printer@contoso.com"}))
    user = sb.state.tenant("contoso").user("printer@contoso.com")
    assert mailbox["SmtpClientAuthenticationDisabled"] is False
    assert mailbox["ExternalDirectoryObjectId"] == user.id
    assert mailbox["PrimarySmtpAddress"] == "printer@contoso.com"
    assert mailbox["Identity"] == "printer" and mailbox["ImapEnabled"] is True
    assert (
        values(api.exo("Get-CASMailbox", {"Identity": "copier@contoso.com"}))[0][
            "SmtpClientAuthenticationDisabled"
        ]
        is None
    )
    assert (
        values(api.exo("Get-CASMailbox", {"identity": user.id}))[0]["Name"] == "printer"
    )  # names are case-insensitive


def test_set_cas_mailbox_round_trip_including_null(api: Api) -> None:
    def current() -> bool | None:
        return values(api.exo("Get-CASMailbox", {"Identity": "scanner@contoso.com"}))[0][
            "SmtpClientAuthenticationDisabled"
        ]

    assert current() is True
    changed = api.exo(
        "Set-CASMailbox", {"Identity": "scanner@contoso.com", "SmtpClientAuthenticationDisabled": False}
    )
    assert changed.json()["value"] == [] and "@adminapi.warnings" not in changed.json()
    assert current() is False
    api.exo("Set-CASMailbox", {"Identity": "scanner@contoso.com", "SmtpClientAuthenticationDisabled": None})
    assert current() is None
    again = api.exo(
        "Set-CASMailbox", {"Identity": "scanner@contoso.com", "SmtpClientAuthenticationDisabled": None}
    )
    assert again.json()["@adminapi.warnings"] == [
        "The command completed successfully but no settings of 'scanner' have been modified."
    ]


def test_transport_config(api: Api, sb: Sandbox) -> None:
    [config] = values(api.exo("Get-TransportConfig"))
    assert (config["SmtpClientAuthenticationDisabled"], config["AllowLegacyTLSClients"]) == (True, False)
    assert values(api.exo("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False})) == []
    assert sb.state.tenant("contoso").smtp_client_authentication_disabled is False
    assert (
        values(api.exo("Get-TransportConfig", tenant="fabrikam"))[0]["SmtpClientAuthenticationDisabled"]
        is False
    )
    assert exo_error(api.exo("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": None}))[:2] == (
        400,
        "BadRequest",
    )


def test_organization_config_user_and_authentication_policies(api: Api) -> None:
    [org] = values(api.exo("Get-OrganizationConfig"))
    assert org["DefaultAuthenticationPolicy"] is None and org["Name"] == "contoso.onmicrosoft.com"
    [fax] = values(api.exo("Get-User", {"Identity": "fax@contoso.com"}))
    assert (fax["AuthenticationPolicy"], fax["RecipientTypeDetails"]) == ("Block Basic Auth", "UserMailbox")
    assert values(api.exo("Get-User", {"Identity": "kiosk@contoso.com"}))[0]["RecipientTypeDetails"] == "User"
    policies = {p["Name"]: p for p in values(api.exo("Get-AuthenticationPolicy"))}
    assert policies["Block Basic Auth"]["AllowBasicAuthSmtp"] is False
    assert policies["Block Basic Auth"]["AllowBasicAuthImap"] is False
    assert policies["Allow Basic SMTP"]["AllowBasicAuthSmtp"] is True
    [one] = values(api.exo("Get-AuthenticationPolicy", {"Identity": "allow basic smtp"}))
    assert one["Name"] == "Allow Basic SMTP"
    assert (
        api.exo(
            "Set-User", {"Identity": "fax@contoso.com", "AuthenticationPolicy": "Allow Basic SMTP"}
        ).status_code
        == 200
    )
    assert (
        values(api.exo("Get-User", {"Identity": "fax@contoso.com"}))[0]["AuthenticationPolicy"]
        == "Allow Basic SMTP"
    )


def test_paging_with_maxpagesize(api: Api, sb: Sandbox) -> None:
    seen, url, pages = [], None, 0
    while True:
        response = api.exo(
            "Get-CASMailbox", {"ResultSize": "Unlimited"}, url=url, headers={"Prefer": "odata.maxpagesize=2"}
        )
        assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
        body = response.json()
        assert len(body["value"]) <= 2
        seen += [m["PrimarySmtpAddress"] for m in body["value"]]
        pages += 1
        url = body.get("@odata.nextLink")
        if not url:
            break
        assert url.startswith(f"{sb.url}/adminapi/beta/")
    assert pages == 5 and len(seen) == len(set(seen)) == CONTOSO_MAILBOXES
    assert "kiosk@contoso.com" not in seen


def test_select_limits_properties(api: Api, sb: Sandbox) -> None:
    tenant_id = sb.state.tenant("contoso").id
    url = (
        f"{sb.url}/adminapi/beta/{tenant_id}/InvokeCommand?$select=Identity,SmtpClientAuthenticationDisabled"
    )
    [mailbox] = values(api.exo("Get-CASMailbox", {"Identity": "printer"}, url=url))
    assert set(mailbox) == {"Identity", "SmtpClientAuthenticationDisabled"}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("Name -eq 'printer' -or Name -eq 'SCANNER'", {"printer", "scanner"}),
        ("(PrimarySmtpAddress -eq 'crm@contoso.com')", {"crm"}),
        ("DisplayName -like 'cop*' -and PopEnabled -eq $true", {"copier"}),
    ],
)
def test_opath_filters(api: Api, flt: str, expected: set[str]) -> None:
    assert {m["Identity"] for m in values(api.exo("Get-CASMailbox", {"Filter": flt}))} == expected


def test_filter_by_external_directory_object_id(api: Api, sb: Sandbox) -> None:
    user_id = sb.state.tenant("contoso").user("erp@contoso.com").id
    [user] = values(api.exo("Get-User", {"Filter": f"ExternalDirectoryObjectId -eq '{user_id}'"}))
    assert user["UserPrincipalName"] == "erp@contoso.com"
    [mailbox] = values(api.exo("Get-CASMailbox", {"Filter": f"Guid -eq '{user['Guid']}'"}))
    assert mailbox["ExternalDirectoryObjectId"] == user_id


@pytest.mark.parametrize(
    ("cmdlet", "prop"),
    [
        ("Get-CASMailbox", "ExternalDirectoryObjectId"),
        ("Get-CASMailbox", "UserPrincipalName"),
        ("Get-CASMailbox", "SmtpClientAuthenticationDisabled"),
        ("Get-User", "PrimarySmtpAddress"),
    ],
)
def test_filter_on_undocumented_property_is_refused(api: Api, sb: Sandbox, cmdlet: str, prop: str) -> None:
    status, code, text = exo_error(api.exo(cmdlet, {"Filter": f"{prop} -eq 'x'"}))
    assert (status, code) == (400, "BadRequest")
    assert f'Exception setting "Filter": ""{prop}" is not a recognized filterable property.' in text


def test_not_found_is_404_with_details(api: Api) -> None:
    status, code, text = exo_error(api.exo("Get-CASMailbox", {"Identity": "ghost@contoso.com"}))
    assert (status, code) == (404, "NotFound")
    assert text == (
        "The operation couldn't be performed because object 'ghost@contoso.com' couldn't be found on "
        "'NAMPR12A001DC01.NAMPR12A001.PROD.OUTLOOK.COM'."
    )
    assert (
        api.exo("Get-CASMailbox", {"Identity": "ghost@contoso.com"})
        .json()["error"]["details"][0]["message"]
        .startswith("Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|")
    )
    assert (
        exo_error(
            api.exo(
                "Set-CASMailbox", {"Identity": "kiosk@contoso.com", "SmtpClientAuthenticationDisabled": False}
            )
        )[0]
        == 404
    )


@pytest.mark.parametrize(
    ("cmdlet", "parameters", "message"),
    [
        (
            "Get-CASMailbox",
            {"Identity": "printer", "Colour": "red"},
            "A parameter cannot be found that matches parameter name 'Colour'.",
        ),
        (
            "Set-CASMailbox",
            {"Identity": "printer", "SmtpClientAuthenticationDisabled": "no"},
            "Cannot process argument transformation",
        ),
        (
            "Set-CASMailbox",
            {"SmtpClientAuthenticationDisabled": False},
            "missing mandatory parameters: Identity",
        ),
        (
            "Get-CASMailbox",
            {"Filter": "Colour -eq 'red'"},
            '"Colour" is not a recognized filterable property. Valid property names are: ActiveSync',
        ),
        ("Get-CASMailbox", {"Filter": "Identity -eq"}, "Cannot bind parameter 'Filter'"),
        (
            "Get-CASMailbox",
            {"ResultSize": "lots"},
            "Cannot process argument transformation on parameter 'ResultSize'",
        ),
        ("Get-User", {"Identity": "printer", "Filter": "Name -eq 'x'"}, "Parameter set cannot be resolved"),
    ],
)
def test_bad_parameters_are_400(api: Api, cmdlet: str, parameters: dict, message: str) -> None:
    status, code, text = exo_error(api.exo(cmdlet, parameters))
    assert (status, code) == (400, "BadRequest")
    assert message in text


def test_tenant_by_domain_and_token_tenant_must_match(api: Api, sb: Sandbox) -> None:
    by_domain = f"{sb.url}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
    assert values(api.exo("Get-TransportConfig", url=by_domain))
    fabrikam = f"{sb.url}/adminapi/beta/{sb.state.tenant('fabrikam').id}/InvokeCommand"
    assert api.exo("Get-TransportConfig", url=fabrikam).status_code == 401


def test_graph_token_or_missing_app_role_is_401(api: Api, sb: Sandbox) -> None:
    wrong = api.exo("Get-TransportConfig", token=api.token())
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "Unauthorized"
    sb.state.revoke(sb.creds()[1], "Exchange.ManageAsApp")
    assert api.exo("Get-TransportConfig").status_code == 401


def assert_nul_403(response: requests.Response) -> None:
    assert response.status_code == 403
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.raw.read(decode_content=False) == b"\x00" * 16


def test_missing_directory_role_is_nul_403(api: Api, sb: Sandbox) -> None:
    sb.state.revoke(sb.creds()[1], "Exchange Administrator")
    token = api.token(EXCHANGE)
    assert_nul_403(api.exo("Get-CASMailbox", {"Identity": "printer"}, token=token, stream=True))
    with pytest.raises(requests.exceptions.ContentDecodingError):
        api.exo("Get-CASMailbox", {"Identity": "printer"}, token=token)


def test_unknown_cmdlet_is_nul_403(api: Api) -> None:
    assert_nul_403(api.exo("Remove-Mailbox", {"Identity": "printer"}, stream=True))


@pytest.mark.parametrize(
    ("role", "cmdlet", "parameters", "allowed"),
    [
        (
            "Exchange Recipient Administrator",
            "Set-CASMailbox",
            {"Identity": "copier", "SmtpClientAuthenticationDisabled": False},
            True,
        ),
        ("Exchange Recipient Administrator", "Get-User", {"Identity": "copier"}, True),
        ("Exchange Recipient Administrator", "Get-TransportConfig", {}, False),
        (
            "Exchange Recipient Administrator",
            "Set-TransportConfig",
            {"SmtpClientAuthenticationDisabled": False},
            False,
        ),
        ("Global Reader", "Get-TransportConfig", {}, True),
        ("Security Reader", "Get-CASMailbox", {"Identity": "copier"}, True),
        (
            "Global Reader",
            "Set-CASMailbox",
            {"Identity": "copier", "SmtpClientAuthenticationDisabled": False},
            False,
        ),
        ("Global Administrator", "Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False}, True),
    ],
)
def test_directory_role_rules(
    api: Api, sb: Sandbox, role: str, cmdlet: str, parameters: dict, allowed: bool
) -> None:
    client_id = sb.creds()[1]
    sb.state.revoke(client_id, "Exchange Administrator")
    sb.state.grant(client_id, role)
    response = api.exo(cmdlet, parameters, stream=True)
    if allowed:
        assert response.status_code == 200
    else:
        assert_nul_403(response)


def test_request_is_recorded_with_cmdlet_and_anchor(api: Api, sb: Sandbox) -> None:
    anchor = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{sb.state.tenant('contoso').id}"
    api.exo("Get-CASMailbox", {"Identity": "printer"}, headers={"X-AnchorMailbox": anchor})
    record = sb.state.requests.for_service("exchange")[-1]
    assert (record.cmdlet, record.anchor_mailbox, record.status, record.api_version) == (
        "Get-CASMailbox",
        anchor,
        200,
        "beta",
    )


def test_bad_body_and_method(api: Api, sb: Sandbox) -> None:
    url = f"{sb.url}/adminapi/beta/{sb.state.tenant('contoso').id}/InvokeCommand"
    headers = {"Authorization": f"Bearer {api.token(EXCHANGE)}"}
    assert requests.post(url, data=b"{", headers=headers, verify=api.verify, timeout=5).status_code == 400
    assert requests.get(url, headers=headers, verify=api.verify, timeout=5).status_code == 405
