"""The configuration: app.yaml plus `${VAR}` secrets from the environment, validated all at once."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self, TextIO
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from yaml.constructor import ConstructorError

from bot.errors import ConfigError
from bot.m365.clouds import CLOUDS, Cloud

DEFAULT_PATH = Path("app.yaml")

#: Keys whose value must come from the environment; `[]` stands for any list index.
SECRET_KEYS = frozenset(
    {
        "m365.client_secret",
        "slack.bot_token",
        "slack.signing_secret",
        "slack.app_token",
        "probes.targets[].password",
    }
)

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SLACK_PRINCIPAL = re.compile(r"[UWS][A-Z0-9]{2,}")
_SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9._-]{0,79}")
_DB_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PROBE_AUTH = ("login", "plain", "xoauth2")
_CREDENTIALS = ("tenant_id", "client_id", "client_secret", "client_cert_path")

Loc = tuple[str | int, ...]


# --- value checks -----------------------------------------------------------------------------------------


def _one_of(choices: tuple[str, ...] | Mapping[str, Any]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return AfterValidator(check)


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
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


Guid = Annotated[str, _matching(_GUID, "must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
Email = Annotated[str, _matching(_EMAIL, "not an email address")]
SlackPrincipal = Annotated[
    str, _matching(_SLACK_PRINCIPAL, "not a Slack user id (U…, W…) or user-group id (S…)")
]
SlackChannel = Annotated[str, _matching(_SLACK_CHANNEL, "must be a channel id (C…, G…) or #channel-name")]
Tenant = Annotated[str, AfterValidator(_tenant)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BotToken = Annotated[SecretStr, _token_prefix("xoxb-", "a bot token")]
AppToken = Annotated[SecretStr, _token_prefix("xapp-", "an app-level token")]
CertFile = Annotated[Path, AfterValidator(_cert_file)]
CaFile = Annotated[Path, AfterValidator(_ca_file)]


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def _as_init_error(error: ErrorDetails) -> InitErrorDetails:
    custom = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
    return InitErrorDetails(type=custom, loc=error["loc"], input=None)


# --- models -----------------------------------------------------------------------------------------------


class _Section(BaseModel):
    """Unknown keys rejected, values immutable, inputs (maybe secrets) kept out of error text.

    Problems between keys are collected next to the field errors, so one load reports everything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        """Problems between keys that only need to know which keys are set, judged on the raw input."""
        return []

    def _value_problems(self) -> list[tuple[Loc, str]]:
        """Problems between validated values."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _report_together(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        found = cls._key_problems(data) if isinstance(data, Mapping) else []
        errors: list[ErrorDetails] = []
        try:
            model = handler(data)
        except ValidationError as err:
            if not found:
                raise
            errors = err.errors()
        else:
            found += model._value_problems()
            if not found:
                return model
        details = [_as_init_error(e) for e in errors]
        details += [
            InitErrorDetails(type=PydanticCustomError("config", msg), loc=loc, input=None)
            for loc, msg in found
        ]
        raise ValidationError.from_exception_data(cls.__name__, details, hide_input=True)


class Endpoints(_Section):
    """Base URLs that replace the cloud's (a sandbox, a proxy). Empty means the cloud's default."""

    login: HttpsUrl | None = None
    graph: HttpsUrl | None = None
    exchange: HttpsUrl | None = None


class M365Config(_Section):
    """The app registration and the tenant. No credentials at all means the sandbox."""

    tenant_id: Tenant | None = None
    client_id: Guid | None = None
    client_secret: SecretStr | None = None
    client_cert_path: CertFile | None = None
    cloud: Annotated[str, _one_of(CLOUDS)] = "global"
    endpoints: Endpoints = Field(default_factory=Endpoints)
    ca_bundle: CaFile | None = None
    timeout_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(4, ge=1)
    max_retry_wait_seconds: float = Field(60, ge=0)

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        if not any(_is_set(data.get(key)) for key in _CREDENTIALS):
            return []
        why = "required once any Microsoft 365 credential is set{} (unset them all to run the sandbox)"
        found: list[tuple[Loc, str]] = [
            ((key,), why.format("")) for key in ("tenant_id", "client_id") if not _is_set(data.get(key))
        ]
        secret, cert = _is_set(data.get("client_secret")), _is_set(data.get("client_cert_path"))
        if secret and cert:
            found.append((("client_cert_path",), "set client_secret or client_cert_path, not both"))
        elif not (secret or cert):
            found.append((("client_secret",), why.format(", unless client_cert_path is")))
        return found

    @property
    def cloud_info(self) -> Cloud:
        return CLOUDS[self.cloud]

    @property
    def login_url(self) -> str:
        return self.endpoints.login or self.cloud_info.login_url

    @property
    def graph_url(self) -> str:
        return self.endpoints.graph or self.cloud_info.graph_url

    @property
    def exchange_url(self) -> str:
        return self.endpoints.exchange or self.cloud_info.exchange_url

    @property
    def graph_scope(self) -> str:
        return self.cloud_info.graph_scope

    @property
    def exchange_scope(self) -> str:
        return self.cloud_info.exchange_scope

    @property
    def credential(self) -> str | None:
        """'secret', 'certificate', or None in the sandbox."""
        if self.client_secret is not None:
            return "secret"
        return "certificate" if self.client_cert_path is not None else None


class SlackConfig(_Section):
    """The Slack app. No bot token means Slack is off; an app token selects Socket Mode over HTTP."""

    bot_token: BotToken | None = None
    signing_secret: SecretStr | None = None
    app_token: AppToken | None = None
    api_url: HttpUrl | None = None
    approvers: list[SlackPrincipal] = []
    requesters: list[SlackPrincipal] = []
    allow_self_approval: bool = False
    approval_ttl_minutes: int = Field(60, gt=0)
    alert_channel: SlackChannel | None = None

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        bot, signing, app = (_is_set(data.get(key)) for key in ("bot_token", "signing_secret", "app_token"))
        found: list[tuple[Loc, str]] = []
        if bot and not (signing or app):
            found.append(
                (("signing_secret",), "required when bot_token is set (or set app_token for Socket Mode)")
            )
        if not bot and (signing or app):
            found.append(
                (
                    ("bot_token",),
                    "required when signing_secret or app_token is set (unset them to turn Slack off)",
                )
            )
        if bot and not data.get("approvers"):
            found.append((("approvers",), "list at least one approver when Slack is on"))
        return found

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    @property
    def mode(self) -> str:
        """'disabled', 'http' (signed Events API requests) or 'socket' (Socket Mode)."""
        if not self.enabled:
            return "disabled"
        return "socket" if self.app_token is not None else "http"


class ProbeTarget(_Section):
    """One mailbox to probe. After loading, host, port and interval_minutes hold the effective values."""

    name: Annotated[str, _matching(_SLUG, "must be a slug (lowercase letters, digits, - and _)")]
    mailbox: Email
    auth: Annotated[str, _one_of(_PROBE_AUTH)] = "login"
    password: SecretStr | None = None
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    interval_minutes: float | None = Field(None, gt=0)
    submit_to: Email | None = None

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        auth, password = data.get("auth", "login"), _is_set(data.get("password"))
        if auth in ("login", "plain") and not password:
            return [(("password",), f"required for auth {auth} (a ${{VAR}} reference)")]
        if auth == "xoauth2" and password:
            return [(("password",), "not used with auth xoauth2 (the app's token authenticates)")]
        return []


class ProbesConfig(_Section):
    """Scheduled SMTP AUTH probes."""

    interval_minutes: float = Field(5, gt=0)
    smtp_host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    timeout_seconds: float = Field(20, gt=0)
    max_concurrency: int = Field(20, ge=1)
    per_mailbox_connections: int = Field(3, ge=1, le=3)
    ca_bundle: CaFile | None = None
    lease_seconds: float = Field(30, gt=0)
    targets: list[ProbeTarget] = []

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        targets = data.get("targets")
        if not isinstance(targets, list):
            return []
        seen: dict[str, int] = {}
        found: list[tuple[Loc, str]] = []
        for index, target in enumerate(targets):
            name = target.get("name") if isinstance(target, Mapping) else None
            if isinstance(name, str) and name in seen:
                found.append((("targets", index, "name"), f"duplicate of targets[{seen[name]}].name"))
            elif isinstance(name, str):
                seen[name] = index
        return found

    def _with_defaults(self, cloud_smtp_host: str) -> ProbesConfig:
        # Filled-in values stay out of model_fields_set, so model_dump(exclude_unset=True) still returns
        # only what was configured and with_overrides() can re-derive them.
        host = self.smtp_host or cloud_smtp_host
        targets = [
            ProbeTarget.model_construct(
                target.model_fields_set,
                **{
                    **dict(target),
                    "host": target.host or host,
                    "port": target.port or self.port,
                    "interval_minutes": target.interval_minutes or self.interval_minutes,
                },
            )
            for target in self.targets
        ]
        return ProbesConfig.model_construct(
            self.model_fields_set, **{**dict(self), "smtp_host": host, "targets": targets}
        )


class AlertsConfig(_Section):
    """When a failing probe raises, repeats and clears an alert."""

    failures_before_alert: int = Field(2, ge=1)
    successes_before_recovery: int = Field(1, ge=1)
    remind_every_minutes: int = Field(240, ge=0)
    flap_window: int = Field(21, ge=2)
    flap_threshold: int = Field(6, ge=1)
    snooze_hours: int = Field(24, ge=1)
    history_retention_days: int = Field(30, ge=1)

    def _value_problems(self) -> list[tuple[Loc, str]]:
        if self.flap_threshold >= self.flap_window:
            return [
                (
                    ("flap_threshold",),
                    f"must be < flap_window ({self.flap_window} probes hold at most "
                    f"{self.flap_window - 1} state changes)",
                )
            ]
        return []


class DatabaseConfig(_Section):
    """Where state lives. Only the scheme is checked here; the store (`normalise_url`) picks the driver."""

    url: str = Field("sqlite:///smtp-auth-bot.db", repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if not sep or scheme not in _DB_SCHEMES:
            raise ValueError(
                f"must be a URL starting with one of {', '.join(s + '://' for s in _DB_SCHEMES)}"
            )
        return value


class LoggingConfig(_Section):
    """How much the bot logs."""

    level: Annotated[str, AfterValidator(str.upper), _one_of(_LOG_LEVELS)] = "INFO"


class ServerConfig(_Section):
    """The HTTP process that serves Slack (HTTP mode): where it listens and how many workers it runs."""

    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(8, ge=1, le=256)


class AppConfig(_Section):
    """The whole configuration. `source` is the file it came from (None when built from a dict)."""

    m365: M365Config = Field(default_factory=M365Config)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig, validate_default=True)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("probes")
    @classmethod
    def _probe_defaults(cls, probes: ProbesConfig, info: ValidationInfo) -> ProbesConfig:
        m365 = info.data.get("m365")
        return probes._with_defaults((m365.cloud_info if m365 else CLOUDS["global"]).smtp_host)

    def _value_problems(self) -> list[tuple[Loc, str]]:
        if self.slack.enabled and self.probes.targets and not self.slack.alert_channel:
            return [(("slack", "alert_channel"), "required when Slack is on and probes.targets is not empty")]
        return []

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def sandbox(self) -> bool:
        """No Microsoft credentials configured: the bot runs against the local sandbox."""
        return not any(getattr(self.m365, key) for key in _CREDENTIALS)


# --- loading ----------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the second one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def config_path(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The file to load: `path`, else $APP_CONFIG, else ./app.yaml."""
    env = os.environ if env is None else env
    return Path(path or env.get("APP_CONFIG") or DEFAULT_PATH)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read, interpolate and validate the configuration; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    source = config_path(path, env)
    problems: list[str] = []
    data = _resolve(_read_yaml(source), "", env, problems)
    return _validated(data, problems, source)


