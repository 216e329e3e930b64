"""Entra ID stand-in: OpenID discovery, the v2.0 token endpoint (client credentials) and access tokens."""

from __future__ import annotations

import base64
import functools
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.sandbox.tenant import AppRegistration, SandboxState, TenantState
from bot.sandbox.wire import ENTRA_JSON, Call, Reply, entra_error

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
#: Resource (audience) -> sandbox service, for every cloud's Graph and Exchange Online.
RESOURCES = {
    "https://graph.microsoft.com": "graph",
    "https://graph.microsoft.us": "graph",
    "https://dod-graph.microsoft.us": "graph",
    "https://microsoftgraph.chinacloudapi.cn": "graph",
    "00000003-0000-0000-c000-000000000000": "graph",
    "https://outlook.office365.com": "exchange",
    "https://outlook.office.com": "exchange",
    "https://outlook.office365.us": "exchange",
    "https://outlook-dod.office365.us": "exchange",
    "https://partner.outlook.cn": "exchange",
    "00000002-0000-0ff1-ce00-000000000000": "exchange",
}
ASSERTION_ALGORITHMS = ["RS256", "PS256"]


@functools.cache
def signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    """The process-wide token signing key and its key id (generated once, on first use)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key.public_key().public_numbers().n.to_bytes(256, "big"))
    return key, base64.urlsafe_b64encode(digest.finalize()[:20]).decode().rstrip("=")


@dataclass(frozen=True)
class BearerCheck:
    """The outcome of checking an access token: `claims` when valid, else why not (`problem`)."""

    claims: dict[str, Any] | None = None
    problem: str = ""


def check_bearer(state: SandboxState, call: Call, service: str) -> BearerCheck:
    """Validate `Authorization: Bearer` for `service` (graph|exchange): signature, time (sandbox clock), audience."""
    header = call.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return BearerCheck(problem="empty")
    key, _ = signing_key()
    try:
        claims = jwt.decode(token.strip(), key.public_key(), algorithms=["RS256"], options={"verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
    except jwt.PyJWTError:
        return BearerCheck(problem="invalid")
    now = state.clock.now().timestamp()
    if not claims.get("nbf", 0) <= now < claims.get("exp", 0):
        return BearerCheck(problem="expired")
    if RESOURCES.get(str(claims.get("aud", "")).rstrip("/")) != service:
        return BearerCheck(problem="audience")
    return BearerCheck(claims=claims)


class Entra:
    """The login endpoints of `https://login.microsoftonline.com`, for the tenants in `state`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handle(self, call: Call) -> Reply:
        parts = call.path.strip("/").split("/")
        tenant_ref, rest = parts[0], "/".join(parts[1:])
        if call.method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return self.discovery(call, tenant_ref)
        if call.method == "GET" and rest == "discovery/v2.0/keys":
            return self.keys(tenant_ref)
        if call.method == "POST" and rest == "oauth2/v2.0/token":
            return self.token(call, tenant_ref)
        return Reply(404, b"", {"Content-Type": "text/html"})

    def discovery(self, call: Call, tenant_ref: str) -> Reply:
        tenant = self.state.find_tenant(tenant_ref)
        if tenant is None:
            return self._unknown_tenant(tenant_ref, "invalid_tenant")
        base = f"{call.base_url}/{tenant.id}"
        return Reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": f"{call.base_url}/{tenant.id}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            },
            {"Content-Type": ENTRA_JSON},
        )

    def keys(self, tenant_ref: str) -> Reply:
        if self.state.find_tenant(tenant_ref) is None:
            return self._unknown_tenant(tenant_ref, "invalid_tenant")
        key, kid = signing_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return Reply(200, {"keys": [{**jwk, "kid": kid, "use": "sig"}]}, {"Content-Type": ENTRA_JSON})

    def token(self, call: Call, tenant_ref: str) -> Reply:
        now = self.state.clock.now()
        form = dict(parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        tenant = self.state.find_tenant(tenant_ref)
        if tenant is None:
            return self._unknown_tenant(tenant_ref, "invalid_request")
        if form.get("grant_type") != "client_credentials":
            return entra_error(now, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "").lower()
        if not client_id:
            return entra_error(now, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
        with self.state.lock:
            app = tenant.app(client_id)
            if app is None:
                return entra_error(
                    now,
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. "
                    "This can happen if the application has not been installed by the administrator of the tenant or "
                    "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                )
            refusal = self._authenticate(call, app, form, tenant, now)
            if refusal is not None:
                return refusal
            resource = self._resource(form.get("scope", ""), tenant, now)
            if isinstance(resource, Reply):
                return resource
            claims = self._claims(tenant, app, resource, "2" if "client_assertion" in form else "1", now)
        key, kid = signing_key()
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "x5t": kid})
        lifetime = self.state.token_lifetime
        return Reply(
            200,
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token},
            {"Content-Type": ENTRA_JSON, "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _authenticate(
        self, call: Call, app: AppRegistration, form: dict[str, str], tenant: TenantState, now: datetime
    ) -> Reply | None:
        """None when the client secret or assertion proves the caller is `app`; else Entra's refusal."""
        if "client_secret" in form:
            if hmac.compare_digest(form["client_secret"].encode(), app.client_secret.encode()):
                return None
            return entra_error(
                now,
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
                f"not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return entra_error(
                now, 401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        return _check_assertion(form["client_assertion"], app, f"{call.base_url}{call.path}", now)

    def _resource(self, scope: str, tenant: TenantState, now: datetime) -> str | Reply:
        scopes = [s for s in scope.split() if s not in OIDC_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            if len(scopes) > 1 and all(s.endswith("/.default") for s in scopes):
                return entra_error(now, 400, "invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource.")
            shown = scope or "(empty)"
            return entra_error(
                now, 400, "invalid_scope", 1002012,
                f"The provided value for scope {shown} is not valid. Client credential flows must have a scope value "
                "with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = scopes[0].removesuffix("/.default").rstrip("/")
        if resource.lower() not in RESOURCES:
            return entra_error(
                now, 400, "invalid_resource", 500011,
                f"The resource principal named {resource} was not found in the tenant named {tenant.display_name}. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            )
        return resource.lower()

    def _claims(self, tenant: TenantState, app: AppRegistration, resource: str, acr: str, now: datetime) -> dict[str, Any]:
        issued = int(now.timestamp())
        roles = app.graph_roles if RESOURCES[resource] == "graph" else app.exchange_roles
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tenant.id}/",
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.state.token_lifetime,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": acr,
            "idp": f"https://sts.windows.net/{tenant.id}/",
            "idtyp": "app",
            "oid": app.service_principal_id,
            "sub": app.service_principal_id,
            "tid": tenant.id,
            "uti": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = sorted(roles)
        if app.directory_roles:
            claims["wids"] = app.role_template_ids
        return claims

    def _unknown_tenant(self, tenant_ref: str, error: str) -> Reply:
        return entra_error(
            self.state.clock.now(), 400, error, 90002,
            f"Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )


def _check_assertion(assertion: str, app: AppRegistration, token_endpoint: str, now: datetime) -> Reply | None:
    """Verify a client assertion JWT against the app's registered certificates.

    Its time window is checked against real time, not the sandbox clock: MSAL signs it with `time.time()`.
    """
    def refuse(code: int, text: str) -> Reply:
        return entra_error(now, 401, "invalid_client", code, text)

    try:
        header = jwt.get_unverified_header(assertion)
        sha1 = _b64(header.get("x5t"))
        sha256 = _b64(header.get("x5t#S256"))
    except (jwt.PyJWTError, ValueError):
        return refuse(50027, "JWT token is invalid or malformed.")
    cert = app.certificate(sha1=sha1, sha256=sha256)
    thumbprint = (sha1 or sha256 or b"").hex().upper()
    if cert is None:
        return refuse(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by "
            f"client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
            f"configured keys for app Id '{app.client_id}'.]",
        )
    try:
        claims = jwt.decode(assertion, cert.public_key(), algorithms=ASSERTION_ALGORITHMS, options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
    except jwt.PyJWTError:
        return refuse(
            700027,
            "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the "
            f"expected signature value., Thumbprint of key used by client: '{thumbprint}']",
        )
    if claims.get("aud") != token_endpoint:
        return refuse(50012, "Client assertion audience claim does not match Realm issuer.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return refuse(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
    real_now = time.time()
    if not (claims.get("nbf", 0) - 300 <= real_now < claims.get("exp", 0) + 300):
        return refuse(
            700024,
            f"Client assertion is not within its valid time range. Current time: {datetime.now(UTC):%Y-%m-%dT%H:%M:%S}Z, "
            f"expiry time of assertion {datetime.fromtimestamp(claims.get('exp', 0), UTC):%Y-%m-%dT%H:%M:%S}Z.",
        )
    return None


def _b64(value: str | None) -> bytes | None:
    if not value:
        return None
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
