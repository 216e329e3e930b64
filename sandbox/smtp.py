"""The sandbox's Exchange Online SMTP submission stand-in: an aiosmtpd server in its own thread and loop.

Each connection is an `ExchangeSmtp` (`sandbox.smtp_session`), which speaks as Exchange does; this server
owns the listening socket, the open connections and the per-mailbox connection slots.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import threading
from collections.abc import Awaitable
from typing import Any

from sandbox.ca import SandboxCA
from sandbox.smtp_records import SmtpFaults, SmtpMessage, SmtpSession
from sandbox.smtp_session import ExchangeSmtp
from sandbox.state import SandboxState


class SmtpServer:
    """The stand-in on `host:port` (port 0: any free port), its asyncio loop in a daemon thread.

    Serves every sandbox tenant: the mailbox's domain picks the tenant. Knobs: `faults` (the state's
    `smtp_faults`); what it saw: `sessions`, `messages`.
    """

    def __init__(self, state: SandboxState, ca: SandboxCA, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.tls_context = ca.ssl_context()
        self.tls_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.loop = asyncio.new_event_loop()
        self.connections: set[ExchangeSmtp] = set()
        self._per_mailbox: collections.Counter[str] = collections.Counter()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="sandbox-smtp", daemon=True)

    @property
    def faults(self) -> SmtpFaults:
        return self.state.smtp_faults

    @property
    def sessions(self) -> list[SmtpSession]:
        return self.state.smtp_sessions

    @property
    def messages(self) -> list[SmtpMessage]:
        return self.state.smtp_messages

    def start(self) -> SmtpServer:
        self._thread.start()
        self._server = self._run(self.loop.create_server(lambda: ExchangeSmtp(self), self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._run(self._shutdown())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        self.loop.close()

    def authenticated(self, mailbox: str) -> int:
        """How many connections hold a slot for `mailbox` (authenticated and still open)."""
        return self._per_mailbox[mailbox.lower()]

    def claim(self, mailbox: str) -> bool:
        """Take one of the mailbox's connection slots; False when `mailbox_limit` are taken."""
        key = mailbox.lower()
        if self._per_mailbox[key] >= self.faults.mailbox_limit:
            return False
        self._per_mailbox[key] += 1
        return True

    def release(self, mailbox: str | None) -> None:
        if mailbox is not None:
            self._per_mailbox[mailbox.lower()] -= 1
            if self._per_mailbox[mailbox.lower()] <= 0:
                del self._per_mailbox[mailbox.lower()]

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        await asyncio.sleep(0)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
