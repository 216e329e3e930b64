"""Value checks and the annotated types the configuration sections use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, SecretStr
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

DEFAULT_PATH = Path("app.yaml")

#: Keys whose value must come from the environment; `[]` stands for any list index.
SECRET_KEYS = frozenset(
    {
        "m365.client_secret",
        "slack.bot_token",
        "slack.signing_secret",
        "slack.app_token",
        "server.metrics_token",
        "probes.targets[].password",
        "probes.targets[].client_secret",
    }
)

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SLACK_PRINCIPAL = re.compile(r"[UWS][A-Z0-9]{2,}")
_SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9._-]{0,79}")
DB_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
PROBE_AUTH = ("login", "plain", "xoauth2")
CREDENTIALS = ("tenant_id", "client_id", "client_secret", "client_cert_path")

Loc = tuple[str | int, ...]


# --- value checks -----------------------------------------------------------------------------------------


def one_of(choices: tuple[str, ...] | Mapping[str, Any]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return AfterValidator(check)


def matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _tenant(value: str) -> str:
    if not (_GUID.fullmatch(value) or _DOMAIN.fullmatch(value)):
        raise ValueError("must be a GUID or a domain name (contoso.onmicrosoft.com)")
    return value


def _token_prefix(prefix: str, kind: str) -> AfterValidator:
    def check(value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(prefix):
            raise ValueError(f"must be {kind} ({prefix}…)")
        return value

    return AfterValidator(check)


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL (MSAL and the clients require TLS)")
    return value.rstrip("/")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/") + "/"  # slack_sdk joins method names onto the base URL


def _read_pem(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def _cert_file(path: Path) -> Path:
    pem = _read_pem(path)
    if "ENCRYPTED PRIVATE KEY" in pem or "Proc-Type: 4,ENCRYPTED" in pem:
        raise ValueError(f"{path} holds an encrypted private key; the bot needs it unencrypted")
    if "PRIVATE KEY-----" not in pem or "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError(f"{path} must be a PEM file holding the private key and its certificate")
    return path


def _ca_file(path: Path) -> Path:
    if "-----BEGIN CERTIFICATE-----" not in _read_pem(path):
        raise ValueError(f"{path} must be a PEM file of CA certificates")
    return path


Guid = Annotated[str, matching(_GUID, "must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
Email = Annotated[str, matching(_EMAIL, "not an email address")]
SlackPrincipal = Annotated[
    str, matching(_SLACK_PRINCIPAL, "not a Slack user id (U…, W…) or user-group id (S…)")
]
SlackChannel = Annotated[str, matching(_SLACK_CHANNEL, "must be a channel id (C…, G…) or #channel-name")]
Tenant = Annotated[str, AfterValidator(_tenant)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BotToken = Annotated[SecretStr, _token_prefix("xoxb-", "a bot token")]
AppToken = Annotated[SecretStr, _token_prefix("xapp-", "an app-level token")]
CertFile = Annotated[Path, AfterValidator(_cert_file)]
CaFile = Annotated[Path, AfterValidator(_ca_file)]


def is_set(value: Any) -> bool:
    return value is not None and value != ""


def as_init_error(error: ErrorDetails) -> InitErrorDetails:
    custom = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
    return InitErrorDetails(type=custom, loc=error["loc"], input=None)
