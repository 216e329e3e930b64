"""SMTP probe figures against the sandbox's Exchange-like server. Prints figures; not a test.

(a) One probe's phase breakdown, side by side with swaks doing the same steps (EHLO, STARTTLS, EHLO,
    AUTH LOGIN, QUIT) against the same server: medians of several runs, and the ratio.
(b) A sweep of 200 mailboxes with 50 ms added to every server reply, bounded concurrency (default 20,
    at most 3 connections per mailbox), against the same mailboxes probed one after the other (measured,
    not projected). Target: at least 15x faster.

Run: python bench/probe.py [--runs 9] [--mailboxes 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.probe import ProbeTarget, probe, probe_many
from sandbox.launcher import Sandbox, start_sandbox

PASSWORD = "Printer-Sandbox-1"


def target(sandbox: Sandbox, mailbox: str = "printer@contoso.com") -> ProbeTarget:
    return ProbeTarget(host="localhost", port=sandbox.smtp.port, mailbox=mailbox, ca_file=str(sandbox.ca_path),
                       timeout=10.0)


def phase_breakdown(sandbox: Sandbox, runs: int) -> None:
    results = [probe(target(sandbox), credential=PASSWORD) for _ in range(runs)]
    assert all(r.ok for r in results), results[0].message
    phases = [p for p in results[0].timings_ms]
    print(f"(a) one probe, median of {runs} runs (ms):")
    for phase in phases:
        print(f"    {phase:<14} {statistics.median(r.timings_ms[phase] for r in results):8.2f}")
    ours = statistics.median(r.duration_ms for r in results)
    print(f"    {'total':<14} {ours:8.2f}   (in-process)")
    cli = timed_runs(runs, [sys.executable, "-m", "bot", "probe", "--host", "localhost", "--port",
                            str(sandbox.smtp.port), "--user", "printer@contoso.com", "--password-env", "PROBE_PW",
                            "--ca-file", str(sandbox.ca_path)])
    print(f"    {'total':<14} {cli:8.2f}   (python -m bot probe, whole process)")
    swaks = shutil.which("swaks")
    if swaks is None:
        print("    swaks not installed (apt-get install swaks): no comparison")
        return
    swaks_ms = timed_runs(runs, [swaks, "--server", f"localhost:{sandbox.smtp.port}", "--tls", "--tls-verify",
                                 "--tls-ca-path", str(sandbox.ca_path), "--auth", "LOGIN", "--auth-user",
                                 "printer@contoso.com", "--auth-password", PASSWORD, "--quit-after", "AUTH",
                                 "--from", "printer@contoso.com", "--to", "it@contoso.com", "--silent", "2"])
    print(f"    {'total':<14} {swaks_ms:8.2f}   (swaks, whole process)")
    print(f"    ratio swaks / python -m bot probe = {swaks_ms / cli:.2f}; swaks / in-process probe = "
          f"{swaks_ms / ours:.1f}")


def timed_runs(runs: int, command: list[str]) -> float:
    env = {"PROBE_PW": PASSWORD, "PATH": "/usr/bin:/bin"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)
        times.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{command[0]} failed: {done.stdout}{done.stderr}")
    return statistics.median(times)


def sweep(sandbox: Sandbox, mailboxes: int, concurrency: int) -> None:
    targets = []
    for n in range(mailboxes):
        upn = f"sweep{n:04}@contoso.com"
        sandbox.state.add_user("contoso", upn, smtp_password=PASSWORD, smtp_client_authentication_disabled=False)
        targets.append(target(sandbox, upn))
    sandbox.smtp.faults.reply_delay = 0.05
    started = time.perf_counter()
    for t in targets:
        assert probe(t, credential=PASSWORD).ok
    sequential = time.perf_counter() - started
    per_probe = sequential / mailboxes
    started = time.perf_counter()
    results = probe_many(targets, credential_for=lambda t: PASSWORD, max_concurrency=concurrency, per_mailbox=3)
    swept = time.perf_counter() - started
    ok = sum(r.ok for r in results)
    print(f"(b) sweep of {mailboxes} mailboxes, 50 ms per reply, concurrency {concurrency}:")
    print(f"    one probe                 {per_probe * 1000:8.1f} ms (mean of the sequential run)")
    print(f"    sequential (measured)     {sequential:8.1f} s")
    print(f"    sweep                     {swept:8.1f} s   ({ok}/{mailboxes} ok)")
    print(f"    ideal N x t / concurrency {sequential / concurrency:8.1f} s")
    print(f"    speed-up vs sequential    {sequential / swept:8.1f}x  (target >= 15x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, start_sandbox(Path(workdir)) as sandbox:
        phase_breakdown(sandbox, args.runs)
        sweep(sandbox, args.mailboxes, args.concurrency)


if __name__ == "__main__":
    main()
