"""Deciding alerts knows nothing of Slack, and the probe CLI stays light: import walls, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_alerts_package_imports_no_slack() -> None:
    for path in sorted((ROOT / "bot" / "alerts").glob("*.py")):
        slack = {n for n in _imports(path) if n.split(".")[0] in ("slack_sdk", "slack_bolt") or
                 n.startswith("bot.slack")}
        assert not slack, f"{path.name} imports {slack}"


def test_the_probe_package_loads_neither_the_runner_nor_the_database() -> None:
    code = ("import sys, bot.probe; "
            "print(sorted(m for m in sys.modules if m.startswith(('bot.probe.runner', 'bot.store', 'sqlalchemy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
