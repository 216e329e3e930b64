"""Ack latency of the Slack endpoint while Microsoft is slow. Prints figures; not a test.

The bot runs as the Procfile runs it (gunicorn, 2 workers x 8 threads) against the sandbox tenant, which
adds 500 ms to every Microsoft call, and the Slack stand-in. 20 concurrent clients send 200 signed
/smtp-enable commands, then 200 Approve clicks. Target: p99 under 100 ms; the ack never waits for Microsoft.

Run: python bench/ack_latency.py [--requests 200] [--clients 20] [--delay 0.5]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.launcher import start_sandbox  # noqa: E402
from sandbox.slack import start_slack_standin  # noqa: E402
from sandbox.slack_client import SlackSender  # noqa: E402

TOKEN, SECRET = "xoxb-bench-token", "bench-signing-secret"
USERS = ["scanner", "copier", "erp"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def post(sender: SlackSender, body: bytes) -> float:
    headers = sender.sign(body)
    started = time.perf_counter()
    answer = requests.post(sender.url, data=body, headers=headers, timeout=10)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:200]}")
    return elapsed


def report(name: str, latencies: list[float]) -> None:
    print(f"  {name:<10} n={len(latencies):>4}  p50 {statistics.median(latencies):6.1f} ms   "
          f"p99 {percentile(latencies, 99):6.1f} ms   max {max(latencies):6.1f} ms   "
          f"{'ok' if percentile(latencies, 99) < 100 else 'OVER'} (target p99 < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, start_sandbox(Path(workdir)) as sandbox, \
            start_slack_standin(bot_token=TOKEN) as standin:
        for service in ("graph", "exchange"):
            sandbox.state.faults.add("latency", service=service, seconds=args.delay, times=None)
        config = Path(workdir) / "app.yaml"
        config.write_text((ROOT / "app.yaml").read_text().replace("  approvers: []", "  approvers: [U0APPROVE]"))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_"))} | sandbox.env() | {
            "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": standin.api_url,
            "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "APP_CONFIG": str(config), "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8",
             "bot.slack.wsgi:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{url}/healthz", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            sender = SlackSender(url, SECRET, standin=standin)
            # Bodies are built and signed up front, so the timings hold only the HTTP round trip to the bot.
            command_bodies = [sender.command_body("/smtp-enable", f"{USERS[n % len(USERS)]}@contoso.com",
                                                  user_id="U0REQUEST") for n in range(args.requests)]
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.clients) as pool:
                # Warm-up, not measured: each worker's first requests set up Bolt (auth.test) and the clients.
                warm = [sender.command_body("/smtp-explain", "535 5.7.3 Authentication unsuccessful")
                        for _ in range(2 * args.clients)]
                warmup = list(pool.map(lambda body: post(sender, body), warm))
                commands = list(pool.map(lambda body: post(sender, body), command_bodies))
                cards = []
                deadline = time.monotonic() + 120
                while len(cards) < min(20, args.requests) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    cards = standin.messages("C0OPS")
                buttons = [(card.ts, b) for card in cards for b in sender.buttons("C0OPS", card.ts)
                           if b.text == "Approve"]
                click_bodies = []
                for n in range(args.requests):
                    ts, button = buttons[n % len(buttons)]
                    payload = sender.click_payload(button.action_id, button.value, user_id="U0APPROVE",
                                                   message_ts=ts)
                    click_bodies.append(urlencode({"payload": json.dumps(payload)}).encode())
                clicks = list(pool.map(lambda body: post(sender, body), click_bodies))
            print(f"Ack latency, {args.clients} concurrent clients, {args.delay * 1000:.0f} ms added to every "
                  "Microsoft call (gunicorn 2 workers x 8 threads):")
            print(f"  (warm-up: {len(warmup)} /smtp-explain commands, slowest {max(warmup):.0f} ms, not counted)")
            report("commands", commands)
            report("clicks", clicks)
            print(f"  plans posted meanwhile: {len(standin.messages('C0OPS'))}; each diagnosis makes ~7 Microsoft "
                  f"calls, so ~{7 * args.delay:.1f} s of Microsoft time per plan never blocked an ack")
        finally:
            os.killpg(server.pid, signal.SIGKILL)  # the master and its workers, whatever they are doing
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
