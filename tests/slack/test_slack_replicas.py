"""Two bot processes (gunicorn, as the Procfile runs them) sharing PostgreSQL: decisions stay exactly-once, and
one scheduler probes. Crashes and races of the change workflow are in tests/faults."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_helpers import APPROVER, REQUESTER, SIGNING_SECRET, top_level, wait_until

from bot.store import Store
from sandbox.slack_client import SlackSender
from tests.faults.processes import Replica, bot_env, write_config


@pytest.fixture
def replicas(sandbox, standin, pg_url, tmp_path) -> Iterator[callable]:
    config = write_config(tmp_path / "app.yaml", {"  approvers: []": f"  approvers: [{APPROVER}, S0ADMINS]",
                                                  "  interval_minutes: 5": "  interval_minutes: 60"})
    env = bot_env(sandbox, standin, pg_url, config)
    started: list[Replica] = []

    def start(name: str, *, wait: bool = True) -> Replica:
        replica = Replica(env, tmp_path / f"{name}.log", wait=wait)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.kill()


def start_both(replicas) -> tuple[Replica, Replica]:
    """Two processes started at once (their start-up is most of these tests' time), each then serving."""
    a, b = replicas("a", wait=False), replicas("b", wait=False)
    for replica in (a, b):
        replica.wait_ready()
    return a, b


def set_casmailbox(sandbox) -> list:
    return [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Set-CASMailbox"]


def test_two_replicas_apply_a_step_once(replicas, sandbox, standin, pg_url):
    a, b = start_both(replicas)
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
    sets = set_casmailbox(sandbox)
    assert len(sets) == 1, [(r.status, r.fault, r.client_request_id, r.timestamp) for r in sets]
    assert len(top_level(standin, "C0OPS")) == 1
    store = Store(pg_url)
    [request] = store.requests.list()
    approvals = [r for r in store.requests.audit_rows(request_id=request.id) if r.action == "step.approved"]
    assert len(approvals) == 1
    store.close()


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_two_schedulers_probe_once_per_interval_and_take_over(sandbox, standin, pg_url, tmp_path):
    """Probe every 0.6 s with a 1 s lease: one process probes; kill it and the other takes over."""
    interval, lease = 0.6, 1.0
    probes = ("  targets:\n    - name: printer\n      mailbox: printer@contoso.com\n"
              "      password: ${PRINTER_SMTP_PASSWORD}\n")
    config = write_config(tmp_path / "app.yaml", {
        "  approvers: []": f"  approvers: [{APPROVER}]", "  alert_channel:\n": "  alert_channel: C0ALERTS\n",
        "  interval_minutes: 5": f"  interval_minutes: {interval / 60}",
        "  lease_seconds: 30": f"  lease_seconds: {lease}",
        "  smtp_host:\n": "  smtp_host: localhost\n", "  port: 587": f"  port: {sandbox.smtp.port}",
        "  ca_bundle:\n  # Mailboxes": f"  ca_bundle: {sandbox.ca_path}\n  # Mailboxes", "  targets: []\n": probes})
    env = bot_env(sandbox, standin, pg_url, config, PRINTER_SMTP_PASSWORD="Printer-Sandbox-1")
    replicas = [Replica(env, tmp_path / "a.log", wait=False), Replica(env, tmp_path / "b.log", wait=False)]
    store = Store(pg_url)
    try:
        for replica in replicas:
            replica.wait_ready()
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
