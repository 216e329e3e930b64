"""Showing the configuration: masked effective values, run modes, problems, `check-config`."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import SecretStr

from bot.config.loading import config_path, load_config
from bot.config.sections import AppConfig
from bot.config.storage import database_line, database_warnings
from bot.errors import ConfigError


def masked(cfg: AppConfig) -> dict[str, Any]:
    """The effective configuration as plain data; each secret is '***' when set and None when not."""
    data = _plain(cfg.model_dump())
    data["m365"]["endpoints"] = {
        "login": cfg.m365.login_url,
        "graph": cfg.m365.graph_url,
        "exchange": cfg.m365.exchange_url,
    }
    data["database"]["url"] = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", cfg.database.url)
    return data


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, SecretStr):
        return "***"
    return str(node) if isinstance(node, Path) else node


def mode_lines(cfg: AppConfig) -> list[str]:
    """One line per integration saying how it will run, then the database and any warning about it."""
    m365 = cfg.m365
    if cfg.sandbox:
        microsoft = "Microsoft 365: sandbox (no credentials set)"
    else:
        microsoft = (
            f"Microsoft 365: tenant {m365.tenant_id}, cloud {m365.cloud}, {m365.credential} credential"
        )
    slack = {
        "disabled": "Slack: disabled (SLACK_BOT_TOKEN not set)",
        "http": "Slack: HTTP mode (signed requests from Slack)",
        "socket": "Slack: Socket Mode",
    }[cfg.slack.mode]
    return [microsoft, slack, f"Probes: {len(cfg.probes.targets)} target(s)", database_line(cfg),
            *(f"Warning: {warning}" for warning in database_warnings(cfg))]


def format_problems(problems: list[str], source: str | Path | None = None) -> str:
    """Every problem on its own line, under a header naming the file."""
    count = f"{len(problems)} configuration problem{'s' if len(problems) != 1 else ''}"
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{source}: {count}:\n{lines}" if source else f"{count}:\n{lines}"


def check_config_main(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """`python -m bot check-config`: print the masked effective config and modes (0) or the problems (2)."""
    out = out or sys.stdout
    try:
        cfg = load_config(path, env)
    except ConfigError as err:
        out.write(format_problems(err.problems, config_path(path, env)) + "\n")
        return 2
    out.write(f"# effective configuration from {cfg.source}; secrets shown as ***\n")
    out.write(yaml.safe_dump(masked(cfg), sort_keys=False, allow_unicode=True))
    out.write("\n".join(mode_lines(cfg)) + "\n")
    return 0
