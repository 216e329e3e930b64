"""`python -m bot explain` and `probe` load only what they use: no configuration, HTTP, Slack or database stack.

Each command runs as a user runs it, in a process of its own, under a wrapper that runs the entry point as
`-m` does and then writes down `sys.modules`. What a command imports is a property of the code, not of the
machine: these tests fail on an import, never on a time.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Printer-Sandbox-1"  # printer@contoso.com's in the sandbox seed
#: Runs `python -m bot ARGV` as `-m` does, then writes the names of the loaded modules to the file named last.
WRAPPER = """
import json, runpy, sys
modules_file = sys.argv.pop()
sys.argv[0] = "python -m bot"
code = 0
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
with open(modules_file, "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""
#: Never for explain or probe: the configuration (pydantic, YAML), HTTP and Microsoft, Slack, the database,
#: the sandbox.
HEAVY = ("pydantic", "yaml", "requests", "urllib3", "msal", "sqlalchemy", "slack_sdk", "slack_bolt", "bot.config",
         "bot.m365", "bot.slack", "bot.store", "sandbox")
#: Nor for a probe that succeeds: the reply catalogue (and the handler registry behind it), the test message's
#: `email` package, the parallel pool, temporary files.
PROBE_EXTRAS = ("bot.diagnosis.catalogue", "bot.diagnosis.rules", "handlers", "email", "bot.probe.pool",
                "concurrent.futures", "tempfile", "logging")


def run(argv: list[str], tmp_path: Path, **extra_env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`python -m bot ARGV` from the project's directory (its app.yaml) without credentials; and its modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    modules_file = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", WRAPPER, *argv, str(modules_file)], capture_output=True,
                          text=True, cwd=ROOT, env={**env, **extra_env}, timeout=60)
    return done, set(json.loads(modules_file.read_text()))


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def probe_argv(sandbox: Sandbox, *extra: str) -> list[str]:
    return ["probe", "--host", "localhost", "--port", str(sandbox.smtp.port), "--user", "printer@contoso.com",
            "--password-env", "PROBE_PW", "--ca-file", str(sandbox.ca_path), "--timeout", "10", *extra]


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_explain_loads_the_catalogue_and_nothing_heavy(tmp_path: Path, json_flag: list[str]) -> None:
    done, modules = run(["explain", *json_flag, "535 5.7.139 Authentication unsuccessful, the request did not "
                         "meet the criteria to be authenticated successfully."], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "conditional_access_or_mfa" in done.stdout
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, ("bot.probe.client", "bot.probe.model", "ssl")) == []  # it shares only the parser
    assert "bot.diagnosis.catalogue" in modules  # what it does need


def test_a_probe_that_succeeds_loads_neither_the_heavy_stack_nor_the_catalogue(sandbox: Sandbox,
                                                                               tmp_path: Path) -> None:
    done, modules = run(probe_argv(sandbox), tmp_path, PROBE_PW=PASSWORD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: printer@contoso.com at localhost:")
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, PROBE_EXTRAS) == []
    session = sandbox.smtp.sessions[-1]  # the stand-in saw the whole dialogue
    assert (session.mailbox, session.mechanism, session.result) == ("printer@contoso.com", "LOGIN", "235 2.7.0")


def test_a_probe_that_fails_still_explains_the_reply(sandbox: Sandbox, tmp_path: Path) -> None:
    done, modules = run(probe_argv(sandbox), tmp_path, PROBE_PW="not-the-password")
    assert done.returncode == 1
    assert "FAILED: printer@contoso.com" in done.stdout and "What to do:" in done.stdout
    assert "bot.diagnosis.catalogue" in modules
    assert loaded(modules, HEAVY) == []


def test_a_probe_that_sends_a_test_message_loads_email_for_it(sandbox: Sandbox, tmp_path: Path) -> None:
    done, modules = run(probe_argv(sandbox, "--submit-to", "it@contoso.com"), tmp_path, PROBE_PW=PASSWORD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test message to it@contoso.com accepted" in done.stdout
    assert "email.message" in modules
    assert loaded(modules, HEAVY) == []


@pytest.mark.parametrize("package", ["bot.diagnosis", "bot.probe"])
def test_the_lean_packages_still_export_every_name(package: str) -> None:
    """Their names load on first use; each resolves to the object, never to a submodule of the same name."""
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, type(module)), name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
