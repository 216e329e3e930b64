"""App-only tokens from Entra ID through one long-lived MSAL ConfidentialClientApplication per tenant."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bot.errors import AuthenticationFailed, ConfigError, UpstreamError

log = logging.getLogger(__name__)

#: Hosts MSAL knows; any other authority (a sandbox, a test) needs instance_discovery=False.
KNOWN_AUTHORITY_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"}
)

#: What an AADSTS code means for the admin, and what to do about it.
AADSTS_HINTS: dict[int, str] = {
    7000215: "The client secret is wrong. Copy the secret's *value* (not its ID) into M365_CLIENT_SECRET.",
    7000222: "The client secret has expired. Create a new one under App registrations > Certificates & secrets.",
    700016: "No app with this client id in this tenant: check M365_CLIENT_ID and M365_TENANT_ID, and that an "
    "admin consented to the app in this tenant.",
    90002: "The tenant does not exist: check M365_TENANT_ID (a GUID or a verified domain) and the cloud setting.",
    700027: "The certificate is not registered on the app: upload its public part under Certificates & secrets.",
    700024: "The client assertion is outside its validity window: check this machine's clock.",
    500011: "The API is not present in the tenant, or the scope is wrong for this cloud.",
    1002012: "The requested scope is invalid for client credentials (it must end in /.default).",
    7000112: "The app is disabled in this tenant: enable the enterprise application.",
    65001: "Admin consent is missing: grant admin consent for the app's API permissions.",
}


def certificate_credential(path: str | Path) -> dict[str, str]:
    """An MSAL certificate credential from a PEM holding the private key and its certificate."""
    pem = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
        cert = x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigError([f"m365.client_cert_path: not a PEM with an unencrypted private key and a certificate ({exc})"]) from None
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "thumbprint": hashlib.sha1(der).hexdigest(),
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, unverified: for reading `tid` and `roles`, never for trust."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class TokenProvider:
    """Client-credential tokens for any resource scope; MSAL caches them and renews them near expiry."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        authority_url: str,
        client_secret: str | None = None,
        client_cert: dict[str, str] | None = None,
        session: requests.Session,
    ) -> None:
        if bool(client_secret) == bool(client_cert):
            raise ConfigError(["m365: set exactly one of client_secret and client_cert_path"])
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.authority = f"{authority_url.rstrip('/')}/{tenant_id}"
        self._credential: Any = client_secret or {k: v for k, v in client_cert.items() if k != "sha256"}  # type: ignore[union-attr]
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        # One token request at a time: MSAL's cache, filled by two threads at once (a prefetch reads Graph and
        # Exchange in parallel), handed out a token the service then refused as invalid.
        self._acquire = threading.Lock()

    @property
    def credential_kind(self) -> str:
        return "secret" if isinstance(self._credential, str) else "certificate"

    def _application(self) -> msal.ConfidentialClientApplication:
        # Built lazily and once: the constructor fetches the authority's OpenID configuration.
        with self._lock:
            if self._app is None:
                host = (urlsplit(self.authority).hostname or "").lower()
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        authority=self.authority,
                        client_credential=self._credential,
                        http_client=self._session,
                        instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
                    )
                except ValueError as exc:
                    raise AuthenticationFailed(
                        f"Entra ID did not accept the authority {self.authority}: {exc}",
                        hint=AADSTS_HINTS[90002],
                    ) from None
                except requests.RequestException as exc:
                    raise UpstreamError(
                        "Entra ID", None, f"cannot reach {host} ({type(exc).__name__})",
                        hint="Check network access to the login endpoint and the CA bundle.",
                    ) from None
            return self._app

    def token(self, scope: str, *, force_refresh: bool = False) -> str:
        """An access token for `scope` (e.g. https://graph.microsoft.com/.default)."""
        app = self._application()
        try:
            with self._acquire:
                if force_refresh:
                    app.remove_tokens_for_client()
                result = app.acquire_token_for_client(scopes=[scope])
        except requests.RequestException as exc:
            raise UpstreamError("Entra ID", None, f"token request failed ({type(exc).__name__})") from None
        if "access_token" in result:
            return result["access_token"]
        raise _auth_error(result, scope)


def _auth_error(result: dict[str, Any], scope: str) -> AuthenticationFailed:
    codes = tuple(int(c) for c in result.get("error_codes") or ())
    description = (result.get("error_description") or "").split("\r\n")[0].strip()
    hint = next((AADSTS_HINTS[c] for c in codes if c in AADSTS_HINTS), "")
    log.warning("token request for %s failed: %s %s", scope, result.get("error"), codes)
    return AuthenticationFailed(
        f"Entra ID refused a token for {scope}: {result.get('error', 'unknown_error')}: {description}",
        error=result.get("error", ""),
        codes=codes,
        hint=hint,
    )
