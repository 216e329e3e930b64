"""Probe results: one row per SMTP AUTH probe, and the queries history, charts and metrics need."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from bot.store.database import Database, changed
from bot.store.models import ProbeRow
from bot.store.records import ProbeRecord, snapshot


class ProbeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        target: str,
        mailbox: str,
        ok: bool,
        *,
        at: datetime | None = None,
        phase: str | None = None,
        cause: str | None = None,
        code: int | None = None,
        enhanced_status: str | None = None,
        reply: str | None = None,
        latency_ms: int | None = None,
        timings: dict[str, Any] | None = None,
        tls_version: str | None = None,
        cert_days_left: int | None = None,
        auth_mode: str | None = None,
    ) -> int:
        """Store one probe outcome (`at` defaults to now); returns its id."""
        row = ProbeRow(
            target=target,
            mailbox=mailbox,
            ok=ok,
            at=at or self._db.clock.now(),
            phase=phase,
            cause=cause,
            code=code,
            enhanced_status=enhanced_status,
            reply=reply,
            latency_ms=latency_ms,
            timings=timings,
            tls_version=tls_version,
            cert_days_left=cert_days_left,
            auth_mode=auth_mode,
        )
        with self._db.write() as session:
            session.add(row)
            session.flush()
            return row.id

    def history(self, target: str, since: datetime | None = None) -> list[ProbeRecord]:
        """A target's probes, oldest first."""
        query = select(ProbeRow).where(ProbeRow.target == target).order_by(ProbeRow.at, ProbeRow.id)
        if since is not None:
            query = query.where(ProbeRow.at >= since)
        with self._db.read() as session:
            return [snapshot(ProbeRecord, row) for row in session.scalars(query)]

    def latest(self) -> dict[str, ProbeRecord]:
        """The newest probe of each target (latest `at`, then id), by target; one query."""
        newest = (
            select(
                ProbeRow.id,
                func.row_number()
                .over(partition_by=ProbeRow.target, order_by=(ProbeRow.at.desc(), ProbeRow.id.desc()))
                .label("rank"),
            )
        ).subquery()
        query = select(ProbeRow).join(newest, newest.c.id == ProbeRow.id).where(newest.c.rank == 1)
        with self._db.read() as session:
            return {row.target: snapshot(ProbeRecord, row) for row in session.scalars(query)}

    def counts(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Per target, how many probes from `since` on were ok and how many there were: `(ok, total)`."""
        query = (
            select(ProbeRow.target, func.count().filter(ProbeRow.ok), func.count())
            .where(ProbeRow.at >= since)
            .group_by(ProbeRow.target)
        )
        with self._db.read() as session:
            return {target: (ok, total) for target, ok, total in session.execute(query)}

    def samples(self, since: datetime) -> list[tuple[str, datetime, bool, int | None]]:
        """`(target, at, ok, latency_ms)` of each probe from `since` on, oldest first; light rows for charts."""
        query = (
            select(ProbeRow.target, ProbeRow.at, ProbeRow.ok, ProbeRow.latency_ms)
            .where(ProbeRow.at >= since)
            .order_by(ProbeRow.at, ProbeRow.id)
        )
        with self._db.read() as session:
            return [(target, at, ok, latency) for target, at, ok, latency in session.execute(query)]

    def purge(self, older_than: timedelta) -> int:
        """Retention: delete probes older than `older_than`; returns how many went."""
        with self._db.write() as session:
            result = session.execute(delete(ProbeRow).where(ProbeRow.at < self._db.clock.now() - older_than))
            return changed(result)
