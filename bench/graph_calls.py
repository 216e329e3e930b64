"""Requests `diagnose` sends for 1 and for 100 users against the sandbox (token requests not counted).

Targets: at most 8 requests for one user, at most 25 for 100 users. Prints the figures and the ratio to
a naive one-request-per-fact implementation (about 10 per user). Run: python bench/graph_calls.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_config, with_overrides
from bot.m365.tenant import connect
from bot.workflow.diagnose import diagnose
from sandbox.launcher import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parent.parent
NAIVE_PER_USER = 10  # user, groups, MFA, CAS mailbox, Get-User, plus tenant reads repeated per user


def run(sandbox: Sandbox, count: int) -> tuple[Counter[str], float]:
    sandbox.reset()
    upns = ["scanner@contoso.com"] if count == 1 else [f"bench{n:03}@contoso.com" for n in range(count)]
    if count > 1:
        for upn in upns:
            sandbox.state.add_user("contoso", upn)
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    m365 = connect(cfg.m365)
    m365.tokens.token(cfg.m365.graph_scope)
    m365.tokens.token(cfg.m365.exchange_scope)
    sandbox.state.requests.clear()
    started = time.perf_counter()
    results = diagnose(m365, upns)
    elapsed = time.perf_counter() - started
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    return Counter(r.service for r in sandbox.state.requests if r.service != "login"), elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        sandbox = start_sandbox(Path(workdir))
        try:
            print(f"{'users':>5}  {'graph':>5}  {'exchange':>8}  {'total':>5}  {'target':>6}  {'naive':>5}  "
                  f"{'vs naive':>8}  {'time':>7}")
            for count, target in ((1, 8), (100, 25)):
                counts, elapsed = run(sandbox, count)
                total = sum(counts.values())
                naive = NAIVE_PER_USER * count
                verdict = "ok" if total <= target else "OVER"
                print(f"{count:>5}  {counts['graph']:>5}  {counts['exchange']:>8}  {total:>5}  {target:>4} {verdict:<2}"
                      f"  {naive:>5}  {naive / total:>7.1f}x  {elapsed * 1000:>5.0f}ms")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
