"""Entra ID stand-in: OpenID discovery, the v2.0 token endpoint (client credentials) and access tokens."""

from __future__ import annotations

import base64
import functools
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.state import SandboxState
from sandbox.tenant import AppRegistration, TenantState
from sandbox.wire import ENTRA_JSON, Call, Reply, entra_error

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
CLOCK_SKEW = 300
_NOT_INSTALLED = (
    "This can happen if the application has not been installed by the administrator of the tenant or "
    "consented to by any user in the tenant. You {may} have sent your authentication request to the wrong "
    "tenant."
)
KEY_NOT_FOUND = (
    "The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure "
    "Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'."
)
BAD_SIGNATURE = (
    "The provided signature value did not match the expected signature value., Thumbprint of key used by "
    "client: '{thumbprint}'"
)
#: AADSTS code -> (HTTP status, OAuth error, description template), worded as Entra ID words them.
AADSTS: dict[int, tuple[int, str, str]] = {
    90002: (
        400,
        "invalid_request",
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant.",
    ),
    70003: (400, "unsupported_grant_type", "The app requested an unsupported grant type."),
    900144: (400, "invalid_request", "The request body must contain the following parameter: 'client_id'."),
    700016: (
        400,
        "unauthorized_client",
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
        + _NOT_INSTALLED.format(may="may"),
    ),
    7000215: (
        401,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    7000218: (
        401,
        "invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
    28000: (
        400,
        "invalid_scope",
        "Provided value for the input parameter scope is not valid because it contains more than one "
        "resource.",
    ),
    1002012: (
        400,
        "invalid_scope",
        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
        "with /.default suffixed to the resource identifier (application ID URI).",
    ),
    500011: (
        400,
        "invalid_resource",
        "The resource principal named {resource} was not found in the tenant named {tenant}. "
        + _NOT_INSTALLED.format(may="might"),
    ),
    50027: (401, "invalid_client", "JWT token is invalid or malformed."),
    700027: (401, "invalid_client", "Client assertion contains an invalid signature. [Reason - {reason}]"),
    50012: (401, "invalid_client", "Client assertion audience claim does not match Realm issuer."),
    700021: (
        401,
        "invalid_client",
        "Client assertion application identifier doesn't match 'client_id' parameter.",
    ),
    700024: (
        401,
        "invalid_client",
        "Client assertion is not within its valid time range. Current time: {current}, expiry time of "
        "assertion {expiry}.",
    ),
}


_SIGNING_KEY_LOCK = threading.Lock()


def signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    """The process-wide token signing key and its key id (generated once, on first use).

    Locked: two threads asking first (the token endpoint and an SMTP session) must not each make a key, or a
    token signed with the one not kept fails every later check.
    """
    with _SIGNING_KEY_LOCK:
        return _signing_key()


@functools.cache
def _signing_key() -> tuple[rsa.RSAPrivateKey, str]:
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
    """Check `Authorization: Bearer` for `service` (graph|exchange): signature, time (sandbox clock), aud."""
    header = call.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return BearerCheck(problem="empty")
    key, _ = signing_key()
    try:
        claims = jwt.decode(
            token.strip(),
            key.public_key(),
            algorithms=["RS256"],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
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
        tenant_ref, _, rest = call.path.strip("/").partition("/")
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
            return _refuse(self.state.clock.now(), 90002, error="invalid_tenant", tenant=tenant_ref)
        base = f"{call.base_url}/{tenant.id}"
        return Reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
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
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
            {"Content-Type": ENTRA_JSON},
        )

    def keys(self, tenant_ref: str) -> Reply:
        if self.state.find_tenant(tenant_ref) is None:
            return _refuse(self.state.clock.now(), 90002, error="invalid_tenant", tenant=tenant_ref)
        key, kid = signing_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return Reply(200, {"keys": [{**jwk, "kid": kid, "use": "sig"}]}, {"Content-Type": ENTRA_JSON})

    def token(self, call: Call, tenant_ref: str) -> Reply:
        now = self.state.clock.now()
        form = dict(parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        tenant = self.state.find_tenant(tenant_ref)
        if tenant is None:
            return _refuse(now, 90002, tenant=tenant_ref)
        if form.get("grant_type") != "client_credentials":
            return _refuse(now, 70003)
        client_id = form.get("client_id", "").lower()
        if not client_id:
            return _refuse(now, 900144)
        with self.state.lock:
            app = tenant.app(client_id)
            if app is None:
                return _refuse(now, 700016, client_id=client_id, tenant=tenant.display_name)
            audiences = {f"{call.base_url}{call.path}", f"{call.base_url}/{tenant.id}/oauth2/v2.0/token"}
            refusal = _authenticate(app, form, audiences, now)
            resource = refusal or _resource(form.get("scope", ""), tenant, now)
            if isinstance(resource, Reply):
                return resource
            claims = self._claims(tenant, app, resource, "2" if "client_assertion" in form else "1", now)
        key, kid = signing_key()
        lifetime = self.state.token_lifetime
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "x5t": kid}),
            },
            {"Content-Type": ENTRA_JSON, "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _claims(
        self, tenant: TenantState, app: AppRegistration, resource: str, acr: str, now: datetime
    ) -> dict[str, Any]:
        """App-only v1.0 token claims: `roles` of this resource's API, `wids` of the SP's directory roles."""
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


