"""README's set-up steps and the handlers' declarations name the same permissions and roles."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.registry import CHECKS, REMEDIATIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def setup_steps(text: str) -> str:
    """The production set-up section, where an admin reads what to grant."""
    return text.split("## Production set-up", 1)[1].split("\n## ", 1)[0]


def declared() -> set[str]:
    return {p.name for handler in (*REMEDIATIONS.values(), *CHECKS.values()) for p in handler.permissions}


def test_every_declared_permission_and_role_is_in_the_readmes_set_up_steps() -> None:
    steps = setup_steps(README.read_text())
    assert {name for name in declared() if name not in steps} == set()


def test_every_graph_permission_the_readme_asks_for_is_declared_by_a_handler() -> None:
    steps = setup_steps(README.read_text())
    graph_line = re.search(r"- Microsoft Graph: (.*?)\n   - ", steps, re.S)
    assert graph_line is not None
    asked = set(re.findall(r"`([A-Z][A-Za-z]+(?:\.[A-Za-z]+)+)`", graph_line.group(1)))
    assert asked and asked <= declared()
