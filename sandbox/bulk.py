"""Generated mailboxes for scale: `generatedMailboxes: N` in a tenant's seed (or `python -m sandbox --mailboxes N`).

Users `mbx00001@<domain>` ... with a deterministic mix of SMTP AUTH switches (about 60 % inherit the organisation,
25 % explicitly on, 15 % explicitly off) and, for every 20th explicitly-on mailbox, a few "Authenticated SMTP"
sign-ins from one of a handful of IPs. Built directly (no per-user duplicate scan) so 10,000 take well under a
second.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sandbox.signins import SignIn
from sandbox.tenant import OFFICE_365_E3, Mailbox, TenantState, User

PREFIX = "mbx"
IPS = ("203.0.113.10", "203.0.113.11", "198.51.100.7", "192.0.2.44")


def switch_for(n: int) -> bool | None:
    """The SMTP AUTH switch of generated mailbox `n`: None inherits, False on, True off."""
    bucket = n % 20
    if bucket < 12:
        return None
    return bucket >= 17


def add_generated_mailboxes(tenant: TenantState, count: int, now: datetime) -> None:
    """Add `count` licensed users with mailboxes (and some sign-ins) to `tenant`."""
    domain = tenant.domains[0]
    for n in range(1, count + 1):
        upn = f"{PREFIX}{n:05d}@{domain}"
        user = User(
            id=tenant.derived_id("user", upn),
            user_principal_name=upn,
            display_name=f"Generated mailbox {n}",
            mail=upn,
            assigned_licenses=[{"skuId": OFFICE_365_E3, "disabledPlans": []}],
            mailbox=Mailbox(tenant.derived_id("mailbox", upn), switch_for(n)),
        )
        tenant.users.append(user)
        if switch_for(n) is False and n % 20 == 12:
            for k in range(3):
                tenant.sign_ins.append(
                    SignIn(str(uuid.uuid5(uuid.UUID(user.id), f"signin:{k}")), now - timedelta(days=k + 1, hours=n % 24),
                           user.id, upn, user.display_name, IPS[(n + k) % len(IPS)], 50126 if k == 2 else 0)
                )


def seed_with_mailboxes(count: int, seed: Path | str | dict[str, Any] | None = None,
                        tenant: str = "contoso") -> dict[str, Any]:
    """The seed (default: the demo tenant) with `count` generated mailboxes added to `tenant`."""
    from sandbox.seeding import SEED_PATH

    raw = copy.deepcopy(seed) if isinstance(seed, dict) else yaml.safe_load(Path(seed or SEED_PATH).read_text())
    raw["tenants"][tenant]["generatedMailboxes"] = count
    return raw
