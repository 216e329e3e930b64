"""Probe targets as the configuration holds them, for history, chart and metrics tests."""

from __future__ import annotations

from types import SimpleNamespace


def target(name: str, auth: str = "login") -> SimpleNamespace:
    """A `probes.targets` entry: what history, chart and metrics read of one."""
    return SimpleNamespace(name=name, mailbox=f"{name}@contoso.com", auth=auth)
