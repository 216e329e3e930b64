"""Each account's class, recommended path and why: pure, from its switch, its sign-ins and what could be read.

The paths are the ones Microsoft names for senders that cannot keep Basic auth: OAuth (XOAUTH2) with SMTP AUTH
when the device or app supports it; High Volume Email for senders that only mail people inside the organisation;
otherwise an SMTP relay through a connector (by static IP or certificate) or Azure Communication Services Email
(learn.microsoft.com/exchange/mail-flow-best-practices/how-to-set-up-a-multifunction-device-or-application-to-send-
email-using-microsoft-365-or-office-365; the Exchange Team's SMTP AUTH Basic deprecation posts).
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import utc_text
from bot.readiness.model import Account, AccountClass, Usage, switch_text

PATH_MOVE = "OAuth (XOAUTH2); else HVE, a relay connector or ACS"
PATH_CLEAN_UP = "Turn SMTP AUTH off for the mailbox (clean-up)"
PATH_CHECK = "Find out who uses it before changing anything"
PATH_NONE = "Nothing to do"
ALTERNATIVES = ("If it cannot do OAuth: High Volume Email when it only mails people inside the organisation; "
                "otherwise an SMTP relay connector{connector} or Azure Communication Services Email.")
#: What an Entra sign-in error code means here (learn.microsoft.com/entra/identity-platform/reference-error-codes).
ERRORS = {50126: "wrong password", 50057: "account disabled", 50076: "MFA required", 53003: "blocked by Conditional Access"}


def classify(account: Account, *, org_disabled: bool, days: int, oauth_unseen: bool = False) -> Account:
    """Set `klass`, `path` and `why` on `account` and return it. `oauth_unseen`: apps are registered in Exchange
    (or that could not be read), so one may hold FullAccess the report cannot see: an unused mailbox says so."""
    on = account.effective_on(org_disabled)
    usage = account.usage
    switch = switch_text(account.switch, org_disabled)
    if not on:
        account.klass = AccountClass.OFF
        where = "it has no Exchange Online mailbox" if not account.has_mailbox else f"SMTP AUTH is {switch}"
        if usage and usage.count:
            account.path = "Find the device: move it to OAuth, High Volume Email or a relay connector"
            account.why = (f"{where}, yet {_seen(usage, days)}: a device still tries with a password and fails at "
                           "Exchange.")
        else:
            account.path = PATH_NONE
            account.why = f"{where}; " + (f"no password sign-in in {days} days." if usage else
                                          "sign-in logs not read.")
        return account
    if usage is not None and usage.count:
        account.klass = AccountClass.BASIC_IN_USE
        account.path = PATH_MOVE
        oauth = f" It can also send with OAuth ({_oauth_how(account)})." if account.oauth else ""
        connector = (f" (it signs in from one address, {next(iter(usage.ips))}: a connector by IP fits if that is "
                     "your static public address)" if len(usage.ips) == 1 else "")
        account.why = (f"SMTP AUTH {switch}; {_seen(usage, days)}. Basic is off by default from the end of December "
                       f"2026.{oauth} {ALTERNATIVES.format(connector=connector)}")
        return account
    if account.oauth:
        account.klass = AccountClass.OAUTH
        account.path = PATH_NONE + ": already on OAuth (XOAUTH2)"
        account.why = (f"{_oauth_how(account)}; keep SMTP AUTH on (it is {switch}): the switch applies to OAuth "
                       "too.")
        return account
    if usage is None:
        account.klass = AccountClass.ENABLED_USAGE_UNKNOWN
        account.path = PATH_CHECK
        account.why = (f"SMTP AUTH {switch}, and the sign-in logs could not be read, so whether anything uses it "
                       "is unknown: not a clean-up candidate.")
        return account
    account.klass = AccountClass.ENABLED_UNUSED
    account.path = PATH_CLEAN_UP
    account.why = f"SMTP AUTH {switch} but no password sign-in in {days} days: closing it removes an unused way in."
    if oauth_unseen:
        account.why += (" OAuth use by an app given FullAccess to it outside the bot's /smtp-oauth onboarding cannot be "
                        "seen (Exchange lists FullAccess one mailbox at a time).")
    return account


def _oauth_how(account: Account) -> str:
    """How the account sends with OAuth: the apps with a role to send as it, the apps the bot's own onboarding
    gave access (FullAccess or a scoped role), else a probe target's XOAUTH2."""
    ways = []
    if account.oauth_apps:
        ways.append(f"app {', '.join(account.oauth_apps)} may send as it with a token (Application SMTP.SendAsApp)")
    if account.oauth_onboarded:
        ways.append(f"the bot's /smtp-oauth onboarding gave app {', '.join(account.oauth_onboarded)} access to it")
    return "; ".join(ways) or "a probe target signs in with XOAUTH2"


def _seen(usage: Usage, days: int) -> str:
    errors = ", ".join(ERRORS.get(c, f"error {c}") for c in sorted(usage.error_codes))
    failures = f", {usage.failures} failed ({errors})" if usage.failures else ""
    ips = len(usage.ips)
    return (f"{usage.count} password sign-in(s) in {days} days ({usage.successes} succeeded{failures}), last "
            f"{_when(usage.last_use)}, from {ips} address{'es' if ips != 1 else ''}")


def _when(moment: datetime | None) -> str:
    return utc_text(moment) if moment else "never"