def with_overrides(cfg: AppConfig, overrides: Mapping[str, Any]) -> AppConfig:
    """`cfg` re-validated with `overrides` deep-merged over what was configured (lists replace lists).

    How the sandbox plugs in its tenant, generated secret, endpoint URLs and CA bundle, in process. A
    None value unsets a key. Derived values (probes.smtp_host ...) are derived again.
    """
    return _validated(_merge(cfg.model_dump(exclude_unset=True), overrides), [], cfg.source)


def _validated(data: dict[str, Any], problems: list[str], source: Path | None) -> AppConfig:
    try:
        cfg = AppConfig.model_validate(_prune(data))
    except ValidationError as err:
        problems = problems + [f"{_dotted(e['loc'])}: {_message(e)}" for e in err.errors()]
        raise ConfigError(list(dict.fromkeys(problems))) from None
    if problems:
        raise ConfigError(problems)
    cfg._source = source
    return cfg


def _read_yaml(source: Path) -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: no such file (pass another path or set APP_CONFIG)"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{source}: {where}{exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of sections (m365:, slack:, ...)"])
    return data


def _resolve(node: Any, key: str, env: Mapping[str, str], problems: list[str]) -> Any:
    """Interpolate `${VAR}` and `${VAR:-default}` in every string; refuse secrets written in the file."""
    if isinstance(node, dict):
        return {k: _resolve(v, f"{key}.{k}" if key else str(k), env, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, f"{key}[{i}]", env, problems) for i, v in enumerate(node)]
    literal = node is not None and not (isinstance(node, str) and _REF.fullmatch(node))
    if literal and re.sub(r"\[\d+\]", "[]", key) in SECRET_KEYS:
        problems.append(f"{key}: must be a ${{VAR}} reference, not a literal")
    if key == "database.url" and isinstance(node, str) and not _REF.search(node) and urlsplit(node).password:
        problems.append(
            f"{key}: the password must come from the environment (${{DATABASE_URL}}), not the file"
        )
    if not isinstance(node, str):
        return node
    whole = _REF.fullmatch(node)
    if whole:
        return _lookup(whole, env) or None

    def substitute(match: re.Match[str]) -> str:
        value = _lookup(match, env)
        if value is None:
            problems.append(f"{key}: environment variable {match.group(1)} is not set")
        return value or ""

    return _REF.sub(substitute, node) or None


