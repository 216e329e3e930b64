"""Graph resource paths shared by the reads in `facts` and the writes of remediations."""

from __future__ import annotations

SECURITY_DEFAULTS_PATH = "/policies/identitySecurityDefaultsEnforcementPolicy"
CA_POLICIES_PATH = "/identity/conditionalAccess/policies"


def user_path(upn: str) -> str:
    from urllib.parse import quote  # here, not at import: the registry loads for `python -m bot explain` too

    return quote(upn, safe="@")
