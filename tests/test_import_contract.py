"""The import contract: the product never imports the sandbox, the sandbox no product logic, and no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "sandbox")
PRODUCT = ("bot", "handlers")
#: The process entry point: it hands a no-credential command line to the sandbox bridge.
PRODUCT_MAY_IMPORT_SANDBOX = {"bot.__main__"}
#: What any sandbox module may take from the product: a time source, no product logic.
SANDBOX_MAY_IMPORT = ("bot.clock",)
#: The bridges that wire the real bot to the stand-ins: the terminal console and sandbox-mode commands.
BRIDGES = {"sandbox.console", "sandbox.cli"}
NO_CYCLES_AMONG = ("bot.cli", "bot.doctor", "sandbox.console", "sandbox.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_sources() -> dict[str, str]:
    """Every module of the three packages, by dotted name."""
    paths = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    return {module_name(path): path.read_text() for path in paths}


def imported(module: str, source: str) -> set[str]:
    """Every name `module` imports anywhere (functions included): `from a import b` gives `a.b`."""
    names: set[str] = set()
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level], *([base] if base else [])])
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(sources: dict[str, str]) -> list[str]:
    """The imports that break the wall, as `importer -> imported`."""
    found = []
    for module, source in sorted(sources.items()):
        for name in sorted(imported(module, source)):
            if (_within(module, PRODUCT) and module not in PRODUCT_MAY_IMPORT_SANDBOX
                    and _within(name, ("sandbox",))):
                found.append(f"{module} -> {name}")
            if (_within(module, ("sandbox",)) and module not in BRIDGES and _within(name, PRODUCT)
                    and not _within(name, SANDBOX_MAY_IMPORT)):
                found.append(f"{module} -> {name}")
    return found


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the project modules importing it runs, parent packages included."""
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        targets = set()
        for name in imported(module, source):
            parts = name.split(".")
            targets.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
        # A submodule's own parent packages are already being initialised when it runs: not an edge.
        graph[module] = {target for target in targets if target in sources and target != module
                         and not module.startswith(target + ".")}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycles(graph: dict[str, set[str]], modules: tuple[str, ...]) -> list[tuple[str, str]]:
    """Pairs of `modules` that import each other, directly or not (a module importing itself included)."""
    return [(a, b) for i, a in enumerate(modules) for b in modules[i:] if a in reachable(graph, b)
            and b in reachable(graph, a)]


def test_the_walk_sees_every_package_and_the_named_modules() -> None:
    sources = project_sources()
    assert {"bot.__main__", "bot.cli", "bot.doctor", "handlers.conditional_access", *BRIDGES} <= set(sources)
    assert {"sandbox.launcher", "sandbox.smtp_auth", "sandbox.conditional_access"} <= set(sources)


def test_production_never_imports_the_sandbox_nor_the_sandbox_product_logic() -> None:
    assert violations(project_sources()) == []


def test_only_the_entry_point_reaches_the_sandbox() -> None:
    assert imported("bot.__main__", (ROOT / "bot" / "__main__.py").read_text()) >= {"sandbox.cli.main"}


def test_no_import_cycle_among_cli_doctor_and_console() -> None:
    assert cycles(import_graph(project_sources()), NO_CYCLES_AMONG) == []


def test_the_checker_catches_what_it_must() -> None:
    offending = {
        "bot.helpers": "def start():\n    from sandbox.launcher import start_sandbox\n",
        "handlers.extra": "import sandbox\n",
        "sandbox.smtp_auth": "from handlers.conditional_access import blocks_legacy\n",
        "sandbox.graph": "from bot import config\n",
        "sandbox.slack": "from . import wire\nfrom bot.clock import Clock\n",
        "sandbox.console": "from bot.runtime import build_runtime\n",
        "bot.__main__": "from sandbox.cli import main\n",
    }
    assert violations(offending) == [
        "bot.helpers -> sandbox.launcher.start_sandbox",
        "handlers.extra -> sandbox",
        "sandbox.graph -> bot.config",
        "sandbox.smtp_auth -> handlers.conditional_access.blocks_legacy",
    ]
    assert imported("sandbox.slack", offending["sandbox.slack"]) == {"sandbox.wire", "bot.clock.Clock"}


def test_the_cycle_check_catches_a_lazy_import_back() -> None:
    sources = {
        "bot.cli": "from bot.doctor import doctor_command\n",
        "bot.doctor": "def doctor_main():\n    from bot.cli import sandbox_config\n",
        "sandbox.console": "from bot.cli import run_diagnose\n",
    }
    assert cycles(import_graph(sources), NO_CYCLES_AMONG) == [
        ("bot.cli", "bot.cli"), ("bot.cli", "bot.doctor"), ("bot.doctor", "bot.doctor"),
    ]


def imports_under(folder: str) -> dict[str, set[str]]:
    """What each module under `folder` imports, by module name."""
    sources = project_sources()
    return {m: imported(m, src) for m, src in sources.items() if _within(m, (folder,))}


def test_slack_reaches_request_state_only_through_the_workflow_and_listeners_only_through_services() -> None:
    for module, names in imports_under("bot.slack").items():
        assert not {n for n in names if _within(n, ("bot.store", "bot.history", "bot.chart"))}, module
        if _within(module, ("bot.slack.listeners",)):
            assert not {n for n in names if _within(n, ("bot.runtime",))}, module
        attributes = {n.attr for n in ast.walk(ast.parse(project_sources()[module])) if isinstance(n, ast.Attribute)}
        assert "store" not in attributes, f"{module} reaches for the store"
    renderer = {n for m, names in imports_under("bot.slack.blocks").items() for n in names
                if _within(n, ("bot.workflow",))}
    assert renderer and all(_within(n, ("bot.workflow.model",)) for n in renderer)


def test_deciding_alerts_knows_nothing_of_slack() -> None:
    for module, names in imports_under("bot.alerts").items():
        assert not {n for n in names if _within(n, ("slack_sdk", "slack_bolt", "bot.slack"))}, module


def test_the_readiness_report_is_a_read_only_layer_and_its_core_is_pure() -> None:
    readiness = imports_under("bot.readiness")
    assert set(readiness) >= {"bot.readiness.model", "bot.readiness.classify", "bot.readiness.collect"}
    for module, names in readiness.items():
        assert not {n for n in names if _within(n, ("slack_sdk", "slack_bolt", "bot.slack", "bot.store",
                                                     "bot.workflow", "handlers", "bot.runtime"))}, module
        if module != "bot.readiness.collect":  # only the collector reads Microsoft 365
            assert not {n for n in names if _within(n, ("bot.m365", "requests", "msal"))}, module
    renderer = {n for names in imports_under("bot.slack.blocks").values() for n in names
                if _within(n, ("bot.readiness",))}
    assert renderer and all(_within(n, ("bot.readiness.model",)) for n in renderer)
