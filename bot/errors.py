"""One error tree. `BotError` and its children carry text a human can act on; anything else is a bug.

Expected failures (bad input, a missing permission, throttling that outlasted the retries) become a
clear message in Slack or on the terminal; unexpected exceptions are logged with a trace.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What every command line of the bot exits with."""

    OK = 0
    PROBLEM = 1  # it ran and found something wrong: findings, a failed probe, a missing permission
    USAGE = 2  # it could not run: bad arguments or configuration


class BotError(Exception):
    """Root of every expected failure. `str(err)` is safe to show a user; `hint` says what to do."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__

    def describe(self) -> str:
        """The message followed by the hint, for terminals and Slack."""
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(BotError):
    """The configuration is unusable; `problems` lists every problem found, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"configuration has {len(self.problems)} problem(s):\n{lines}")


class StoreUnavailable(BotError):
    """The bot's database stopped answering in the middle of a piece of work; nothing half-done is kept."""


class InvalidInput(BotError):
    """The user typed something the bot cannot act on (malformed UPN, bad arguments)."""


class M365Error(BotError):
    """A Microsoft 365 call failed in a way the caller should report, not retry."""


class NotFound(M365Error):
    """Graph answered 404 for a resource."""


class ExchangeNotFound(M365Error):
    """The cmdlet's target object does not exist (ManagementObjectNotFoundException)."""


class AuthenticationFailed(M365Error):
    """The app could not get a token: wrong tenant, client id, secret or certificate, or no consent."""

    def __init__(self, message: str, *, error: str = "", codes: tuple[int, ...] = (), hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.codes = codes


class UserNotFound(M365Error):
    def __init__(self, upn: str) -> None:
        super().__init__(
            f"No user '{upn}' in this tenant.",
            hint="Check the spelling of the sign-in name (UPN), not the display name or an alias.",
        )
        self.upn = upn


class MailboxNotFound(M365Error):
    def __init__(self, identity: str) -> None:
        super().__init__(
            f"'{identity}' has no Exchange Online mailbox.",
            hint="Assign a licence that includes Exchange Online, then wait for the mailbox to be provisioned.",
        )
        self.identity = identity


class PermissionMissing(M365Error):
    """The app registration lacks an application permission or its service principal an Entra role."""

    def __init__(self, operation: str, *, permission: str = "", role: str = "", api: str = "") -> None:
        needed = " and ".join(
            part
            for part in (
                f"the {api + ' ' if api else ''}application permission {permission}" if permission else "",
                f"the Entra role '{role}' on the app's service principal" if role else "",
            )
            if part
        )
        hint = (
            f"Grant {needed}, then grant admin consent (Entra admin center > App registrations > "
            "API permissions)."
            if permission
            else f"Assign {needed} (Entra admin center > Roles and administrators)."
        )
        super().__init__(f"The app is not allowed to {operation}: it needs {needed}.", hint=hint)
        self.operation = operation
        self.permission = permission
        self.role = role
        self.api = api


class LicenceMissing(M365Error):
    """The tenant lacks a licence a Microsoft API needs (Graph's sign-in logs need Entra ID P1 or P2)."""

    def __init__(self, operation: str, licence: str) -> None:
        super().__init__(f"Microsoft refused to {operation}: the tenant has no {licence} licence.",
                         hint=f"Sign-in logs through Graph need {licence} on the tenant (Microsoft 365 admin center > "
                              "Billing > Purchase services); one licence in the tenant is enough to read them.")
        self.operation = operation
        self.licence = licence


def support_ids(client_request_id: str, request_id: str) -> str:
    """The ids Microsoft support asks for, as a suffix for a message ('' when there are none)."""
    ids = [f"{name} {value}" for name, value in (("client-request-id", client_request_id),
                                                 ("request-id", request_id)) if value]
    return f" ({', '.join(ids)})" if ids else ""


class Throttled(M365Error):
    def __init__(
        self, service: str, retry_after: float | None, *, client_request_id: str = "", request_id: str = ""
    ) -> None:
        wait = f" Microsoft asked to wait {retry_after:g} s." if retry_after is not None else ""
        super().__init__(
            f"{service} is throttling this app and retries ran out.{wait}{support_ids(client_request_id, request_id)}",
            hint="Try again later.",
        )
        self.service = service
        self.retry_after = retry_after
        self.client_request_id = client_request_id
        self.request_id = request_id


class UpstreamError(M365Error):
    """Microsoft answered with an error we do not map to anything more specific."""

    def __init__(
        self,
        service: str,
        status: int | None,
        detail: str,
        *,
        code: str = "",
        request_id: str = "",
        client_request_id: str = "",
        hint: str = "",
    ) -> None:
        where = f"{service} HTTP {status}" if status else service
        super().__init__(f"{where}: {detail}{support_ids(client_request_id, request_id)}", hint=hint)
        self.service = service
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.client_request_id = client_request_id


class SettingChanged(BotError):
    """A setting no longer holds the value its plan showed (someone changed it since); nothing was written."""

    def __init__(self, setting: str, planned: str, found: str) -> None:
        super().__init__(f"{setting} changed since the plan was made (it was {planned}, it is now {found}); "
                         "nothing was changed.", hint="Make a fresh plan to see the setting as it is now.")


class GroupUnreadable(BotError):
    """Slack would not list a user group's members, so nobody's membership in it can be confirmed."""

    def __init__(self, group: str, reason: str) -> None:
        super().__init__(f"could not read the members of user group {group}: Slack said {reason}")
        self.group, self.reason = group, reason


class NotAllowed(BotError):
    """The actor may not do this (not an approver, not a requester, their own request)."""


class IllegalTransition(RuntimeError):
    """Code asked for a state change the workflow's transition table does not allow: a bug, so not a BotError."""

    def __init__(self, kind: str, expected: str, new: str, action: str) -> None:
        super().__init__(f"illegal {kind} transition {expected} -> {new} by {action!r}")
        self.kind, self.expected, self.new, self.action = kind, expected, new, action


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or delete an audit row: a bug, so not a BotError."""


class RetryLater(Exception):
    """An outbox sender cannot deliver yet (e.g. the card it updates is not posted): try again `after` s."""

    def __init__(self, reason: str, after: float = 1.0) -> None:
        super().__init__(reason)
        self.after = after
