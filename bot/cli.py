"""`python -m bot [--config PATH] COMMAND`: run the bot, check the configuration, diagnose users, run the sandbox."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Mapping

from bot.errors import BotError, ConfigError, ExitCode, InvalidInput
from bot.probe.cli import add_probe_arguments, probe_main
from bot.workflow import AUTH_MODES

# Only what parsing the command line needs loads here: each command loads its own modules, so that `explain`
# and `probe` start about as fast as the interpreter (tests/test_cli_imports.py keeps them lean).
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (a few ms of the CLI's start-up)
if TYPE_CHECKING:
    import logging
    from typing import IO, Any

    from bot.config import AppConfig
    from bot.m365.tenant import M365

    #: A command: parsed arguments, environment, stdin and stdout in; the exit code out.
    Command = Callable[[argparse.Namespace, dict[str, str], IO[str], IO[str]], int]

COMMAND_FORMAT = "%(levelname)s %(name)s: %(message)s"

NO_CREDENTIALS = "m365: no Microsoft 365 credentials are set (M365_*): `python -m bot` runs the sandbox then"


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, sized as argparse sizes it but without importing `shutil` (and the compression
    modules behind it): argparse builds a formatter for every argument it adds, so that import was paid by
    every command."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """The width `shutil.get_terminal_size` gives: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser with `_HelpFormatter`; its subcommands' parsers are `_Parser`s too."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formatter_class=_HelpFormatter, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=__doc__)
    parser.add_argument("--config", metavar="PATH", help="configuration file (default: $APP_CONFIG or ./app.yaml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog=parser.prog)  # given, not formatted
    sub.add_parser("run", help="run the bot (the default; the sandbox when no credentials are set)")
    sub.add_parser("check-config", help="print the effective configuration, secrets masked")
    doc = sub.add_parser("doctor", help="check every credential, permission and role the enabled features need")
    doc.add_argument("--mailbox", metavar="UPN", help="prove write access with a no-op change on this mailbox "
                     "(default: the first probe target's)")
    diag = sub.add_parser("diagnose", help="diagnose SMTP AUTH for users and print the plan (read-only)")
    diag.add_argument("upns", nargs="+", metavar="UPN")
    diag.add_argument("--json", action="store_true", help="machine-readable output")
    diag.add_argument("--auth", choices=AUTH_MODES, default="basic", help="how the device signs in (default basic)")
    diag.add_argument("--org", action="store_true", help="propose the organisation-wide switch instead of the mailbox's")
    diag.add_argument("--app", metavar="APP_ID", help="OAuth onboarding: the device's app (client) id, as /smtp-oauth")
    diag.add_argument("--full-access", action="store_true",
                      help="with --app: the FullAccess route (admin consent + Add-MailboxPermission) instead of a "
                      "role scoped to the mailbox")
    exp = sub.add_parser("explain", help="say what an SMTP reply from Exchange Online means and what fixes it")
    exp.add_argument("reply", nargs="+", metavar="REPLY", help="the reply text, e.g. from the device's log")
    exp.add_argument("--json", action="store_true", help="machine-readable output")
    probe = sub.add_parser("probe", help="probe SMTP AUTH for one mailbox the way a device does")
    add_probe_arguments(probe)
    aud = sub.add_parser("audit", help="print the audit log (who asked, approved and changed what, when)")
    aud.add_argument("--since", metavar="DATE", help="only rows from this date or ISO timestamp on")
    form = aud.add_mutually_exclusive_group()
    form.add_argument("--json", dest="format", action="store_const", const="json", help="one JSON object a line")
    form.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV with a header row")
    ready = sub.add_parser("readiness", help="SMTP AUTH readiness for the end of Basic auth: who sends with a "
                           "password, who could, who uses OAuth, and the path for each (read-only)")
    ready.add_argument("--days", type=int, default=30, metavar="N",
                       help="password sign-ins over the last N days, 1-30 (default 30; Entra keeps 30)")
    shape = ready.add_mutually_exclusive_group()
    shape.add_argument("--json", dest="format", action="store_const", const="json", help="machine-readable output")
    shape.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV with a header row")
    clean = sub.add_parser("cleanup", help="propose turning SMTP AUTH off for mailboxes that do not use it (a plan "
                           "card for the running bot to post; two approvers)")
    clean.add_argument("upns", nargs="*", metavar="UPN", help="mailboxes you know to be unused; without any, the "
                       "readiness report picks them from the sign-in logs (and the organisation switch when no "
                       "inheriting mailbox uses it)")
    clean.add_argument("--days", type=int, default=30, help="the period they went unused (default 30)")
    clean.add_argument("--org", action="store_true", help="with UPNs: no mailbox that inherits the organisation's "
                       "setting uses SMTP AUTH, so also propose the organisation switch off")
    clean.add_argument("--as", dest="requester", required=True, metavar="SLACK_USER", help="who asks (a Slack user id)")
    clean.add_argument("--channel", metavar="CHANNEL", help="where the card goes (default: slack.alert_channel)")
    box = sub.add_parser("sandbox", help="run the sandbox tenant as its own process")
    box.add_argument("--host", default="127.0.0.1")
    box.add_argument("--port", type=int, default=8443)
    box.add_argument("--state-dir", default=".sandbox", help="where the CA and sandbox.env are written")
    box.add_argument("--mailboxes", type=int, default=0, metavar="N",
                     help="add N generated mailboxes to the demo tenant (e.g. 10000 to try the readiness report)")
    return parser


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """`build_parser()`, once a process: the entry point parses a command line twice (`runs_in_sandbox`, `main`)."""
    return build_parser()


#: Commands that log nothing (`explain` reads its argument and prints), so start without setting up logging.
SILENT_COMMANDS = frozenset({"explain"})


def main(argv: list[str] | None = None, *, env: dict[str, str] | None = None,
         stdin: IO[str] | None = None, stdout: IO[str] | None = None,
         commands: Mapping[str, Command] | None = None) -> int:
    """Run one command; `commands` replaces some by name (the sandbox bridge's run, diagnose, doctor ...)."""
    env = dict(os.environ) if env is None else env
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)
    name = args.command or "run"
    if name not in SILENT_COMMANDS and not (name == "probe" and args.auth != "xoauth2"):
        # a password probe needs no logging (its records are INFO/DEBUG; `bot.probe.client` writes them only
        # once `logging` is loaded); xoauth2 gets a token through MSAL, whose lines are kept quiet as elsewhere
        import logging

        logging.basicConfig(level=logging.WARNING, format=COMMAND_FORMAT)
        if name != "run":
            quiet_libraries()
    command = {**COMMANDS, **(commands or {})}[name]
    try:
        return command(args, env, stdin or sys.stdin, out)
    except ConfigError as exc:
        print(exc.describe(), file=out)
        return ExitCode.USAGE
    except BotError as exc:
        print(f"error: {exc.describe()}", file=out)
        return ExitCode.USAGE if exc.__class__.__name__ == "InvalidInput" else ExitCode.PROBLEM


