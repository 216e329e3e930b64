"""Sandbox mode is the entry point's choice: the product's commands never start a sandbox themselves."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import SANDBOX_COMMANDS, main, runs_in_sandbox
from sandbox import cli as bridge
from sandbox.launcher import Sandbox

APP_YAML = str(Path(__file__).resolve().parent.parent / "app.yaml")


@pytest.mark.parametrize(("argv", "with_credentials", "expected"), [
    (["run"], False, True),
    ([], False, True),
    (["diagnose", "crm@contoso.com"], False, True),
    (["doctor"], False, True),
    (["run"], True, False),
    (["doctor"], True, False),
    (["sandbox"], True, True),
    # The bridge has no version of these: the product runs them, credentials or not.
    (["explain", "535 5.7.3"], False, False),
    (["probe", "--host", "localhost", "--user", "printer@contoso.com"], False, False),
    (["check-config"], False, False),
])
def test_runs_in_sandbox_exactly_when_no_credentials_are_set(argv: list[str], with_credentials: bool,
                                                              expected: bool, sandbox: Sandbox) -> None:
    env = sandbox.env() if with_credentials else {}
    assert runs_in_sandbox(["--config", APP_YAML, *argv], env) is expected


def test_the_commands_the_entry_point_bridges_are_the_bridges_commands() -> None:
    assert set(bridge.COMMANDS) == SANDBOX_COMMANDS


def test_a_configuration_that_does_not_load_is_left_to_the_product_to_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("m365:\n  cloud: mars\n")
    assert runs_in_sandbox(["--config", str(bad), "run"], {}) is False


@pytest.mark.parametrize("command", [["diagnose", "crm@contoso.com"], ["run"]])
def test_the_product_alone_refuses_to_run_without_credentials(command: list[str]) -> None:
    out = io.StringIO()
    assert main(["--config", APP_YAML, *command], env={}, stdin=io.StringIO(""), stdout=out) == 2
    assert "no Microsoft 365 credentials are set" in out.getvalue()


def test_the_bridge_diagnoses_against_a_sandbox_it_starts() -> None:
    out = io.StringIO()
    argv = ["--config", APP_YAML, "diagnose", "--json", "crm@contoso.com"]
    assert bridge.main(argv, env={}, stdout=out) == 0
    assert json.loads(out.getvalue())["plan"]["blocked"] is True
