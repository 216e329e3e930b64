"""The configuration sections, as pydantic models that report every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

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

from bot.config.values import (
    CREDENTIALS,
    DB_SCHEMES,
    LOG_FORMATS,
    LOG_LEVELS,
    PROBE_AUTH,
    SLUG,
    AppToken,
    BotToken,
    CaFile,
    CertFile,
    Email,
    Guid,
    HttpsUrl,
    HttpUrl,
    Loc,
    SlackChannel,
    SlackPrincipal,
    Tenant,
    as_init_error,
    is_set,
    matching,
    one_of,
)
from bot.m365.clouds import CLOUDS, Cloud


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
        details = [as_init_error(e) for e in errors]
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
    cloud: Annotated[str, one_of(CLOUDS)] = "global"
    endpoints: Endpoints = Field(default_factory=Endpoints)
    ca_bundle: CaFile | None = None
    timeout_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(4, ge=1)
    max_retry_wait_seconds: float = Field(60, ge=0)
    bulk_batch_size: int = Field(50, ge=1, le=1000)
    """Mailboxes per batch of a bulk change: one bulk read before and after, the writes in between."""
    bulk_concurrency: int = Field(4, ge=1, le=16)
    """Set-CASMailbox calls in flight at once in a bulk change (Exchange throttles a tenant's concurrent calls)."""

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        if not any(is_set(data.get(key)) for key in CREDENTIALS):
            return []
        why = "required once any Microsoft 365 credential is set{} (unset them all to run the sandbox)"
        found: list[tuple[Loc, str]] = [
            ((key,), why.format("")) for key in ("tenant_id", "client_id") if not is_set(data.get(key))
        ]
        secret, cert = is_set(data.get("client_secret")), is_set(data.get("client_cert_path"))
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
    approvals_required: dict[str, Annotated[int, Field(ge=1, le=5)]] = {}
    """Different approvers a step needs, by step key (e.g. bulk_smtp_auth_off: 3); default 2 for a wide change
    (tenant-wide or bulk), else 1."""
    alert_channel: SlackChannel | None = None
    outbox_give_up_hours: float = Field(24, gt=0)
    outbox_max_backoff_seconds: float = Field(300, gt=0)

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        bot, signing, app = (is_set(data.get(key)) for key in ("bot_token", "signing_secret", "app_token"))
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
        required = data.get("approvals_required")
        if isinstance(required, Mapping):
            from handlers import BULK, CLEANUP, REMEDIATIONS  # the registry loads without msal or requests

            known = sorted({*REMEDIATIONS, *CLEANUP, *BULK})
            for key in required:
                if key not in known:
                    found.append((("approvals_required", str(key)), f"not a step; steps are {', '.join(known)}"))
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


class ProbeTargetConfig(_Section):
    """One mailbox to probe. After loading, host, port and interval_minutes hold the effective values."""

    name: Annotated[str, matching(SLUG, "must be a slug (lowercase letters, digits, - and _)")]
    mailbox: Email
    auth: Annotated[str, one_of(PROBE_AUTH)] = "login"
    password: SecretStr | None = None
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    interval_minutes: float | None = Field(None, gt=0)
    submit_to: Email | None = None
    client_id: Guid | None = None
    """xoauth2 only: the device's own app (client) id; its token then signs in instead of the bot's app's."""
    client_secret: SecretStr | None = None
    """xoauth2 with client_id: that app's client secret (a ${VAR} reference)."""

    @classmethod
    def _key_problems(cls, data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        auth, password = data.get("auth", "login"), is_set(data.get("password"))
        app = {key: is_set(data.get(key)) for key in ("client_id", "client_secret")}
        if auth in ("login", "plain") and not password:
            return [(("password",), f"required for auth {auth} (a ${{VAR}} reference)")]
        if auth == "xoauth2" and password:
            return [(("password",), "not used with auth xoauth2 (the app's token authenticates)")]
        if auth != "xoauth2" and any(app.values()):
            key = next(k for k, v in app.items() if v)
            return [((key,), "only with auth xoauth2 (the device's own app signs in with a token)")]
        if app["client_id"] != app["client_secret"]:
            missing = "client_secret" if app["client_id"] else "client_id"
            return [((missing,), "set client_id and client_secret together (the device's own app)")]
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
    targets: list[ProbeTargetConfig] = []

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
            ProbeTargetConfig.model_construct(
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


SNOOZE_BY = ("approvers", "anyone")


class AlertsConfig(_Section):
    """When a failing probe raises, repeats and clears an alert."""

    failures_before_alert: int = Field(2, ge=1)
    successes_before_recovery: int = Field(1, ge=1)
    remind_every_minutes: int = Field(240, ge=0)
    flap_window: int = Field(21, ge=2)
    flap_threshold: int = Field(6, ge=1)
    snooze_hours: int = Field(24, ge=1)
    """The longest snooze offered on a card (its Snooze buttons are 1, 4 and 24 h, those up to this)."""
    snooze_by: Annotated[str, one_of(SNOOZE_BY)] = "approvers"
    """Who may snooze and unsnooze an alert: `approvers` (slack.approvers) or `anyone`."""
    history_retention_days: int = Field(30, ge=1)
    readiness_weekly: bool = False
    """Post the SMTP AUTH readiness summary and CSV to the alert channel every Monday 08:00 UTC."""

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
    claim_seconds: float = Field(30, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if not sep or scheme not in DB_SCHEMES:
            raise ValueError(
                f"must be a URL starting with one of {', '.join(s + '://' for s in DB_SCHEMES)}"
            )
        return value


class LoggingConfig(_Section):
    """How much the bot logs, and how: text lines or one JSON object per line."""

    level: Annotated[str, AfterValidator(str.upper), one_of(LOG_LEVELS)] = "INFO"
    format: Annotated[str, AfterValidator(str.lower), one_of(LOG_FORMATS)] = "text"


class ReadinessConfig(_Section):
    """The limits past which /readyz answers 503."""

    probe_lease_max_age_seconds: float = Field(300, gt=0)
    outbox_max_backlog: int = Field(1000, ge=1)
    outbox_max_age_seconds: float = Field(900, gt=0)
    outbox_max_dead: int = Field(0, ge=0)


class DiagnosisQueueConfig(_Section):
    """How each worker process queues and batches diagnoses (`/smtp-enable`, Diagnose again, Fix)."""

    queue: int = Field(200, ge=1, le=100_000)
    at_once: int = Field(2, ge=1, le=32)
    batch: int = Field(20, ge=1, le=500)
    window_ms: int = Field(50, ge=0, le=5000)
    max_hold_ms: int = Field(2000, ge=0, le=60_000)
    busy_after: int = Field(20, ge=0)


class ServerConfig(_Section):
    """The HTTP process that serves Slack (HTTP mode): where it listens and how many workers it runs."""

    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(8, ge=1, le=256)
    max_body_bytes: int = Field(512 * 1024, ge=1024)
    metrics_token: Annotated[SecretStr, Field(min_length=16)] | None = None
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    diagnoses: DiagnosisQueueConfig = Field(default_factory=DiagnosisQueueConfig)


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
        found: list[tuple[Loc, str]] = []
        if self.slack.enabled and self.m365.credential is None:
            found.append((("m365",), "Slack is set but Microsoft 365 is not: set tenant_id, client_id and "
                          "client_secret or client_cert_path (M365_* variables), or unset the Slack settings to "
                          "run the sandbox"))
        if self.slack.enabled and self.probes.targets and not self.slack.alert_channel:
            found.append((("slack", "alert_channel"), "required when Slack is on and probes.targets is not empty"))
        return found

    def serve_problems(self) -> list[str]:
        """What is missing to serve Slack: the bot runs with both integrations or, with neither, the sandbox."""
        if self.sandbox or self.slack.enabled:
            return []
        return ["slack: Microsoft 365 is set but Slack is not: set bot_token and signing_secret "
                "(SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) or app_token for Socket Mode; without Slack, use "
                "`python -m bot diagnose UPN` or `python -m bot doctor`"]

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def sandbox(self) -> bool:
        """No credentials at all, neither Microsoft's nor Slack's: the bot runs against the local sandbox.

        Slack set without Microsoft is a configuration error (`_value_problems`), so this is explicit.
        """
        return not any(getattr(self.m365, key) for key in CREDENTIALS) and not self.slack.enabled
