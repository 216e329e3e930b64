"""Calls, new TCP connections and seconds for diagnoses against the sandbox, before and after cheap connections.

The sandbox runs in its own process (this script started with --serve), with 50 extra users, at +0 ms and
+50 ms per request (a latency fault). Three client/server set-ups, each with a fresh client per run:

  before    the sandbox closes every connection (werkzeug's old `Connection: close`) and the bot's session
            is the old one (requests' defaults: a new SSLContext and a CA file load per connection, the
            proxy environment read on every call)
  close     the sandbox still closes every connection, the bot's session is the new one
  after     the sandbox keeps connections alive (as Graph and Exchange do), the bot's session is the new one

Two workloads per run: `bulk` (one diagnosis of 50 users, tokens included: a cold client) then `single`
(50 one-user diagnoses, 8 at a time, the workflow pool's shape, on the same now-warm client). Each sandbox
process serves one untimed diagnosis first (its cold start is not what is compared). New
connections accepted and requests answered (tokens included) are counted by the sandbox. Prints the median of 5 runs
with min and max, and the before/after ratio per pair of runs (same run index, same latency).
Run: python bench/connections.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

ROOT = Path(__file__).resolve().parent.parent
USERS = [f"conn{n:02}@contoso.com" for n in range(50)]
THREADS = 8


def serve(keep_alive: bool) -> None:
    """The child: a sandbox with the bench users, its settings on stdout; each stdin line asks for (and
    resets) the connections it accepted and the requests it answered; it stops when stdin closes."""
    from sandbox.launcher import start_sandbox

    with tempfile.TemporaryDirectory() as workdir:
        sandbox = start_sandbox(Path(workdir), keep_alive=keep_alive)
        for upn in USERS:
            sandbox.state.add_user("contoso", upn)
        print(json.dumps(sandbox.m365_settings()), flush=True)
        stats = sandbox.server.connections
        for _ in sys.stdin:
            print(json.dumps([stats.requests, stats.accepted]), flush=True)
            stats.reset()
        sandbox.stop()


class Server:
    """A sandbox child process and what it counted."""

    def __init__(self, keep_alive: bool) -> None:
        flag = "--keep-alive" if keep_alive else "--close"
        self.child = subprocess.Popen([sys.executable, __file__, "--serve", flag], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.settings: dict[str, Any] = json.loads(self._line())

    def _line(self) -> str:
        assert self.child.stdout is not None
        return self.child.stdout.readline()

    def take(self) -> tuple[int, int]:
        """(requests answered, connections accepted) since the last take."""
        assert self.child.stdin is not None
        self.child.stdin.write("\n")
        self.child.stdin.flush()
        answered, accepted = json.loads(self._line())
        return answered, accepted

    def stop(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait(timeout=10)


def old_make_session(ca_bundle: str | None, timeout: tuple[float, float], **_: Any) -> requests.Session:
    """The session as it was: verify by path on each request, trust_env on, requests' own adapter."""

    class OldSession(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            kwargs.setdefault("verify", ca_bundle or True)
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, *args, **kwargs)

    session = OldSession()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def set_latency(settings: dict[str, Any], seconds: float) -> None:
    base, verify = settings["endpoints"]["graph"], settings["ca_bundle"]
    requests.delete(f"{base}/_sandbox/faults", verify=verify, timeout=10).raise_for_status()
    if seconds:
        # per HTTP request, not per $batch item: one round trip to Microsoft is one wait
        requests.post(f"{base}/_sandbox/faults",
                      json={"kind": "latency", "seconds": seconds, "times": None, "in_batch": False},
                      verify=verify, timeout=10).raise_for_status()


def one_run(server: Server, old_session: bool) -> dict[str, tuple[int, int, float]]:
    import bot.m365.tenant as tenant_module
    from bot.config import load_config, with_overrides
    from bot.workflow.diagnose import diagnose

    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": server.settings})
    original = tenant_module.make_session
    if old_session:
        tenant_module.make_session = old_make_session  # type: ignore[assignment]
    try:
        m365 = tenant_module.connect(cfg.m365)
    finally:
        tenant_module.make_session = original
    figures: dict[str, tuple[int, int, float]] = {}
    server.take()
    started = time.perf_counter()
    results = diagnose(m365, USERS)
    figures["bulk"] = (*server.take(), time.perf_counter() - started)
    assert all(r.error is None for r in results), [r.error for r in results if r.error][:1]
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        singles = list(pool.map(lambda upn: diagnose(m365, [upn])[0], USERS))
    figures["single"] = (*server.take(), time.perf_counter() - started)
    assert all(r.error is None for r in singles), [r.error for r in singles if r.error][:1]
    m365.graph.transport.session.close()  # the next run starts cold, as a new worker would
    return figures


def context_costs(repeat: int = 20) -> None:
    """What the old code paid per new connection (requests, certifi bundle) and per Slack call (urllib)."""
    import ssl

    from requests.utils import DEFAULT_CA_BUNDLE_PATH
    from urllib3.util.ssl_ import create_urllib3_context

    def per_call(make: Any) -> float:
        started = time.perf_counter()
        for _ in range(repeat):
            make()
        return (time.perf_counter() - started) / repeat * 1000

    certifi_ms = per_call(lambda: create_urllib3_context().load_verify_locations(cafile=DEFAULT_CA_BUNDLE_PATH))
    system_ms = per_call(ssl.create_default_context)
    print(f"TLS context + CA load: {certifi_ms:.1f} ms (requests, certifi bundle, once per new Microsoft "
          f"connection before), {system_ms:.1f} ms (urllib default, once per Slack call before); now once per process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep-alive", dest="keep_alive", action="store_true", default=True, help=argparse.SUPPRESS)
    parser.add_argument("--close", dest="keep_alive", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.keep_alive)
        return

    setups = {"before": (False, True), "close": (False, False), "after": (True, False)}
    servers = {keep: Server(keep) for keep in (False, True)}
    table: dict[tuple[str, float, str], list[tuple[int, int, float]]] = {}
    try:
        for server in servers.values():  # the first diagnosis a sandbox process serves is slower: not timed
            one_run(server, old_session=False)
        for latency in (0.0, 0.05):
            for server in servers.values():
                set_latency(server.settings, latency)
            for _ in range(args.runs):  # interleaved, so a noisy moment hits every set-up alike
                for name, (keep_alive, old_session) in setups.items():
                    figures = one_run(servers[keep_alive], old_session)
                    for workload, row in figures.items():
                        table.setdefault((name, latency, workload), []).append(row)
    finally:
        for server in servers.values():
            server.stop()

    context_costs()
    print(f"diagnoses of {len(USERS)} users; median of {args.runs} runs [min-max]; pid {os.getpid()}")
    print(f"{'latency':>7}  {'workload':<8} {'set-up':<7} {'calls':>5} {'new conns':>9}  {'seconds':<22} "
          f"{'before/this per pair':<22}")
    for latency in (0.0, 0.05):
        for workload in ("bulk", "single"):
            before = table[("before", latency, workload)]
            for name in setups:
                rows = table[(name, latency, workload)]
                secs = [r[2] for r in rows]
                ratios = [b[2] / r[2] for b, r in zip(before, rows, strict=True)]
                print(f"{f'+{latency * 1000:.0f}ms':>7}  {workload:<8} {name:<7} {statistics.median(r[0] for r in rows):>5.0f} "
                      f"{statistics.median(r[1] for r in rows):>9.0f}  "
                      f"{statistics.median(secs):.3f} [{min(secs):.3f}-{max(secs):.3f}]".ljust(60)
                      + f"  {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]")


if __name__ == "__main__":
    main()
