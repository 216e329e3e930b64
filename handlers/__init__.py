"""Remediations and read-only checks, one module each; `handlers.registry` collects them."""

from __future__ import annotations

from handlers.base import Change, Check, Finding, Permission, Remediation, Status
from handlers.registry import (
    BULK,
    CHECKS,
    CLEANUP,
    REMEDIATIONS,
    display,
    in_plan_order,
    in_report_order,
    remediation,
)

__all__ = [
    "BULK",
    "CHECKS",
    "CLEANUP",
    "REMEDIATIONS",
    "Change",
    "Check",
    "Finding",
    "Permission",
    "Remediation",
    "Status",
    "display",
    "in_plan_order",
    "in_report_order",
    "remediation",
]
