"""The doctor's report: one line per check as it is known, secrets masked, and the summary's exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from bot.errors import ExitCode

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
MIN_REDACTED = 8


@dataclass(frozen=True)
class Result:
    """One check's outcome: `status` is ok, warn, FAIL or skip; `fix` says what to do about it."""

    status: str
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.check}: {self.message.rstrip('.')}"
        return f"{text}. Fix: {self.fix.rstrip('.')}." if self.fix else text


class Report:
    """Collects the checks' results, printing each line as it is known (a real tenant can take seconds)."""

    def __init__(self, out: IO[str], secrets: list[str]) -> None:
        self.out = out
        # Short values would mangle ordinary words; real secrets and tokens are long.
        self.secrets = [s for s in secrets if len(s) >= MIN_REDACTED]
        self.results: list[Result] = []
        self.app = "the app"

    def add(self, status: str, check: str, message: str, fix: str = "") -> None:
        result = Result(status, check, message, fix)
        self.results.append(result)
        line = result.line()
        for secret in self.secrets:  # belt and braces: no check prints a secret on purpose
            line = line.replace(secret, "***")
        print(line, file=self.out, flush=True)

    def summary(self) -> int:
        counts = {status: sum(r.status == status for r in self.results) for status in (OK, WARN, FAIL, SKIP)}
        line = (
            f"{counts[OK] + counts[WARN] + counts[FAIL]} checks: {counts[OK]} ok, {counts[WARN]} warnings, "
            f"{counts[FAIL]} failed"
        )
        print(line + (f" ({counts[SKIP]} skipped)" if counts[SKIP] else ""), file=self.out)
        return ExitCode.PROBLEM if counts[FAIL] else ExitCode.OK
