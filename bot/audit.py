"""`python -m bot audit`: the append-only audit log for auditors, as text, JSON lines or CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import IO, Any

from bot.errors import InvalidInput
from bot.store import AuditEntry, Store

COLUMNS = ("id", "at", "actor", "action", "request_id", "step_id", "target", "before", "after", "detail")


def parse_since(text: str | None) -> datetime | None:
    """`2026-11-01` or an ISO timestamp; a date means its midnight UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date.",
                           hint="Use YYYY-MM-DD or an ISO timestamp, e.g. 2026-11-01.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def row(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
            "request_id": entry.request_id, "step_id": entry.step_id, "target": entry.target,
            "before": entry.before, "after": entry.after, "detail": entry.detail}


def write(entries: list[AuditEntry], out: IO[str], fmt: str) -> None:
    if fmt == "json":
        for entry in entries:
            out.write(json.dumps(row(entry), default=str, sort_keys=True) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for entry in entries:
            writer.writerow({k: json.dumps(v, default=str) if isinstance(v, dict | list) else v
                             for k, v in row(entry).items()})
    else:
        for entry in entries:
            change = ""
            if entry.before is not None or entry.after is not None:
                change = f"  {json.dumps(entry.before, default=str)} -> {json.dumps(entry.after, default=str)}"
            where = " ".join(x for x in (entry.request_id or "", f"step {entry.step_id}" if entry.step_id else "",
                                         entry.target or "") if x)
            out.write(f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.actor:<14} {entry.action:<20} {where}{change}\n")
        out.write(f"{len(entries)} audit row(s)\n")


def audit_main(database_url: str, since: str | None, fmt: str, out: IO[str]) -> int:
    store = Store(database_url)
    try:
        store.migrate()  # a fresh or older database reads the same way as a current one
        write(store.requests.audit_rows(since=parse_since(since)), out, fmt)
    finally:
        store.close()
    return 0
