"""Real bot processes for the fault and replica suites: gunicorn replicas as the Procfile runs them (one worker
each), their configuration, a database link the test can cut, and a `Cluster` of them with the views a fault
test compares: the tenant (sandbox), the card (Slack stand-in) and the audit log (store)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.engine import make_url

from bot.store import Store
from sandbox.launcher import Sandbox
from sandbox.slack import SlackStandin
from sandbox.slack_client import SlackSender
from tests.slack.slack_helpers import APPROVER, BOT_TOKEN, REQUESTER, ROOT, SIGNING_SECRET, wait_until

UPN = "scanner@contoso.com"  # seeded with SMTP AUTH disabled on the mailbox: the plan has one step
CLAIM_SECONDS = 2  # a dead process's claims run out this fast here (default 30 s); a loaded CI box must renew in time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """One `gunicorn 'bot.slack.wsgi:create_app()'` with one worker, in its own process group."""

    def __init__(self, env: dict[str, str], log: Path, *, wait: bool = True) -> None:
        self.name = log.stem
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:bot.slack.gunicorn_conf", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8", "bot.slack.wsgi:create_app()"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        try:
            wait_until(self.healthy, timeout=40, what=f"gunicorn on {self.port} ({self.log})")
        except BaseException:
            self.kill()  # never leave a server (and its workers) running after a failed start
            raise

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

    def worker(self) -> int | None:
        """The pid of the worker gunicorn runs now (None between a worker's death and its replacement)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return int(children[0]) if children else None

    def kill_worker(self) -> None:
        """SIGKILL the worker mid-work (as the OOM killer would); the master starts a fresh one, whose start-up
        and sweep settle what the dead one left. Returns once the new worker answers."""
        dead = self.worker()
        assert dead is not None, "no worker to kill"
        os.kill(dead, signal.SIGKILL)
        wait_until(lambda: self.worker() not in (None, dead) and self.healthy(), timeout=30,
                   what=f"a new worker after {dead} ({self.log})")

    def kill(self) -> None:
        """SIGKILL the master and its worker at once: nothing gets to clean up, as in a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def bot_env(sandbox: Any, standin: Any, db_url: str, config: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process pointed at the sandbox, the Slack stand-in and `db_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "DATABASE_URL"))}
    return env | sandbox.env() | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": standin.api_url, "DATABASE_URL": db_url,
                                  "APP_CONFIG": str(config)} | extra


def write_config(path: Path, replacements: dict[str, str]) -> Path:
    """The shipped app.yaml with each `old` text replaced (each must be there, so a changed app.yaml fails loudly)."""
    text = (ROOT / "app.yaml").read_text()
    for old, new in replacements.items():
        assert old in text, f"app.yaml no longer contains {old!r}"
        text = text.replace(old, new)
    path.write_text(text)
    return path


class DatabaseLink:
    """A TCP relay between the bot processes and PostgreSQL that the test can cut (drop every open connection
    mid-command and refuse new ones, as a failed-over or unreachable database does) and restore."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.upstream = (parsed.host or "127.0.0.1", parsed.port or 5432)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = parsed.set(host="127.0.0.1", port=self.listener.getsockname()[1]).render_as_string(
            hide_password=False)
        self.up = True
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="db-link", daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.up = False
            sockets, self._open = self._open, []
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Cluster:
    """Bot processes started on demand against one fresh PostgreSQL schema; killed (SIGKILL) at teardown."""

    def __init__(self, sandbox: Sandbox, standin: SlackStandin, pg_url: str, tmp_path: Path) -> None:
        self.sandbox, self.standin, self.tmp_path = sandbox, standin, tmp_path
        self.store = Store(pg_url)
        self.store.migrate()  # once, before replicas start side by side
        self.link: DatabaseLink | None = None
        self.db_url = pg_url
        self.replicas: list[Replica] = []
        self.env: dict[str, str] = {}  # extra environment of the processes started from now on
        self.settings = {"  approvers: []": f"  approvers: [{APPROVER}, S0ADMINS]",
                         "  interval_minutes: 5": "  interval_minutes: 60",
                         "  claim_seconds: 30": f"  claim_seconds: {CLAIM_SECONDS}"}

    def through_link(self) -> DatabaseLink:
        """Route the processes started from now on through a database link the test can cut."""
        self.link = DatabaseLink(self.db_url)
        return self.link

    def start(self, name: str) -> Replica:
        [replica] = self.start_many(name)
        return replica

    def running(self, name: str) -> Replica:
        """The replica `name` started earlier by this cluster if it still runs, else a new one."""
        alive = [r for r in self.replicas if r.name == name and r.process.poll() is None]
        return alive[0] if alive else self.start(name)

    def start_many(self, *names: str) -> list[Replica]:
        """Start replicas side by side (their start-ups overlap), each with the cluster's settings."""
        url = self.link.url if self.link else self.db_url
        started = []
        for name in names:
            config = write_config(self.tmp_path / f"{name}.yaml", self.settings)
            started.append(Replica(bot_env(self.sandbox, self.standin, url, config, **self.env),
                                   self.tmp_path / f"{name}.log", wait=False))
        self.replicas += started
        for replica in started:
            replica.wait_ready()
        return started

    def sender(self, replica: Replica) -> SlackSender:
        return SlackSender(replica.url, SIGNING_SECRET, standin=self.standin)

    def stop(self) -> None:
        for replica in self.replicas:
            replica.kill()
        if self.link:
            self.link.close()
        self.store.close()

    # What the test compares ------------------------------------------------------------------------------
    def tenant_value(self, upn: str = UPN) -> bool | None:
        """The mailbox's SmtpClientAuthenticationDisabled in the sandbox tenant (the truth)."""
        return self.sandbox.state.tenant("contoso").user(upn).mailbox.smtp_client_authentication_disabled

    def sets(self) -> list[Any]:
        """Every Set-CASMailbox the tenant received (and answered, or applied before failing)."""
        return [r for r in self.sandbox.state.requests.for_service("exchange") if r.cmdlet == "Set-CASMailbox"]

    def cards(self, channel: str = "C0OPS") -> list[Any]:
        return [m for m in self.standin.messages(channel) if m.thread_ts is None]

    def wait_card(self, text: str, timeout: float = 20) -> Any:
        """The one card of the channel once it shows `text` (fails if a second card appears)."""
        def shown() -> Any:
            cards = self.cards()
            assert len(cards) <= 1, f"{len(cards)} cards: {[c.text for c in cards]}"
            return cards and text in str(cards[0].blocks) and cards[0]
        return wait_until(shown, timeout=timeout, what=f"the card showing {text!r}")

    def request(self) -> Any:
        """The newest change request (a module-wide cluster keeps the earlier tests' ones)."""
        return self.store.requests.list(limit=1)[0]

    def step(self) -> Any:
        [step] = self.store.requests.get_steps(self.request().id)
        return step

    def wait_step(self, *states: str, timeout: float = 20) -> Any:
        return wait_until(lambda: (s := self.step()).state in states and s, timeout=timeout,
                          what=f"the step in {states}")

    def actions(self) -> list[str]:
        return [r.action for r in self.store.requests.audit_rows(request_id=self.request().id)]

    def open_plan(self, replica: Replica) -> Any:
        """/smtp-enable the scanner as the requester; the plan card once it shows its Approve button."""
        self.sender(replica).command("/smtp-enable", UPN, user_id=REQUESTER)
        card = self.wait_card("step_approve")
        self.sandbox.state.requests.clear()  # from here the tenant's log holds only the change's calls
        return card

    def click(self, replica: Replica, label: str, user: str = APPROVER) -> None:
        [card] = self.cards()
        answer = self.sender(replica).click_button("C0OPS", card.ts, user_id=user, text_or_action_id=label)
        assert answer.status_code == 200