def _lookup(ref: re.Match[str], env: Mapping[str, str]) -> str | None:
    name, default = ref.groups()
    value = env.get(name)
    return default if default is not None and not value else value


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, Mapping):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    return over


def _prune(node: Any) -> Any:
    """Drop keys whose value is null (unset or empty after interpolation), so they take their defaults."""
    if isinstance(node, dict):
        return {k: _prune(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_prune(v) for v in node]
    return node


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(top level)"


_PLAIN_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "path_type": "must be a path",
}


def _message(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        return str(ctx["error"])
    for bound, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if bound in ctx:
            return f"must be {sign} {ctx[bound]:g}"
    return _PLAIN_MESSAGES.get(error["type"], error["msg"])


# --- showing ----------------------------------------------------------------------------------------------


def masked(cfg: AppConfig) -> dict[str, Any]:
    """The effective configuration as plain data; each secret is '***' when set and None when not."""
    data = _plain(cfg.model_dump())
    data["m365"]["endpoints"] = {
        "login": cfg.m365.login_url,
        "graph": cfg.m365.graph_url,
        "exchange": cfg.m365.exchange_url,
    }
    data["database"]["url"] = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", cfg.database.url)
    return data


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, SecretStr):
        return "***"
    return str(node) if isinstance(node, Path) else node


