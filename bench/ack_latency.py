"""Ack latency of the Slack endpoint under a burst while Microsoft is slow, against a trivial Bolt app, and the
time until each plan card is posted. Prints figures; not a test.

Each run starts, in their own processes: the stand-ins (bench/standins.py: the sandbox tenant adding `--delay`
to every Graph and Exchange call, and the Slack stand-in), the bot as the Procfile runs it (gunicorn with
`-c python:bot.slack.gunicorn_conf`: 2 workers x 8 threads from app.yaml) and the floor (bench/floor_app.py:
a Bolt app that only acks, same gunicorn shape). The timing client only sends signed requests:

1. the cold first request to each server (reported on its own), then a warm-up, not counted;
2. `--requests` /smtp-enable commands from `--clients` threads to the floor, then to the bot (one user each);
3. the plan cards: how many are posted within 30 s after the bot's burst, and the time from each command
   to its card (p50, p99);
4. `--requests` Approve clicks to the floor, then to the bot (one per card).

Each run is a pair (bot and floor under the same load on the same machine at nearly the same time); the
summary gives the median of the per-run p99s with min and max, and the bot/floor ratio per pair.
Goals: commands <= 1.2x the floor, clicks <= 1.1x, >= 95 % of cards within 30 s.

Run: python bench/ack_latency.py [--runs 5] [--requests 200] [--clients 20] [--delay 0.5] [--root DIR]
                                [--postgres URL] [--keep DIR]
(`--root` serves the bot from another checkout, e.g. the code before a change, with this bench.)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from sandbox.slack_client import SlackSender  # noqa: E402

SECRET = "bench-signing-secret"
APPROVER, REQUESTER, CHANNEL = "U0APPROVE", "U0REQUEST", "C0OPS"
CARD_WINDOW = 30.0  # seconds after the burst within which a card counts
UPN = re.compile(r"bench\d{3}@contoso\.com")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


@dataclass
class Run:
    cold_bot: float = 0.0
    cold_floor: float = 0.0
    commands: dict[str, list[float]] = field(default_factory=dict)
    clicks: dict[str, list[float]] = field(default_factory=dict)
    cards_in_window: int = 0
    to_card: list[float] = field(default_factory=list)


class Servers:
    """The stand-ins, the bot and the floor of one run, each in its own process group."""

    def __init__(self, root: Path, workdir: Path, args: argparse.Namespace) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workdir = workdir
        self.postgres: str | None = args.postgres
        self.schema: str | None = None
        self._spawn([sys.executable, str(HERE / "standins.py"), "--dir", str(workdir), "--users", str(args.requests),
                     "--delay", str(args.delay)], ROOT, os.environ.copy())
        info_path = workdir / "standins.json"
        self._wait(lambda: info_path.exists(), "the stand-ins")
        info = json.loads(info_path.read_text())
        self.slack_api, self.token = info["slack_api"], info["token"]
        config = workdir / "app.yaml"
        config.write_text((root / "app.yaml").read_text().replace("  approvers: []", f"  approvers: [{APPROVER}]"))
        self.bot_port, self.floor_port = free_port(), free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_"))}
        slack = {"SLACK_BOT_TOKEN": self.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": self.slack_api}
        self.schema = f"bench_{os.getpid()}_{int(time.time())}" if args.postgres else None
        bot_env = base | info["env"] | slack | {"DATABASE_URL": self._database(args.postgres, workdir),
                                                "APP_CONFIG": str(config), "LOG_LEVEL": "WARNING",
                                                "PORT": str(self.bot_port)}
        self._spawn([sys.executable, "-m", "gunicorn", "-c", "python:bot.slack.gunicorn_conf",
                     "bot.slack.wsgi:create_app()"], root, bot_env)
        self._spawn([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.floor_port}", "--workers", "2",
                     "--threads", "8", "--timeout", "60", "bench.floor_app:create_app()"], ROOT, base | slack)
        for port in (self.bot_port, self.floor_port):
            self._wait(lambda port=port: self._healthy(port), f"the server on port {port}")

    def _database(self, postgres: str | None, workdir: Path) -> str:
        """A SQLite file in the run's directory, or a fresh schema of `postgres` (dropped in `stop`)."""
        if not postgres:
            return f"sqlite:///{workdir}/bench.db"
        with create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        return make_url(postgres).update_query_dict({"options": f"-csearch_path={self.schema}"}).render_as_string(
            hide_password=False)

    def _spawn(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        log = open(self.workdir / f"proc{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the workdir
        self.procs.append(subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def _wait(self, ready: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise SystemExit(f"{what} did not start; see the logs in {self.workdir}")
            time.sleep(0.1)

    @staticmethod
    def _healthy(port: int) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    def cards(self) -> dict[str, tuple[float, str, list[dict[str, Any]]]]:
        """The plan cards in the channel: UPN -> (posted at, ts, blocks), read with conversations.history."""
        found: dict[str, tuple[float, str, list[dict[str, Any]]]] = {}
        cursor = ""
        while True:
            answer = requests.post(f"{self.slack_api}conversations.history", timeout=10,
                                   headers={"Authorization": f"Bearer {self.token}"},
                                   data={"channel": CHANNEL, "limit": 999, "cursor": cursor}).json()
            for message in answer.get("messages", []):
                match = UPN.search(json.dumps(message.get("blocks") or message.get("text")))
                if match and match.group(0) not in found:
                    found[match.group(0)] = (float(message["ts"]), message["ts"], message.get("blocks") or [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return found

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # a master and its workers, whatever they are doing
            proc.wait(timeout=10)
        if self.schema and self.postgres:
            with create_engine(self.postgres, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))


def post(url: str, sender: SlackSender, body: bytes) -> float:
    headers = sender.sign(body)
    started = time.perf_counter()
    answer = requests.post(url, data=body, headers=headers, timeout=30)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"HTTP {answer.status_code} from {url}: {answer.text[:200]}")
    return elapsed


def burst(pool: concurrent.futures.ThreadPoolExecutor, url: str, sender: SlackSender,
          bodies: list[bytes]) -> list[float]:
    return list(pool.map(lambda body: post(url, sender, body), bodies))


def approve_button(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    for block in blocks:
        for element in block.get("elements") or ([block["accessory"]] if block.get("accessory") else []):
            if element.get("type") == "button" and (element.get("text") or {}).get("text") == "Approve":
                return {**element, "block_id": block.get("block_id")}
    return None


def run_once(root: Path, args: argparse.Namespace) -> Run:
    result = Run()
    with tempfile.TemporaryDirectory() as tmp:
        servers = Servers(root, Path(tmp), args)
        try:
            bot, floor = (f"http://127.0.0.1:{port}/slack/events" for port in (servers.bot_port, servers.floor_port))
            sender = SlackSender(bot, SECRET)
            respond_to = servers.slack_api.replace("/api/", "/response/")
            upns = [f"bench{n:03}@contoso.com" for n in range(args.requests)]
            commands = [sender.command_body("/smtp-enable", upn, user_id=REQUESTER, channel_id=CHANNEL,
                                            response_url=f"{respond_to}bench-c{n}") for n, upn in enumerate(upns)]
            explain = sender.command_body("/smtp-explain", "535 5.7.3 Authentication unsuccessful",
                                          response_url=f"{respond_to}bench-w")
            result.cold_bot = post(bot, sender, explain)
            result.cold_floor = post(floor, sender, explain)
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.clients) as pool:
                burst(pool, bot, sender, [explain] * (2 * args.clients))  # warm-up, not counted
                burst(pool, floor, sender, [explain] * (2 * args.clients))
                result.commands["floor"] = burst(pool, floor, sender, commands)
                started = time.time()
                result.commands["bot"] = burst(pool, bot, sender, commands)
                done = time.time()
                cards = servers.cards()
                while len(cards) < args.requests and time.time() < done + CARD_WINDOW:
                    time.sleep(0.25)
                    cards = servers.cards()
                in_window = {upn: card for upn, card in cards.items() if card[0] <= done + CARD_WINDOW}
                result.cards_in_window = len(in_window)
                # Commands were sent over [started, done]; each card is timed from the end of the burst's start,
                # an upper bound for the ones sent early in it.
                result.to_card = [card[0] - started for card in in_window.values()]
                clicks = []
                posted = list(cards.values()) or [(0.0, "0", [])]
                for n in range(args.requests):
                    _, ts, blocks = posted[n % len(posted)]
                    button = approve_button(blocks) or {"action_id": "step_approve", "value": "0"}
                    payload = sender.click_payload(button["action_id"], button.get("value"), user_id=APPROVER,
                                                   channel_id=CHANNEL, message_ts=ts, blocks=blocks,
                                                   block_id=button.get("block_id"), text="Approve",
                                                   response_url=f"{respond_to}bench-k{n}")
                    clicks.append(urlencode({"payload": json.dumps(payload)}).encode())
                result.clicks["floor"] = burst(pool, floor, sender, clicks)
                result.clicks["bot"] = burst(pool, bot, sender, clicks)
        except BaseException:
            for log in sorted(Path(tmp).glob("proc*.log")):
                print(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            servers.stop()
            if args.keep:
                shutil.copytree(tmp, args.keep / f"run-{time.strftime('%H%M%S')}", dirs_exist_ok=True)
    return result


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f}  min {min(values):7.1f}  max {max(values):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose bot is measured")
    parser.add_argument("--postgres", help="serve the bot from a fresh schema of this PostgreSQL database, e.g. "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test, instead of a SQLite file")
    parser.add_argument("--keep", type=Path, help="copy each run's database and logs under this directory")
    args = parser.parse_args()
    print(f"Ack latency: {args.requests} requests from {args.clients} clients, {args.delay * 1000:.0f} ms added to "
          f"every Microsoft call, gunicorn 2 workers x 8 threads; bot from {args.root}")
    runs: list[Run] = []
    for n in range(1, args.runs + 1):
        run = run_once(args.root.resolve(), args)
        runs.append(run)
        p99 = {kind: {who: percentile(v, 99) for who, v in getattr(run, kind).items()}
               for kind in ("commands", "clicks")}
        to_card = (f"p50 {percentile(run.to_card, 50):5.1f} s  p99 {percentile(run.to_card, 99):5.1f} s"
                   if run.to_card else "none")
        print(f"run {n}: commands p99 bot {p99['commands']['bot']:6.1f} ms floor {p99['commands']['floor']:6.1f} ms"
              f" ({p99['commands']['bot'] / p99['commands']['floor']:4.2f}x); clicks p99 bot "
              f"{p99['clicks']['bot']:6.1f} ms floor {p99['clicks']['floor']:6.1f} ms "
              f"({p99['clicks']['bot'] / p99['clicks']['floor']:4.2f}x); cold first: bot {run.cold_bot:6.0f} ms "
              f"floor {run.cold_floor:5.0f} ms; cards within {CARD_WINDOW:.0f} s: {run.cards_in_window}/"
              f"{args.requests}, time to card {to_card}", flush=True)
    print(f"summary over {len(runs)} runs (p99 in ms; ratio = bot/floor of the same run):")
    for kind, goal in (("commands", 1.2), ("clicks", 1.1)):
        bots = [percentile(getattr(r, kind)["bot"], 99) for r in runs]
        floors = [percentile(getattr(r, kind)["floor"], 99) for r in runs]
        ratios = [b / f for b, f in zip(bots, floors, strict=True)]
        verdict = "ok" if statistics.median(ratios) <= goal else "OVER"
        print(f"  {kind:<8} bot   {spread(bots)}\n  {'':<8} floor {spread(floors)}\n"
              f"  {'':<8} ratio {spread(ratios)}  goal <= {goal}x: {verdict}")
    cards = [r.cards_in_window for r in runs]
    to_card = [t for r in runs for t in r.to_card]
    print(f"  cards within {CARD_WINDOW:.0f} s of the burst: median {statistics.median(cards)} min {min(cards)} max "
          f"{max(cards)} of {args.requests} (goal >= {int(0.95 * args.requests)})")
    if to_card:
        print(f"  time from burst start to card, all runs: p50 {percentile(to_card, 50):.1f} s, "
              f"p99 {percentile(to_card, 99):.1f} s")
    colds = [r.cold_bot for r in runs]
    print(f"  cold first request (not in the p99s): bot {spread(colds)} ms; floor "
          f"{spread([r.cold_floor for r in runs])} ms")


if __name__ == "__main__":
    main()
