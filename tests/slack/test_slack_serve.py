"""`python -m bot` with Slack configured serves through gunicorn, with the configuration it was given."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys

import requests
from slack_helpers import BOT_TOKEN, ROOT, SIGNING_SECRET, top_level, wait_until

from sandbox.slack_client import SlackSender


def configured(sandbox, standin, tmp_path, workers: int) -> tuple[int, dict[str, str]]:
    """A free port and the environment of a bot on the sandbox with `workers` and its config in APP_CONFIG."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "custom.yaml"
    config.write_text((ROOT / "app.yaml").read_text().replace("  approvers: []", "  approvers: [U0APPROVE]")
                      .replace("  workers: 2", f"  workers: {workers}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG"))}
    env |= sandbox.env() | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port),
                            "SLACK_API_URL": standin.api_url, "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
                            "APP_CONFIG": str(config)}
    return port, env


def test_python_m_bot_serves_slack_over_gunicorn(sandbox, standin, tmp_path):
    port, env = configured(sandbox, standin, tmp_path, workers=1)
    serve([sys.executable, "-m", "bot"], port, env, standin, tmp_path)


def test_the_procfile_takes_workers_from_the_configuration_and_warns_about_sqlite_in_tmp(sandbox, standin, tmp_path):
    port, env = configured(sandbox, standin, tmp_path, workers=3)
    [web] = [line.removeprefix("web: ") for line in (ROOT / "Procfile").read_text().splitlines()]
    serve([sys.executable, "-m", *shlex.split(web)], port, env, standin, tmp_path)
    log = (tmp_path / "bot.log").read_text()
    assert log.count("Booting worker") == 3
    [workers] = [line for line in log.splitlines() if "SQLite with server.workers 3" in line]
    [ephemeral] = [line for line in log.splitlines() if "looks ephemeral" in line]
    assert "WARNING" in workers and f"{tmp_path}/bot.db" in ephemeral


def serve(command: list[str], port: int, env: dict[str, str], standin, tmp_path) -> None:
    """Run `command` until it answers a signed /smtp-enable with a plan card, then stop it."""
    log = (tmp_path / "bot.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
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
        card = wait_until(lambda: top_level(standin, "C0OPS"), timeout=20, what="plan card")[-1]
        assert any(b.text == "Approve" for b in sender.buttons("C0OPS", card.ts))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
