"""The stand-ins of a benchmark in their own process, so serving them costs the timing client nothing.

Starts the sandbox tenant (with `--users` extra users `bench000@contoso.com`..., and `--delay` seconds added to
every Graph and Exchange HTTP call) and the Slack stand-in, writes what the bot needs to `<dir>/standins.json`, and
serves until killed. Run by bench/ack_latency.py: python bench/standins.py --dir DIR [--users N] [--delay S]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.launcher import start_sandbox  # noqa: E402
from sandbox.slack import start_slack_standin  # noqa: E402

TOKEN = "xoxb-bench-token"


def bench_upn(n: int) -> str:
    return f"bench{n:03}@contoso.com"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()
    sandbox = start_sandbox(Path(args.dir))
    for n in range(args.users):
        sandbox.state.add_user("contoso", bench_upn(n))
    # The delay is per HTTP round trip: the requests inside one Graph $batch are not delayed again one after the
    # other (Graph runs a batch's independent requests in any order, learn.microsoft.com/graph/json-batching).
    for service in ("graph", "exchange"):
        sandbox.state.faults.add("latency", service=service, seconds=args.delay, times=None, in_batch=False)
    standin = start_slack_standin(bot_token=TOKEN)
    info = {"env": sandbox.env(), "slack_api": standin.api_url, "token": TOKEN}
    out = Path(args.dir) / "standins.json"
    partial = out.with_suffix(".tmp")
    partial.write_text(json.dumps(info))
    os.replace(partial, out)
    threading.Event().wait()


if __name__ == "__main__":
    main()
