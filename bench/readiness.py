"""Requests and seconds of the readiness report for 100, 1,000 and 10,000 mailboxes, against the sandbox run as
its own process (`python -m sandbox --mailboxes N`), and the ratio to a naive per-mailbox loop.

Target: requests grow with pages (1,000 mailboxes or sign-ins a page), not with mailboxes; 10,000 mailboxes in
under a minute. The naive loop (`Get-CASMailbox -Identity` plus a Graph sign-in query per mailbox) is measured on
a sample of mailboxes and its time scaled to the whole tenant; its requests are counted on the sample too.
Token requests are not counted. Run: python bench/readiness.py
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_config
from bot.m365.graph import Op
from bot.m365.tenant import M365, connect
from bot.readiness.collect import build_report

ROOT = Path(__file__).resolve().parent.parent
SIZES = (100, 1_000, 10_000)
NAIVE_SAMPLE = 100
TARGET_SECONDS = 60.0


class SandboxProcess:
    """`python -m sandbox --mailboxes N` in its own process, on a free port, until stopped."""

    def __init__(self, mailboxes: int, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.state_dir = workdir / f"sandbox-{mailboxes}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(self.port), "--state-dir", str(self.state_dir),
             "--mailboxes", str(mailboxes)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env_file = self.state_dir / "sandbox.env"
        deadline = time.monotonic() + 60
        while not (env_file.exists() and self._healthy()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("the sandbox process did not start")
            time.sleep(0.1)
        self.env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
                        and not line.startswith("#"))

    def _healthy(self) -> bool:
        return self._get("/_sandbox/health") is not None

    def _get(self, path: str) -> dict | None:
        ca = self.state_dir / "ca.pem"
        if not ca.exists():
            return None
        try:
            with urllib.request.urlopen(f"https://localhost:{self.port}{path}", timeout=5,
                                        context=ssl.create_default_context(cafile=str(ca))) as answer:
                return json.load(answer)
        except OSError:
            return None

    def requests(self) -> dict:
        return self._get("/_sandbox/requests") or {}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def connected(sandbox: SandboxProcess) -> M365:
    cfg = load_config(ROOT / "app.yaml", env={**os.environ, **sandbox.env})
    m365 = connect(cfg.m365)
    m365.tokens.token(cfg.m365.graph_scope)
    m365.tokens.token(cfg.m365.exchange_scope)
    return m365


def non_login(seen: dict) -> int:
    return sum(v for k, v in seen.get("by_service", {}).items() if k != "login")


def measure(mailboxes: int, workdir: Path) -> dict:
    sandbox = SandboxProcess(mailboxes, workdir)
    try:
        m365 = connected(sandbox)
        before = non_login(sandbox.requests())
        started = time.perf_counter()
        report = build_report(m365, days=30, now=datetime.now(UTC))
        seconds = time.perf_counter() - started
        requests = non_login(sandbox.requests()) - before
        assert report.sign_ins.read and report.mailboxes_read >= mailboxes
        boxes = [a.upn for a in report.accounts if a.has_mailbox][:NAIVE_SAMPLE]
        before = non_login(sandbox.requests())
        started = time.perf_counter()
        naive_loop(m365, boxes)
        naive_seconds = time.perf_counter() - started
        naive_per_mailbox = (non_login(sandbox.requests()) - before) / len(boxes)
    finally:
        sandbox.stop()
    total = report.mailboxes_read
    return {"mailboxes": total, "requests": requests, "seconds": seconds,
            "naive_requests": round(naive_per_mailbox * total),
            "naive_seconds": naive_seconds / len(boxes) * total, "sample": len(boxes)}


def naive_loop(m365: M365, upns: list[str]) -> None:
    """What a script without bulk reads does: each mailbox's switch and each mailbox's sign-ins, one by one."""
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    op = Op("read the Entra ID sign-in logs", "AuditLog.Read.All")
    for upn in upns:
        m365.exchange.invoke("Get-CASMailbox", {"Identity": upn})
        m365.graph.get("auditLogs/signIns", op, params={
            "$filter": f"createdDateTime ge {since} and userPrincipalName eq '{upn}' and "
                       "clientAppUsed eq 'Authenticated SMTP'"})


def main() -> None:
    print(f"{'mailboxes':>9}  {'requests':>8}  {'seconds':>7}  {'naive req':>9}  {'naive s':>8}  {'req ratio':>9}  "
          f"{'time ratio':>10}  target")
    with tempfile.TemporaryDirectory() as workdir:
        for size in SIZES:
            row = measure(size, Path(workdir))
            ok = "ok" if row["seconds"] < TARGET_SECONDS else "OVER"
            print(f"{row['mailboxes']:>9,}  {row['requests']:>8}  {row['seconds']:>7.2f}  {row['naive_requests']:>9,}  "
                  f"{row['naive_seconds']:>8.1f}  {row['naive_requests'] / row['requests']:>8.0f}x  "
                  f"{row['naive_seconds'] / row['seconds']:>9.1f}x  {ok}")
    print(f"(naive figures measured on {NAIVE_SAMPLE} mailboxes per size and scaled to the whole tenant; the "
          "mailbox counts include the demo tenant's own 9)")


if __name__ == "__main__":
    main()
