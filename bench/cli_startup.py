"""Start-up cost of the command line, as ratios measured side by side. Prints figures; not a test.

Each figure runs two whole processes in turn (A B A B ..., one warm-up pair first) and takes the ratio
A/B pair by pair, so a machine whose speed drifts during the run still gives a fair ratio; it prints the
median ratio with its min and max, and each command's median, for wall time and for CPU time (user +
system of the process, which a busy machine disturbs less; the SMTP server's time is not in it).

(a) `python -m bot explain "535 5.7.139 ..."` vs `python -c pass`.                  Goal: <= 5x.
(b) `python -m bot probe` vs swaks, the same dialogue (EHLO, STARTTLS, EHLO, AUTH LOGIN, QUIT) against
    the same local server: the sandbox's Exchange-like SMTP server, started in a process of its own. Goal:
    <= 1.2x. Without swaks (apt-get install swaks) the yardstick is (c)'s smtplib probe, and it says so.
(c) a minimal Python smtplib probe (the same dialogue) vs swaks, for reference.

Run: python bench/cli_startup.py [--pairs 11]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAILBOX, PASSWORD = "printer@contoso.com", "Printer-Sandbox-1"
REPLY = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."

#: The SMTP stand-in in its own process: prints its port and CA bundle, serves until its stdin closes.
SERVER = """
import json, sys
from pathlib import Path
from sandbox.ca import SandboxCA
from sandbox.smtp import SmtpServer
from sandbox.state import SandboxState
ca = SandboxCA(Path(sys.argv[1]))
smtp = SmtpServer(SandboxState(), ca).start()
print(json.dumps({"port": smtp.port, "ca": str(ca.ca_path)}), flush=True)
sys.stdin.read()
smtp.stop()
"""

#: The same dialogue as the bot's probe and swaks, with nothing but the standard library.
SMTPLIB_PROBE = """
import os, smtplib, ssl, sys
host, port, ca, user = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with smtplib.SMTP(host, port, timeout=10) as smtp:
    smtp.starttls(context=ssl.create_default_context(cafile=ca))
    smtp.ehlo()
    smtp.user, smtp.password = user, os.environ["PROBE_PW"]
    smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of `command`, start to exit; a failed run stops the bench (it would time an
    error)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... exited {done.returncode}: {done.stdout}{done.stderr}")
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return wall, cpu


def side_by_side(label: str, a: list[str], b: list[str], pairs: int, env: dict[str, str]) -> None:
    timed(a, env), timed(b, env)  # warm-up pair: page cache, .pyc files
    a_runs, b_runs = [], []
    for _ in range(pairs):
        a_runs.append(timed(a, env))
        b_runs.append(timed(b, env))
    print(f"{label}:")
    for n, what in enumerate(("wall", "cpu")):
        a_ms, b_ms = [run[n] for run in a_runs], [run[n] for run in b_runs]
        ratios = [x / y for x, y in zip(a_ms, b_ms, strict=True)]
        print(f"    {what:<4} {statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f}) "
              f"over {pairs} pairs; medians {statistics.median(a_ms):.1f} ms vs {statistics.median(b_ms):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=11, help="pairs of runs per figure (at least 9)")
    options = parser.parse_args()
    pairs = max(options.pairs, 9)
    python = sys.executable
    # No M365_* variables: the bot runs as on a machine without credentials; the password by name only.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PROBE_PW": PASSWORD}
    print(f"python {sys.version.split()[0]}; {pairs} pairs per figure; ratio A/B per pair (median, min, max)")
    side_by_side("(a) python -m bot explain / python -c pass",
                 [python, "-m", "bot", "explain", REPLY], [python, "-c", "pass"], pairs, env)

    with tempfile.TemporaryDirectory(prefix="cli-startup-") as workdir:
        server = subprocess.Popen([python, "-c", SERVER, workdir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, cwd=ROOT)
        try:
            assert server.stdout is not None
            where = json.loads(server.stdout.readline())
            port, ca = str(where["port"]), where["ca"]
            bot = [python, "-m", "bot", "probe", "--host", "localhost", "--port", port, "--user", MAILBOX,
                   "--auth", "login", "--password-env", "PROBE_PW", "--ca-file", ca]
            smtplib_probe = [python, "-c", SMTPLIB_PROBE, "localhost", port, ca, MAILBOX]
            swaks = shutil.which("swaks")
            if swaks is None:
                print("swaks is not installed (apt-get install swaks): (b) compares with the smtplib probe "
                      "instead, and (c) is skipped")
                side_by_side("(b) python -m bot probe / smtplib probe (NOT swaks)", bot, smtplib_probe, pairs, env)
                return
            swaks_probe = [swaks, "--server", f"localhost:{port}", "--tls", "--tls-verify", "--tls-ca-path", ca,
                           "--auth", "LOGIN", "--auth-user", MAILBOX, "--auth-password", PASSWORD,
                           "--quit-after", "AUTH", "--from", MAILBOX, "--to", "it@contoso.com", "--silent", "2"]
            side_by_side("(b) python -m bot probe / swaks", bot, swaks_probe, pairs, env)
            side_by_side("(c) smtplib probe / swaks (reference)", smtplib_probe, swaks_probe, pairs, env)
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
