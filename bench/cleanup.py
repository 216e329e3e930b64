"""The least-privilege clean-up against the sandbox: requests and seconds to turn SMTP AUTH off for N mailboxes
and undo it. Prints figures; not a test.

Reads are bulk (one Get-CASMailbox -Filter per 50 mailboxes before and after each batch); writes are one
Set-CASMailbox per mailbox (Exchange has no bulk write), `--concurrency` at a time.

Run: python bench/cleanup.py [--mailboxes 100 1000] [--batch 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config, with_overrides  # noqa: E402
from bot.m365.tenant import connect  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.workflow.gate import GatePolicy  # noqa: E402
from bot.workflow.service import Workflow  # noqa: E402
from sandbox.launcher import start_sandbox  # noqa: E402

REQUESTER, FIRST, SECOND = "U0REQUEST", "U0APPROVE", "U0SECOND"


def measure(sandbox, count: int, batch: int, concurrency: int, scratch: Path) -> None:
    state = sandbox.state
    state.reset()
    tenant = state.tenant("contoso")
    tenant.smtp_client_authentication_disabled = False
    upns = [f"bench{n}@contoso.com" for n in range(count)]
    for n, upn in enumerate(upns):
        state.add_user("contoso", upn, smtp_client_authentication_disabled=False if n % 2 else None)
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings("contoso")})
    m365 = connect(cfg.m365)
    store = Store(f"sqlite:///{scratch / f'bench{count}.db'}")
    store.migrate()
    flow = Workflow(store, lambda: m365, GatePolicy.from_ids([FIRST, SECOND], ttl=timedelta(hours=2)),
                    bulk_batch=batch, bulk_concurrency=concurrency)
    priors = [(upn, False if n % 2 else None) for n, upn in enumerate(upns)]
    step = flow.open_cleanup(priors, 30, REQUESTER, "C0OPS").steps[0]
    flow.decide(step.id, FIRST, approve=True)
    flow.decide(step.id, SECOND, approve=True)
    for phase in ("apply", "undo"):
        state.requests.clear()
        started = time.perf_counter()
        done = flow.run(step.id)
        seconds = time.perf_counter() - started
        calls = Counter(r.cmdlet for r in state.requests.for_service("exchange"))
        print(f"{count:>6} mailboxes {phase:<5} {done.state:<9} {seconds:6.1f} s  "
              + ", ".join(f"{cmdlet} {n}" for cmdlet, n in sorted(calls.items())))
        if phase == "apply":
            flow.request_undo(step.id, REQUESTER)
            flow.decide(step.id, FIRST, approve=True)
            flow.decide(step.id, SECOND, approve=True)
    flow.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = start_sandbox(Path(scratch) / "sandbox")
        try:
            for count in args.mailboxes:
                measure(sandbox, count, args.batch, args.concurrency, Path(scratch))
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
