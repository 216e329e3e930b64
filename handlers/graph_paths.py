"""Graph resource paths shared by the reads in `facts` and the writes of remediations."""

from __future__ import annotations

from urllib.parse import quote

SECURITY_DEFAULTS_PATH = "/policies/identitySecurityDefaultsEnforcementPolicy"
CA_POLICIES_PATH = "/identity/conditionalAccess/policies"


def user_path(upn: str) -> str:
    return quote(upn, safe="@")
