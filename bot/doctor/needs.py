"""What the registered handlers declare they need: permissions and roles per API, and what covers each."""

from __future__ import annotations

from dataclasses import dataclass

from handlers import CHECKS, REMEDIATIONS, Permission

GRAPH, EXCHANGE, ENTRA_ROLE = "Microsoft Graph", "Office 365 Exchange Online", "Entra role"


@dataclass(frozen=True)
class Use:
    """Where a handler declares a permission or role, and what for."""

    kind: str  # "step" (a remediation, which changes a setting) or "check" (read-only)
    key: str
    permission: Permission

    def describe(self) -> str:
        return f"{self.permission.reason} ({self.kind} {self.key})"


def declared(api: str) -> dict[str, list[Use]]:
    """Permission or role name -> the handlers that declare it for `api` (see `handlers.Permission.api`)."""
    needs: dict[str, list[Use]] = {}
    for handler in (*REMEDIATIONS.values(), *CHECKS.values()):
        kind = "step" if handler.changes else "check"
        for permission in handler.permissions:
            if permission.api == api:
                needs.setdefault(permission.name, []).append(Use(kind, handler.key, permission))
    return needs


def graph_alternatives(permission: Permission) -> tuple[str, ...]:
    """The Graph permissions that allow what `permission` is declared for (its ReadWrite twin included)."""
    name = permission.name
    wider = name.replace(".Read.", ".ReadWrite.", 1) if ".Read." in name else None
    return (name, *([wider] if wider else []), *permission.covered_by)