def _refuse(now: datetime, code: int, *, error: str = "", **values: str) -> Reply:
    status, default_error, template = AADSTS[code]
    return entra_error(now, status, error or default_error, code, template.format(**values))


def _authenticate(
    app: AppRegistration, form: dict[str, str], audiences: set[str], now: datetime
) -> Reply | None:
    """None when the client secret or assertion proves the caller is `app`; else Entra's refusal."""
    if "client_secret" in form:
        if hmac.compare_digest(form["client_secret"].encode(), app.client_secret.encode()):
            return None
        return _refuse(now, 7000215, client_id=app.client_id)
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        return _refuse(now, 7000218)
    return _check_assertion(form["client_assertion"], app, audiences, now)


def _resource(scope: str, tenant: TenantState, now: datetime) -> str | Reply:
    """The one resource of a client-credentials scope (`<resource>/.default`)."""
    scopes = [s for s in scope.split() if s not in OIDC_SCOPES]
    if len(scopes) > 1 and all(s.endswith("/.default") for s in scopes):
        return _refuse(now, 28000)
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return _refuse(now, 1002012, scope=scope or "(empty)")
    resource = scopes[0].removesuffix("/.default").rstrip("/").lower()
    if resource not in RESOURCES:
        return _refuse(now, 500011, resource=resource, tenant=tenant.display_name)
    return resource


def _check_assertion(
    assertion: str, app: AppRegistration, audiences: set[str], now: datetime
) -> Reply | None:
    """Verify a client assertion JWT against the app's registered certificates.

    Its time window is checked against real time, not the sandbox clock: MSAL signs it with `time.time()`.
    """
    try:
        header = jwt.get_unverified_header(assertion)
        sha1, sha256 = _b64(header.get("x5t")), _b64(header.get("x5t#S256"))
    except (jwt.PyJWTError, ValueError):
        return _refuse(now, 50027)
    cert = app.certificate(sha1=sha1, sha256=sha256)
    thumbprint = (sha1 or sha256 or b"").hex().upper()
    if cert is None:
        return _refuse(
            now, 700027, reason=KEY_NOT_FOUND.format(thumbprint=thumbprint, client_id=app.client_id)
        )
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}
    try:
        claims = jwt.decode(assertion, cert.public_key(), algorithms=ASSERTION_ALGORITHMS, options=options)
    except jwt.PyJWTError:
        return _refuse(now, 700027, reason=BAD_SIGNATURE.format(thumbprint=thumbprint))
    if claims.get("aud") not in audiences:
        return _refuse(now, 50012)
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return _refuse(now, 700021)
    if not claims.get("nbf", 0) - CLOCK_SKEW <= time.time() < claims.get("exp", 0) + CLOCK_SKEW:
        expiry = datetime.fromtimestamp(claims.get("exp", 0), UTC)
        return _refuse(
            now,
            700024,
            current=f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            expiry=f"{expiry:%Y-%m-%dT%H:%M:%SZ}",
        )
    return None


def _b64(value: str | None) -> bytes | None:
    if not value:
        return None
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
