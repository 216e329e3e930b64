"""Requests `diagnose` sends for 1 and for 100 users against the sandbox (token requests not counted), against a
naive diagnosis that reads each fact with its own request, one user after the other (measured here too).

Targets: at most 8 requests for one user, at most 25 for 100 users; then one user's diagnosis time with 500 ms
added to every Microsoft call (about two round trips). Run: python bench/graph_calls.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_config, with_overrides
from bot.m365.tenant import M365, connect
from bot.workflow.diagnose import Diagnosis, diagnose
from handlers import in_report_order
from handlers.facts import Facts
from sandbox.launcher import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parent.parent


def naive(m365: M365, upns: list[str]) -> list[Diagnosis]:
    """What the bulk read replaces: per user, a fresh cache and every check reading its facts as it goes."""
    results = []
    for upn in upns:
        facts = Facts(m365)
        result = Diagnosis(upn=upn, auth_mode="basic", user=facts.user(upn))
        for check in in_report_order():
            result.findings[check.key] = check.inspect(facts, upn, auth_mode="basic")
        results.append(result)
    return results


def run(sandbox: Sandbox, count: int, how: Callable[[M365, list[str]], list[Diagnosis]],
        delay: float = 0.0) -> tuple[Counter[str], float]:
    sandbox.reset()
    sandbox.state.faults.clear()
    upns = ["scanner@contoso.com"] if count == 1 else [f"bench{n:03}@contoso.com" for n in range(count)]
    if count > 1:
        for upn in upns:
            sandbox.state.add_user("contoso", upn)
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    m365 = connect(cfg.m365)
    m365.tokens.token(cfg.m365.graph_scope)
    m365.tokens.token(cfg.m365.exchange_scope)
    if delay:  # per HTTP round trip, as a distant Microsoft would add
        for service in ("graph", "exchange"):
            sandbox.state.faults.add("latency", service=service, seconds=delay, times=None, in_batch=False)
    sandbox.state.requests.clear()
    started = time.perf_counter()
    results = how(m365, upns)
    elapsed = time.perf_counter() - started
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    return Counter(r.service for r in sandbox.state.requests if r.service != "login"), elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        sandbox = start_sandbox(Path(workdir))
        try:
            print(f"{'users':>5}  {'graph':>5}  {'exchange':>8}  {'total':>5}  {'target':>6}  {'naive':>5}  "
                  f"{'vs naive':>8}  {'time':>7}  {'naive time':>10}")
            for count, target in ((1, 8), (100, 25)):
                counts, elapsed = run(sandbox, count, lambda m365, upns: diagnose(m365, upns))
                naive_counts, naive_elapsed = run(sandbox, count, naive)
                total, naive_total = sum(counts.values()), sum(naive_counts.values())
                verdict = "ok" if total <= target else "OVER"
                print(f"{count:>5}  {counts['graph']:>5}  {counts['exchange']:>8}  {total:>5}  {target:>4} {verdict:<2}"
                      f"  {naive_total:>5}  {naive_total / total:>7.1f}x  {elapsed * 1000:>5.0f}ms"
                      f"  {naive_elapsed * 1000:>8.0f}ms")
            _, bulk = run(sandbox, 1, lambda m365, upns: diagnose(m365, upns), delay=0.5)
            _, one_by_one = run(sandbox, 1, naive, delay=0.5)
            print(f"one user with 500 ms added to every Microsoft call: {bulk:.1f} s (about two round trips), "
                  f"naive {one_by_one:.1f} s")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