def quiet_libraries() -> None:
    """Keep library log lines (msal, urllib3, slack_sdk ...) out of a command's output; it reports what matters."""
    import logging

    for handler in logging.getLogger().handlers:
        handler.addFilter(_own_records)


def _own_records(record: logging.LogRecord) -> bool:
    import logging

    return record.name.partition(".")[0] in ("bot", "handlers") or record.levelno >= logging.CRITICAL


def existing_database(url: str, command: str) -> str:
    """`url`, refused when it names an SQLite file that does not exist: a read-only command must not create one."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:") and not Path(path).exists():
        raise ConfigError([f"database.url: the SQLite file {Path(path).resolve()} does not exist; `{command}` only "
                           "reads the bot's database: run it where the bot runs or set DATABASE_URL to that database"])
    return url


#: The commands the sandbox bridge has its own version of (`sandbox.cli.COMMANDS`). The bridge would run the
#: others (explain, probe, check-config, audit) exactly as the product does, so they go to the product
#: directly, without loading the configuration first.
SANDBOX_COMMANDS = frozenset({"run", "diagnose", "doctor", "readiness", "sandbox"})


def runs_in_sandbox(argv: list[str], env: Mapping[str, str]) -> bool:
    """Whether the sandbox bridge runs `python -m bot ARGV`: its `sandbox` command, or one of
    `SANDBOX_COMMANDS` with no credentials set. Only those load the configuration to decide."""
    args = _parser().parse_args(argv)
    name = args.command or "run"
    if name == "sandbox":
        return True
    if name not in SANDBOX_COMMANDS:
        return False
    from bot.config import load_config

    try:
        return load_config(args.config, env).sandbox
    except ConfigError:  # main reports the problems
        return False


def configured(args: argparse.Namespace, env: Mapping[str, str]) -> AppConfig:
    """The configuration named on the command line, its log level and format applied."""
    from bot.config import load_config
    from bot.logs import configure_logging

    cfg = load_config(args.config, env)
    configure_logging(cfg.logging.level, cfg.logging.format, COMMAND_FORMAT)
    return cfg


def _probe(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    return probe_main(args, env, out, token_supplier=lambda: exchange_token(args.config, env))


def _check_config(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.config import check_config_main

    return check_config_main(args.config, env, out)


def _doctor(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.doctor import doctor_command

    return doctor_command(args.config, env, out, args.mailbox)


def _explain(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    return run_explain(" ".join(args.reply), as_json=args.json, out=out)


def _sandbox(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    raise InvalidInput("`sandbox` runs from the entry point: `python -m bot sandbox`, `python -m sandbox`")


def _audit(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.audit import audit_main

    url = existing_database(configured(args, env).database.url, "audit")
    return audit_main(url, args.since, args.format or "text", out)


def _diagnose(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.m365.tenant import connect

    cfg = configured(args, env)
    if cfg.sandbox:
        raise ConfigError([NO_CREDENTIALS])
    return diagnose_args(connect(cfg.m365), args, out)


def _run(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    return run(configured(args, env), stdin, out)


def _readiness(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.m365.tenant import connect

    cfg = configured(args, env)
    if cfg.sandbox:
        raise ConfigError([NO_CREDENTIALS])
    return run_readiness(connect(cfg.m365), cfg, args, out)


def _cleanup(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.runtime import build_runtime

    cfg = configured(args, env)
    if cfg.sandbox:
        raise ConfigError([NO_CREDENTIALS + "; in the sandbox console, type `cleanup UPN...`"])
    channel = args.channel or cfg.slack.alert_channel
    if not channel:
        raise InvalidInput("Say where the card goes: --channel, or set slack.alert_channel.")
    if args.org and not args.upns:
        raise InvalidInput("--org goes with named mailboxes; without them the readiness report decides whether to "
                           "propose the organisation switch off.")
    runtime = build_runtime(cfg)
    try:
        flow = runtime.workflow
        if args.upns:
            view = flow.open_cleanup(flow.read_candidates(args.upns), args.days, args.requester, channel,
                                     org_unused=args.org)
        else:
            from bot.readiness.collect import check_days

            view = runtime.close_unused(check_days(args.days), args.requester, channel)
    finally:
        runtime.workflow.close()
        runtime.store.close()
    print(f"{view.request.id}: {view.request.upn}; {len(view.steps)} step(s) waiting for approval. The running bot "
          f"posts the card to {channel}.", file=out)
    return ExitCode.OK


COMMANDS: dict[str, Command] = {
    "probe": _probe, "check-config": _check_config, "doctor": _doctor, "explain": _explain,
    "sandbox": _sandbox, "audit": _audit, "diagnose": _diagnose, "run": _run, "readiness": _readiness, "cleanup": _cleanup,
}


def diagnose_args(m365: M365, args: argparse.Namespace, out: IO[str]) -> int:
    """`diagnose` with its parsed arguments, against `m365`."""
    app = getattr(args, "app", None)
    if getattr(args, "full_access", False) and not app:
        raise InvalidInput("--full-access needs --app APP_ID.")
    return run_diagnose(m365, args.upns, as_json=args.json, auth_mode=args.auth, include_org=args.org, out=out,
                        app_id=app, route="full_access" if getattr(args, "full_access", False) else "scoped")


def run_diagnose(m365: M365, upns: list[str], *, as_json: bool, auth_mode: str, include_org: bool,
                 out: IO[str], app_id: str | None = None, route: str = "scoped") -> int:
    import json

    from bot.workflow.diagnose import diagnose
    from bot.workflow.plan import make_plan
    from bot.workflow.report import format_report
    from handlers.facts import OAuthApp

    app = OAuthApp(app_id, route) if app_id else None
    results = diagnose(m365, upns, auth_mode=auth_mode, app=app)
    plans = [make_plan(d, include_org=include_org) for d in results]
    if as_json:
        payload = [{"diagnosis": d.to_dict(), "plan": p.to_dict()} for d, p in zip(results, plans, strict=True)]
        json.dump(payload if len(payload) > 1 else payload[0], out, indent=2, default=str)
        out.write("\n")
    else:
        out.write("\n\n".join(format_report(d, p) for d, p in zip(results, plans, strict=True)) + "\n")
    return ExitCode.OK if all(p.error is None for p in plans) else ExitCode.PROBLEM


def run_readiness(m365: M365, cfg: AppConfig, args: argparse.Namespace, out: IO[str],
                  err: IO[str] | None = None) -> int:
    """`readiness`: read the tenant, print the report; a progress line on stderr when it is a terminal.

    Exits 1 when the sign-in logs could not be read (the report still prints, usage shown as not read)."""
    from bot.clock import SYSTEM_CLOCK
    from bot.readiness.collect import build_report, check_days
    from bot.readiness.render import table, to_csv, to_json

    check_days(args.days)
    err = err or sys.stderr
    oauth = [str(t.mailbox) for t in cfg.probes.targets if t.auth == "xoauth2"]
    bar = ProgressLine(err) if err.isatty() else None
    try:
        report = build_report(m365, days=args.days, now=SYSTEM_CLOCK.now(), oauth_mailboxes=oauth,
                              progress=bar.show if bar else None)
    finally:
        if bar:
            bar.done()
    out.write({"json": to_json, "csv": to_csv}.get(args.format or "", table)(report))
    return ExitCode.OK if report.sign_ins.read else ExitCode.PROBLEM


class ProgressLine:
    """A one-line progress bar on a terminal: the phase, a bar that fills per phase, and the count read so far."""

    PHASES = ("organisation settings", "mailboxes", "sign-in logs", "Exchange service principals")

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def show(self, phase: str, count: int) -> None:
        step = self.PHASES.index(phase) + 1 if phase in self.PHASES else 0
        filled = "#" * (step * 5) + "-" * ((len(self.PHASES) - step) * 5)
        self.stream.write(f"\r[{filled}] reading {phase}: {count:,}".ljust(70))
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\r" + " " * 70 + "\r")
        self.stream.flush()


def exchange_token(config_path: str | None, env: dict[str, str]) -> str:
    """An app-only token for SMTP XOAUTH2 (scope outlook.office365.com/.default) from the configured app."""
    from bot.config import load_config
    from bot.m365.tenant import connect

    cfg = load_config(config_path, env)
    if cfg.sandbox:
        raise ConfigError(["m365: XOAUTH2 without --token-env needs the app's credentials (M365_*)"])
    return connect(cfg.m365).tokens.token(cfg.m365.exchange_scope)


def run_explain(reply: str, *, as_json: bool, out: IO[str]) -> int:
    from bot.diagnosis import explain, format_explanation

    if not reply.strip():
        print("error: give the reply text, e.g. python -m bot explain \"535 5.7.139 Authentication "
              "unsuccessful, ...\"", file=out)
        return ExitCode.USAGE
    result = explain(reply)
    if as_json:
        import json

        json.dump(result, out, indent=2)
        out.write("\n")
    else:
        print(format_explanation(result), file=out)
    return ExitCode.OK


def run(cfg: AppConfig, stdin: IO[str], out: IO[str]) -> int:
    """The bot's main process: Slack in HTTP or Socket Mode."""
    if cfg.sandbox:
        raise ConfigError([NO_CREDENTIALS])
    if problems := cfg.serve_problems():
        raise ConfigError(problems)
    from bot.slack.serve import run_http, run_socket_mode, warn_about_database

    print(f"Serving Slack in {cfg.slack.mode} mode.", file=out)
    warn_about_database(cfg)
    (run_socket_mode if cfg.slack.mode == "socket" else run_http)(cfg)
    return ExitCode.OK
