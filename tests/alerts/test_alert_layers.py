"""The probe CLI stays light: importing the probe package loads neither the runner nor the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_probe_package_loads_neither_the_runner_nor_the_database() -> None:
    code = ("import sys; from bot.probe import *; "  # every exported name: the package loads them on first use
            "print(sorted(m for m in sys.modules if m.startswith(('bot.probe.runner', 'bot.store', 'sqlalchemy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
