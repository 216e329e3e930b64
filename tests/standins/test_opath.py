"""The OPATH subset used by -Filter."""

from __future__ import annotations

import pytest

from sandbox.opath import FilterError, compile_filter

OBJECTS = [
    {
        "Name": "printer",
        "UserPrincipalName": "printer@contoso.com",
        "SmtpClientAuthenticationDisabled": False,
    },
    {"Name": "scanner", "UserPrincipalName": "scanner@contoso.com", "SmtpClientAuthenticationDisabled": True},
    {"Name": "copier", "UserPrincipalName": "o'brien@contoso.com", "SmtpClientAuthenticationDisabled": None},
]
PROPERTIES = {"Name", "UserPrincipalName", "SmtpClientAuthenticationDisabled"}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Name -eq 'printer'", ["printer"]),
        ("name -EQ 'PRINTER'", ["printer"]),
        ('Name -eq "scanner"', ["scanner"]),
        (
            "UserPrincipalName -eq 'printer@contoso.com' -or UserPrincipalName -eq 'scanner@contoso.com'",
            ["printer", "scanner"],
        ),
        ("UserPrincipalName -eq 'o''brien@contoso.com'", ["copier"]),
        ("SmtpClientAuthenticationDisabled -eq $false", ["printer"]),
        ("SmtpClientAuthenticationDisabled -eq $null", ["copier"]),
        ("-not (SmtpClientAuthenticationDisabled -eq $true)", ["printer", "copier"]),
        ("(Name -ne 'printer') -and (Name -like 's*')", ["scanner"]),
        (
            "Name -eq 'printer' -or Name -eq 'scanner' -and SmtpClientAuthenticationDisabled -eq $false",
            ["printer"],
        ),
    ],
)
def test_filters(text: str, names: list[str]) -> None:
    predicate = compile_filter(text, PROPERTIES)
    assert [o["Name"] for o in OBJECTS if predicate(o)] == names


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Name",
        "Name -eq",
        "Name -eq 'x' -or",
        "(Name -eq 'x'",
        "Colour -eq 'red'",
        "Name -and 'x'",
        "Name = 'x'",
    ],
)
def test_invalid_filters(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text, PROPERTIES)
