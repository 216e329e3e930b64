"""Sandbox mode of `python -m bot`: with no credentials, run, diagnose and doctor use a sandbox started here.

The bridge from the product to its stand-ins, so that the product never imports the sandbox:
`bot/__main__.py` hands a command line here when the configuration sets no credentials (or for the
`sandbox` command). This module starts the sandbox, points the configuration at it with
`with_overrides`, and calls the product's own commands with that configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot import cli
from bot.config import AppConfig, load_config, with_overrides
from bot.errors import ExitCode
from sandbox.bulk import seed_with_mailboxes
from sandbox.launcher import Sandbox, serve_forever, start_sandbox


def main(argv: list[str] | None = None, *, env: dict[str, str] | None = None,
         stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """`python -m bot ARGV` in sandbox mode: the product's command line with the sandbox's commands."""
    return cli.main(argv, env=env, stdin=stdin, stdout=stdout, commands=COMMANDS)


@contextlib.contextmanager
def sandbox_config(cfg: AppConfig) -> Iterator[tuple[AppConfig, Sandbox]]:
    """Start the sandbox in this process and plug it into the configuration: endpoints and CA only."""
    with tempfile.TemporaryDirectory(prefix="smtp-auth-bot-sandbox-") as workdir:
        sandbox = start_sandbox(Path(workdir))
        try:
            yield with_overrides(cfg, {"m365": sandbox.m365_settings()}), sandbox
        finally:
            sandbox.stop()


def doctor_main(cfg: AppConfig, out: IO[str], mailbox: str | None = None) -> int:
    """The product's `doctor` against a fresh sandbox tenant, saying so first."""
    from bot.doctor import doctor_main as check

    with sandbox_config(cfg) as (sandboxed, sandbox):
        print("Sandbox: no Microsoft 365 credentials are set, so this checks a local stand-in tenant "
              f"started at {sandbox.url}, not a real one.", file=out)
        return check(cfg, out, sandboxed, mailbox=mailbox)


def _run(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from sandbox.console import run_console

    return run_console(load_config(args.config, env), stdin, out)  # the console keeps the log to itself


def _diagnose(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.m365.tenant import connect

    with sandbox_config(cli.configured(args, env)) as (sandboxed, _):
        return cli.diagnose_args(connect(sandboxed.m365), args, out)


def _readiness(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    from bot.m365.tenant import connect
    from bot.readiness.collect import check_days

    check_days(args.days)
    with sandbox_config(cli.configured(args, env)) as (sandboxed, sandbox):
        print(f"Sandbox: no Microsoft 365 credentials are set, so this reads a local stand-in tenant at {sandbox.url}.",
              file=sys.stderr)
        return cli.run_readiness(connect(sandboxed.m365), sandboxed, args, out)


def _doctor(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    return doctor_main(load_config(args.config, env), out, args.mailbox)


def _serve(args: argparse.Namespace, env: dict[str, str], stdin: IO[str], out: IO[str]) -> int:
    serve_forever(args.host, args.port, args.state_dir,
                  seed=seed_with_mailboxes(args.mailboxes) if args.mailboxes > 0 else None)
    return ExitCode.OK


COMMANDS: dict[str, cli.Command] = {"run": _run, "diagnose": _diagnose, "doctor": _doctor, "sandbox": _serve,
                                    "readiness": _readiness}
