"""`python -m bot` with Slack configured serves through gunicorn, with the configuration it was given."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import requests
from slack_helpers import BOT_TOKEN, ROOT, SIGNING_SECRET, wait_until

from sandbox.slack_client import SlackSender


def test_python_m_bot_serves_slack_over_gunicorn(sandbox, standin, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "custom.yaml"
    config.write_text((ROOT / "app.yaml").read_text().replace("  approvers: []", "  approvers: [U0APPROVE]")
                      .replace("  workers: 2", "  workers: 1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG"))}
    env |= sandbox.env() | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port),
                            "SLACK_API_URL": standin.api_url, "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"}
    log = (tmp_path / "bot.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "bot.log").read_text()[-2000:]
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=30, what="gunicorn")
        sender = SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, standin=standin)
        assert "Diagnosing" in sender.command("/smtp-enable", "scanner@contoso.com", user_id="U0REQUEST").text
        card = wait_until(lambda: standin.messages("C0OPS"), timeout=20, what="plan card")[-1]
        assert any(b.text == "Approve" for b in sender.buttons("C0OPS", card.ts))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
