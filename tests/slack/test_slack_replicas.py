"""Two bot processes (gunicorn, as the Procfile runs them) sharing PostgreSQL: decisions stay exactly-once,
and a process killed between claim and apply is settled when a process starts again."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from slack_helpers import APPROVER, BOT_TOKEN, REQUESTER, ROOT, SIGNING_SECRET, top_level, wait_until

from bot.store import Store
from sandbox.slack_client import SlackSender


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """One bot process; `start_replicas` starts them and waits until they serve."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads",
             "8", "bot.slack.wsgi:create_app()"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_replicas(env: dict[str, str], logs: list[Path]) -> list[Replica]:
    """One process per log, all started at once (their start-up is most of these tests' time), each serving."""
    replicas = [Replica(env, log) for log in logs]
    try:
        for replica in replicas:
            wait_until(replica.healthy, timeout=30, what=f"gunicorn on {replica.port} ({replica.log})")
    except BaseException:
        for replica in replicas:
            replica.kill()  # never leave a server (and its workers) running after a failed start
        raise
    return replicas


@pytest.fixture
def replicas(sandbox, standin, pg_url, tmp_path) -> Iterator[callable]:
    config = tmp_path / "app.yaml"
    config.write_text((ROOT / "app.yaml").read_text()
                      .replace("  approvers: []", f"  approvers: [{APPROVER}, S0ADMINS]")
                      .replace("  interval_minutes: 5", "  interval_minutes: 60"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "DATABASE_URL"))}
    env |= sandbox.env() | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                            "SLACK_API_URL": standin.api_url, "DATABASE_URL": pg_url, "APP_CONFIG": str(config)}
    started: list[Replica] = []

    def start(*names: str) -> list[Replica]:
        replicas = start_replicas(env, [tmp_path / f"{name}.log" for name in names])
        started.extend(replicas)
        return replicas

    yield start
    for replica in started:
        replica.kill()


def set_casmailbox(sandbox) -> list:
    return [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Set-CASMailbox"]


def test_two_replicas_apply_a_step_once(replicas, sandbox, standin, pg_url):
    a, b = replicas("a", "b")
    SlackSender(a.url, SIGNING_SECRET, standin=standin).command("/smtp-enable", "scanner@contoso.com",
                                                                  user_id=REQUESTER)
    card = wait_until(lambda: top_level(standin, "C0OPS"), timeout=20, what="plan card")[-1]
    senders = [SlackSender(r.url, SIGNING_SECRET, standin=standin) for r in (a, b)]
    [button] = [x for x in senders[0].buttons("C0OPS", card.ts) if x.text == "Approve"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda n: senders[n % 2].click(button.action_id, button.value, user_id=APPROVER,
                                                               message_ts=card.ts), range(50)))
    assert all(answer.status_code == 200 for answer in answers)
    wait_until(lambda: "step_undo" in str(top_level(standin, "C0OPS")[-1].blocks), timeout=20, what="verified")
    assert len(set_casmailbox(sandbox)) == 1
    assert len(top_level(standin, "C0OPS")) == 1
    store = Store(pg_url)
    [request] = store.requests.list()
    approvals = [r for r in store.requests.audit_rows(request_id=request.id) if r.action == "step.approved"]
    assert len(approvals) == 1
    store.close()


def test_a_replica_killed_between_claim_and_apply_is_settled_at_restart(replicas, sandbox, standin, pg_url):
    [a] = replicas("a")
    sender = SlackSender(a.url, SIGNING_SECRET, standin=standin)
    sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = wait_until(lambda: top_level(standin, "C0OPS"), timeout=20, what="plan card")[-1]
    store = Store(pg_url)
    [request] = store.requests.list()
    [step] = store.requests.get_steps(request.id)
    # The read that starts the apply hangs; the process dies while the step is claimed.
    sandbox.state.faults.add("latency", service="exchange", cmdlet="Get-CASMailbox", seconds=3.0)
    sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: store.requests.get_step(step.id).state == "applying", timeout=20, what="claimed")
    a.kill()
    assert store.requests.get_step(step.id).state == "applying"
    sandbox.state.faults.clear()  # the hang has done its part; the new process's read-back needs no wait

    replicas("b")  # a new process settles what the dead one left
    settled = wait_until(lambda: store.requests.get_step(step.id).state != "applying" and store.requests.get_step(step.id),
                         timeout=20, what="settled")
    assert settled.state == "failed" and "nothing changed" in settled.error
    assert set_casmailbox(sandbox) == []
    wait_until(lambda: "step_retry" in str(top_level(standin, "C0OPS")[-1].blocks), timeout=20, what="card updated")
    store.close()


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_two_schedulers_probe_once_per_interval_and_take_over(sandbox, standin, pg_url, tmp_path):
    """Probe every 0.6 s with a 1 s lease: one process probes; kill it and the other takes over."""
    interval, lease = 0.6, 1.0
    config = tmp_path / "app.yaml"
    probes = ("  targets:\n    - name: printer\n      mailbox: printer@contoso.com\n"
              "      password: ${PRINTER_SMTP_PASSWORD}\n")
    config.write_text((ROOT / "app.yaml").read_text()
                      .replace("  approvers: []", f"  approvers: [{APPROVER}]")
                      .replace("  alert_channel:\n", "  alert_channel: C0ALERTS\n")
                      .replace("  interval_minutes: 5", f"  interval_minutes: {interval / 60}")
                      .replace("  lease_seconds: 30", f"  lease_seconds: {lease}")
                      .replace("  smtp_host:\n", "  smtp_host: localhost\n")
                      .replace("  port: 587", f"  port: {sandbox.smtp.port}")
                      .replace("  ca_bundle:\n  lease", f"  ca_bundle: {sandbox.ca_path}\n  lease")
                      .replace("  targets: []\n", probes))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "DATABASE_URL"))}
    env |= sandbox.env() | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                            "SLACK_API_URL": standin.api_url, "DATABASE_URL": pg_url, "APP_CONFIG": str(config),
                            "PRINTER_SMTP_PASSWORD": "Printer-Sandbox-1"}
    replicas = start_replicas(env, [tmp_path / "a.log", tmp_path / "b.log"])
    store = Store(pg_url)
    try:
        wait_until(lambda: len(store.probes.history("printer")) >= 4, timeout=30, what="four probes")
        times = [r.at for r in store.probes.history("printer")]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= interval / 2, gaps  # never two probes in one interval, though two schedulers run

        holder = store.leases.holder("scheduler")
        leader_pid = int(holder.split(":")[1])
        [leader] = [r for r in replicas if r.process.pid == parent_pid(leader_pid)]
        killed_at = time.monotonic()
        leader.kill()
        wait_until(lambda: store.leases.holder("scheduler") not in (None, holder), timeout=10, what="takeover")
        assert time.monotonic() - killed_at <= 2 * lease + 1.0  # two lease periods, plus a renewal tick
        before = len(store.probes.history("printer"))
        wait_until(lambda: len(store.probes.history("printer")) > before, timeout=15, what="probes continue")
    finally:
        for replica in replicas:
            replica.kill()
        store.close()