def mode_lines(cfg: AppConfig) -> list[str]:
    """One line per integration saying how it will run."""
    m365 = cfg.m365
    if cfg.sandbox:
        microsoft = "Microsoft 365: sandbox (no credentials set)"
    else:
        microsoft = (
            f"Microsoft 365: tenant {m365.tenant_id}, cloud {m365.cloud}, {m365.credential} credential"
        )
    slack = {
        "disabled": "Slack: disabled (SLACK_BOT_TOKEN not set)",
        "http": "Slack: HTTP mode (signed requests from Slack)",
        "socket": "Slack: Socket Mode",
    }[cfg.slack.mode]
    return [microsoft, slack, f"Probes: {len(cfg.probes.targets)} target(s)"]


def format_problems(problems: list[str], source: str | Path | None = None) -> str:
    """Every problem on its own line, under a header naming the file."""
    count = f"{len(problems)} configuration problem{'s' if len(problems) != 1 else ''}"
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{source}: {count}:\n{lines}" if source else f"{count}:\n{lines}"


def check_config_main(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """`python -m bot check-config`: print the masked effective config and modes (0) or the problems (2)."""
    out = out or sys.stdout
    try:
        cfg = load_config(path, env)
    except ConfigError as err:
        out.write(format_problems(err.problems, config_path(path, env)) + "\n")
        return 2
    out.write(f"# effective configuration from {cfg.source}; secrets shown as ***\n")
    out.write(yaml.safe_dump(masked(cfg), sort_keys=False, allow_unicode=True))
    out.write("\n".join(mode_lines(cfg)) + "\n")
    return 0
