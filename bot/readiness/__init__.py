"""SMTP AUTH readiness for the end of Basic auth: who sends with a password, who could, who uses OAuth, what next.

At the end of December 2026 Exchange Online turns Basic auth for SMTP AUTH off by default for existing tenants
(admins can turn it back on for now; Microsoft announces the final removal date in the second half of 2027 —
Exchange Team blog, 27 January 2026). `build_report(m365, days=..., now=...)` reads the tenant in bulk (see
`collect`), `classify` sorts each account into `AccountClass` (Basic in use; enabled, usage unknown; enabled but
unused; OAuth; off) with a recommended path and why, and `render` prints it as a table, JSON or CSV.

For the clean-up step: `unused_mailboxes(report) -> list[(upn, prior)]` lists each mailbox whose SMTP AUTH is
effectively on and that had no password sign-in in the report's window, with its prior
`SmtpClientAuthenticationDisabled`: `False` (explicitly on) or `None` (inherits an enabled organisation), the value
an undo must put back exactly. It is empty whenever the sign-in logs could not be read (no `AuditLog.Read.All`, no
Entra ID P1): an account whose usage is unknown is never a clean-up candidate. `upn` is the sign-in name when the
logs showed one, else the mailbox's primary SMTP address (both are identities `Set-CASMailbox` accepts).
`org_unused(report)` says whether the organisation switch may be proposed off too: the logs were read and no
mailbox that inherits it used SMTP AUTH (with a password, or through an app with OAuth).
"""

from bot.readiness.model import (
    BASIC_OFF_BY_DEFAULT,
    DEFAULT_DAYS,
    MAX_DAYS,
    Account,
    AccountClass,
    Report,
    Source,
    Usage,
    org_unused,
    unused_mailboxes,
)

__all__ = ["BASIC_OFF_BY_DEFAULT", "DEFAULT_DAYS", "MAX_DAYS", "Account", "AccountClass", "Report", "Source", "Usage",
           "org_unused", "unused_mailboxes"]
