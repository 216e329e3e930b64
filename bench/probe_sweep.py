"""A scheduled sweep of 1000 probe targets against the sandbox SMTP server with 50 ms added to every reply.

Runs the scheduler's own path (`Prober.run`: bounded concurrency, at most 3 connections per mailbox,
every result recorded in the store) and prints the sweep time and peak memory (max RSS, which includes the in-process sandbox) against the ideal
N x t_probe / concurrency. Target: within 1.3x of ideal. Prints figures; not a test.

Run: python bench/probe_sweep.py [--targets 1000] [--concurrency 20] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config, with_overrides  # noqa: E402
from bot.probe import ProbeTarget, probe  # noqa: E402
from bot.probe.runner import Prober  # noqa: E402
from bot.store import Store  # noqa: E402
from sandbox.launcher import start_sandbox  # noqa: E402

PASSWORD = "Sweep-Sandbox-1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--sample", type=int, default=20, help="sequential probes timed for t_probe")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, start_sandbox(Path(workdir)) as sandbox:
        targets = []
        for n in range(args.targets):
            upn = f"sweep{n:04}@contoso.com"
            sandbox.state.add_user("contoso", upn, smtp_password=PASSWORD, smtp_client_authentication_disabled=False)
            targets.append({"name": f"sweep{n:04}", "mailbox": upn, "password": PASSWORD})
        cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"probes": {
            "smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path),
            "timeout_seconds": 10, "max_concurrency": args.concurrency, "targets": targets}})
        store = Store(f"sqlite:///{workdir}/sweep.db")
        store.migrate()
        prober = Prober(cfg.probes, store, lambda: "")
        sandbox.smtp.faults.reply_delay = args.delay

        sample = [ProbeTarget.from_config(t, cfg.probes) for t in cfg.probes.targets[: args.sample]]
        started = time.perf_counter()
        assert all(probe(t, credential=PASSWORD).ok for t in sample)
        t_probe = (time.perf_counter() - started) / len(sample)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        results = prober.run(cfg.probes.targets)
        swept = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ideal = args.targets * t_probe / args.concurrency
        ok = sum(r.ok for r in results)
        recorded = sum(len(store.probes.history(t.name)) for t in cfg.probes.targets[:50])
        print(f"Sweep of {args.targets} targets, {args.delay * 1000:.0f} ms per server reply, "
              f"concurrency {args.concurrency}, <= 3 connections per mailbox:")
        print(f"  one probe (t_probe)        {t_probe * 1000:8.1f} ms  (mean of {len(sample)} sequential)")
        print(f"  ideal N x t / concurrency  {ideal:8.1f} s")
        print(f"  sweep                      {swept:8.1f} s   ({ok}/{args.targets} ok, results recorded)")
        print(f"  ratio to ideal             {swept / ideal:8.2f}x  (target <= 1.3x)")
        print(f"  max RSS                    {rss_after / 1024:8.1f} MiB (grew {(rss_after - rss_before) / 1024:.1f} "
              "MiB during the sweep)")
        assert recorded == 50
        store.close()


if __name__ == "__main__":
    main()
