"""Least privilege: SMTP AUTH off for many mailboxes that do not use it, and the organisation switch off.

Exchange has no bulk Set-CASMailbox: each mailbox is one `Set-CASMailbox -SmtpClientAuthenticationDisabled $true`,
sent with bounded concurrency (the transport waits out 429s and the "maximum number of concurrent requests" fault
with their Retry-After). Reads are bulk: `Get-CASMailbox -Filter` on PrimarySmtpAddress, which Microsoft documents
as filterable for that cmdlet (filter-properties.md), 50 addresses per filter. `$null` (JSON null) puts a
mailbox back to inheriting the organisation's setting (MicrosoftDocs/office-docs-powershell Set-CASMailbox.md:
$false on, $true off, $null inherits Set-TransportConfig's value; CIPP resets a mailbox to inherit by sending
`SmtpClientAuthenticationDisabled: null` over InvokeCommand; see reference/m365.md §3.1).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.errors import ExchangeNotFound, M365Error, PermissionMissing, Throttled
from handlers.base import Finding, Status, tri_state
from handlers.mailbox_smtp_auth import MailboxSmtpAuth
from handlers.org_smtp_auth import OrgSmtpAuth

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts

#: Addresses per OPATH filter: keeps the filter short and the request count low (as `handlers.facts` does).
FILTER_CHUNK = 50
CAS_SELECT = ["Identity", "PrimarySmtpAddress", "SmtpClientAuthenticationDisabled"]
NOT_SENT = "Not sent: Exchange kept throttling the bot in this batch; Retry sends it again."

#: What `read_many` gives for one mailbox: its tri-state value, or why it could not be read.
Read = bool | None | M365Error


class BulkSmtpAuthOff:
    """SMTP AUTH off for each of many mailboxes; each one's prior value is kept so an undo restores it exactly."""

    key = "bulk_smtp_auth_off"
    title = "SMTP AUTH off for mailboxes that do not use it"
    scope = "bulk"
    target_value = True
    docs = MailboxSmtpAuth.docs
    permissions = MailboxSmtpAuth.permissions
    impact = ("Reduces exposure: these mailboxes can no longer send by SMTP AUTH with a password, so a leaked "
              "password cannot be used to send mail from them that way. A device or app that still uses one of "
              "them (not seen in the sign-in logs of the period) stops sending until it moves to OAuth or the "
              "mailbox's switch is turned back on; Undo puts each mailbox's own value back.")

    def display(self, value: Any) -> str:
        return MailboxSmtpAuth().display(value)

    def read_many(self, m365: M365, upns: list[str]) -> dict[str, Read]:
        """Each mailbox's SMTP AUTH switch, read in bulk; a mailbox the filter did not return is read on its own.

        A missing permission or throttling that outlasted the retries holds for every mailbox of the call.
        """
        found: dict[str, Read] = {}
        by_address = {upn.lower(): upn for upn in upns}
        try:
            for start in range(0, len(upns), FILTER_CHUNK):
                chunk = upns[start:start + FILTER_CHUNK]
                rows = m365.exchange.invoke("Get-CASMailbox", {"Filter": _any_of("PrimarySmtpAddress", chunk)},
                                            select=CAS_SELECT).value
                for row in rows:
                    upn = by_address.get(str(row.get("PrimarySmtpAddress", "")).lower())
                    if upn:
                        found[upn] = tri_state(row.get("SmtpClientAuthenticationDisabled"))
        except (PermissionMissing, Throttled) as exc:
            return {upn: found.get(upn, exc) for upn in upns}
        except M365Error:
            pass  # a rejected filter or an outage: each mailbox is read on its own below
        for upn in upns:
            if upn not in found:
                found[upn] = self._read_one(m365, upn)
        return found

    def _read_one(self, m365: M365, upn: str) -> Read:
        try:
            rows = m365.exchange.invoke("Get-CASMailbox", {"Identity": upn}, select=CAS_SELECT,
                                        anchor=f"UPN:{upn}").value
        except ExchangeNotFound:
            return ExchangeNotFound(f"{upn} has no Exchange Online mailbox (any more).")
        except M365Error as exc:
            return exc
        if not rows:
            return ExchangeNotFound(f"{upn} has no Exchange Online mailbox (any more).")
        return tri_state(rows[0].get("SmtpClientAuthenticationDisabled"))

    def write(self, m365: M365, upn: str, value: bool | None) -> None:
        m365.exchange.invoke("Set-CASMailbox", {"Identity": upn, "SmtpClientAuthenticationDisabled": value},
                             anchor=f"UPN:{upn}")

    def write_many(self, m365: M365, values: Mapping[str, bool | None], *,
                   concurrency: int) -> dict[str, Exception | None]:
        """Write each mailbox's value, at most `concurrency` at a time; what each write raised (None: no error).

        Once Exchange throttles a write past the transport's retries, the writes not yet sent are not sent.
        """
        throttled = threading.Event()

        def one(upn: str) -> Exception | None:
            if throttled.is_set():
                return M365Error(NOT_SENT)
            try:
                self.write(m365, upn, values[upn])
            except Throttled as exc:
                throttled.set()
                return exc
            except Exception as exc:  # noqa: BLE001 - the caller reads the mailbox back and records it
                return exc
            return None

        from concurrent.futures import (
            ThreadPoolExecutor,  # only when applying: `explain` loads this module too
        )

        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="bulk-write") as pool:
            return dict(zip(values, pool.map(one, list(values)), strict=True))


class OrgSmtpAuthOff(OrgSmtpAuth):
    """The organisation switch off, proposed with the clean-up when no mailbox that inherits it uses SMTP AUTH."""

    key = "org_smtp_auth_off"
    title = "SMTP AUTH off for the whole organisation"
    label = "turn SMTP AUTH off for the organisation (Set-TransportConfig -SmtpClientAuthenticationDisabled $true)"
    target_value = True
    opt_in = True
    alternative_to = None
    impact = ("Reduces exposure tenant-wide: every mailbox that does not set its own value stops accepting SMTP "
              "AUTH. Mailboxes that turn it on for themselves keep it. The readiness report saw no mailbox that "
              "inherits the setting use SMTP AUTH in the period.")

    def can_replace(self, finding: Finding) -> bool:
        return False

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        if self.read(facts, upn):
            return self.finding(Status.OK, "SMTP AUTH is already off for the organisation.", current=True)
        return self.finding(Status.CHANGE, "SMTP AUTH is on for the organisation.", current=False, proposed=True)


def _any_of(prop: str, values: list[str]) -> str:
    """An OPATH filter matching any of `values`; single quotes inside a value are doubled."""
    return " -or ".join(f"{prop} -eq '{v.replace(chr(39), chr(39) * 2)}'" for v in values)
