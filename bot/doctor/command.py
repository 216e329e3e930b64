"""`python -m bot doctor`: check every credential, permission and role the enabled features need."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

from bot.doctor.microsoft import MicrosoftChecks
from bot.doctor.result import FAIL, OK
from bot.doctor.slack import SlackChecks
from bot.doctor.smtp import SmtpChecks
from bot.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from bot.config import AppConfig


class Doctor(MicrosoftChecks, SlackChecks, SmtpChecks):
    """Runs the checks in order."""

    def run(self, cfg: AppConfig, mailbox: str | None = None) -> None:
        """Every check after the configuration, against `cfg`'s tenant and workspace.

        `mailbox` (else the first probe target's) is where a no-op Set-CASMailbox proves write access.
        """
        from bot.m365.tenant import connect

        self.app = f"the app with client id {cfg.m365.client_id}"
        m365 = connect(cfg.m365)
        graph = self.token(m365, cfg.m365.graph_scope, "Microsoft Graph")
        exchange = self.token(m365, cfg.m365.exchange_scope, "Exchange Online")
        self.graph_permissions(graph)
        self.sign_in_logs(m365, graph)
        targets = cfg.probes.targets
        self.exchange(m365, exchange, mailbox or (targets[0].mailbox if targets else None))
        self.slack(cfg)
        self.smtp(cfg, exchange)


def doctor_command(path: str | None, env: Mapping[str, str], out: IO[str], mailbox: str | None = None) -> int:
    """`python -m bot doctor`: load the configuration (2, listing its problems, when it does not load)."""
    from bot.config import config_path, load_config

    try:
        cfg = load_config(path, env)
    except ConfigError as err:
        return config_failure(config_path(path, env), err.problems, out)
    return doctor_main(cfg, out, mailbox=mailbox)


def doctor_main(cfg: AppConfig, out: IO[str], target: AppConfig | None = None, *, mailbox: str | None = None) -> int:
    """Check `cfg`'s tenant and workspace, or `target`: `cfg` pointed at a stand-in (the sandbox bridge's).

    0 when everything needed is present, 1 when something is missing, 2 on a configuration error.
    """
    if target is None:
        m365 = cfg.m365
        print(f"Checking tenant {m365.tenant_id} ({m365.cloud} cloud), app {m365.client_id}.", file=out)
    return _checked(cfg, target or cfg, out, mailbox)


def _checked(cfg: AppConfig, target: AppConfig, out: IO[str], mailbox: str | None) -> int:
    """The checks against `target`: `cfg` itself, or `cfg` pointed at the sandbox."""
    from bot.config import mode_lines

    doctor = Doctor(out, secrets_of(cfg) + secrets_of(target))
    source = cfg.source or "the configuration"
    doctor.add(OK, "Configuration", f"{source} loads; " + "; ".join(mode_lines(cfg)))
    try:
        doctor.run(target, mailbox)
    except ConfigError as err:  # the certificate file is read only when connecting
        return config_failure(cfg.source, err.problems, out)
    return doctor.summary()


def config_failure(source: object, problems: list[str], out: IO[str]) -> int:
    """The Configuration check failed: one FAIL line, the problems under it, the summary; exit 2."""
    doctor = Doctor(out, [])
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    doctor.add(FAIL, "Configuration", f"{source or 'the configuration'} has {count}, listed below",
               "correct those keys, or the environment variables they name, and run doctor again")
    for problem in problems:
        print(f"       - {problem}", file=out)
    doctor.summary()
    return ExitCode.USAGE


def secrets_of(cfg: AppConfig) -> list[str]:
    """Every secret value in `cfg`, to keep out of the output."""
    values = [cfg.m365.client_secret, cfg.slack.bot_token, cfg.slack.signing_secret, cfg.slack.app_token]
    values += [target.password for target in cfg.probes.targets]
    values += [target.client_secret for target in cfg.probes.targets]
    return [value.get_secret_value() for value in values if value is not None]
