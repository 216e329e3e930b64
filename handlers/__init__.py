"""Remediations and read-only checks, one module each; `handlers.registry` collects them."""

from __future__ import annotations

from handlers.base import Change, Check, Finding, Permission, Remediation, Status
from handlers.registry import CHECKS, REMEDIATIONS, in_plan_order, in_report_order

__all__ = [
    "CHECKS",
    "REMEDIATIONS",
    "Change",
    "Check",
    "Finding",
    "Permission",
    "Remediation",
    "Status",
    "in_plan_order",
    "in_report_order",
]
