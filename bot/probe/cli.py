"""`python -m bot probe`: one SMTP AUTH probe from the terminal, printed as a summary or as JSON."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping

from bot.errors import ExitCode, InvalidInput
from bot.probe.vocabulary import AUTH_CHOICES, MECHANISMS, PROBE_CAUSES

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (a few ms of the CLI's start-up)
if TYPE_CHECKING:
    from typing import IO

    from bot.clock import Clock
    from bot.probe.model import Credential, ProbeResult, ProbeTarget


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    """The `probe` subcommand's options. Secrets are only ever read from named environment variables.

    Turns off option abbreviations on `parser`, so that `--password SECRET` is refused rather than taken
    as `--password-env SECRET`.
    """
    parser.allow_abbrev = False
    parser.add_argument("--host", required=True, help="SMTP server, e.g. smtp.office365.com")
    parser.add_argument("--port", type=int, help="default 587, or 465 with --implicit-tls")
    parser.add_argument("--user", required=True, metavar="MAILBOX", help="the mailbox that authenticates")
    parser.add_argument("--auth", choices=AUTH_CHOICES, default="login", help="mechanism (default login)")
    parser.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="environment variable holding an access token for xoauth2 (default: the configured app's token)",
    )
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the server (default: system)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S", help="seconds per phase")
    parser.add_argument(
        "--implicit-tls", action="store_true", help="TLS on connect (port 465); not on Exchange Online"
    )
    parser.add_argument("--submit-to", metavar="ADDR", help="also send a test message to this address")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def probe_main(
    args: argparse.Namespace,
    env: Mapping[str, str],
    out: IO[str],
    *,
    token_supplier: Callable[[], str] | None = None,
    clock: Clock | None = None,
) -> int:
    """Run the probe the arguments describe: 0 when it succeeds, 1 when it fails, 2 on a usage error.

    `token_supplier` gives the xoauth2 token when `--token-env` is not set (the configured app's token);
    `clock` defaults to the system clock.
    """
    try:
        target = _target(args)
        credential = _credential(args, env, token_supplier)
    except InvalidInput as exc:
        print(f"error: {exc.describe()}", file=out)
        return ExitCode.USAGE
    # Sockets and TLS load here, not for `python -m bot explain`, which shares the parser.
    from bot.clock import SYSTEM_CLOCK
    from bot.probe.client import probe

    result = probe(target, credential=credential, clock=clock or SYSTEM_CLOCK)
    if args.json:
        import json

        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")
    else:
        out.write(format_result(result) + "\n")
    return ExitCode.OK if result.ok else ExitCode.PROBLEM


def _target(args: argparse.Namespace) -> ProbeTarget:
    from bot.probe.model import ProbeTarget  # dataclasses: not for `explain`, which shares the parser

    if args.ca_file and not os.path.isfile(args.ca_file):
        raise InvalidInput(f"--ca-file {args.ca_file}: no such file")
    port = args.port or (465 if args.implicit_tls else 587)
    try:
        return ProbeTarget(
            host=args.host,
            port=port,
            mailbox=args.user,
            auth=args.auth,
            tls="implicit" if args.implicit_tls else "starttls",
            timeout=args.timeout,
            ca_file=args.ca_file,
            submit_to=args.submit_to,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _credential(
    args: argparse.Namespace, env: Mapping[str, str], token_supplier: Callable[[], str] | None
) -> Credential:
    password_env, token_env = args.password_env, args.token_env
    if args.auth == "none":
        if password_env or token_env:
            raise InvalidInput("--auth none sends no credential; drop --password-env and --token-env")
        return None
    if args.auth == "xoauth2":
        if password_env:
            raise InvalidInput("--auth xoauth2 takes a token (--token-env), not a password")
        if token_env:
            return _from_env(env, token_env, "--token-env")
        if token_supplier is None:
            raise InvalidInput(
                "no token for xoauth2", hint="Set --token-env VAR, or configure the app (m365) to get one."
            )
        return token_supplier
    if token_env:
        raise InvalidInput(f"--auth {args.auth} takes a password (--password-env), not a token")
    if not password_env:
        raise InvalidInput(
            f"--auth {args.auth} needs --password-env VAR",
            hint="Put the password in an environment variable and name it; it is never taken as an argument.",
        )
    return _from_env(env, password_env, "--password-env")


def _from_env(env: Mapping[str, str], name: str, option: str) -> str:
    value = env.get(name, "")
    if not value:
        raise InvalidInput(f"{option} {name}: the environment variable is unset or empty")
    return value


def format_result(result: ProbeResult) -> str:
    """A few lines for a terminal, then the catalogue's explanation when the probe failed."""
    via = f"{result.mailbox} at {result.host}:{result.port}"
    if result.ok:
        lines = [f"OK: {via}: {result.message}"]
    else:
        lines = [f"FAILED: {via}, in {result.phase}: {result.cause}"]
        if result.reply is None:
            lines.append(f"  {result.message}")
    if result.reply is not None:
        reply = result.reply
        parts = (reply.code, reply.enhanced_status, reply.text)
        lines.append("Reply: " + " ".join(str(part) for part in parts if part))
    if result.auth_mode:
        lines.append(f"Auth: {MECHANISMS[result.auth]} ({result.auth_mode})")
    if result.tls_version:
        tls = f"TLS: {result.tls_version} {result.tls_cipher}"
        if result.cert_not_after is not None:
            expires = f"{result.cert_not_after:%Y-%m-%d} ({result.cert_days_left} days left)"
            tls += f"; certificate expires {expires}"
        lines.append(tls)
    if result.mechanisms:
        lines.append(f"AUTH offered: {' '.join(result.mechanisms)}")
    lines.append("Timings (ms): " + ", ".join(f"{phase} {ms:g}" for phase, ms in result.timings_ms.items()))
    lines += [f"Note: {note}" for note in result.notes]
    if not result.ok:
        lines += ["", _explanation(result)]
    return "\n".join(lines)


def _explanation(result: ProbeResult) -> str:
    from bot.diagnosis import CATALOGUE, explain, format_explanation  # only a failed probe explains itself

    if result.reply is not None:
        return format_explanation(explain(result.reply.raw))
    cause = CATALOGUE.get(result.cause)
    if cause is None:
        return f"Cause: {PROBE_CAUSES.get(result.cause, result.cause)}."
    return format_explanation(
        {
            "cause": cause.key,
            "title": cause.title,
            "reply": "",
            "explanation": cause.explanation,
            "advice": cause.advice,
            "steps": list(cause.steps),
            "checks": list(cause.checks),
            "transient": cause.transient,
            "docs": cause.docs,
        }
    )
