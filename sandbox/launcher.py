"""Start the sandbox for tests and benchmarks (`start_sandbox`) or as its own process (`serve_forever`)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.clock import Clock
from sandbox.ca import SandboxCA
from sandbox.server import SandboxServer
from sandbox.smtp import SmtpServer
from sandbox.state import SandboxState


@dataclass
class Sandbox:
    """A running sandbox: its state (tenants, faults, request log), CA, HTTPS server and SMTP server."""

    state: SandboxState
    ca: SandboxCA
    server: SandboxServer
    smtp: SmtpServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_path(self) -> Path:
        return self.ca.ca_path

    def creds(self, tenant_key: str = "contoso") -> tuple[str, str, str]:
        """(tenant id, client id, client secret) of the tenant's app registration."""
        tenant = self.state.tenant(tenant_key)
        app = tenant.apps[0]
        return tenant.id, app.client_id, app.client_secret

    def env(self, tenant_key: str = "contoso") -> dict[str, str]:
        """The environment variables that point the bot at this sandbox tenant (includes the secret)."""
        tenant_id, client_id, secret = self.creds(tenant_key)
        return {
            "M365_TENANT_ID": tenant_id,
            "M365_CLIENT_ID": client_id,
            "M365_CLIENT_SECRET": secret,
            "M365_LOGIN_URL": self.url,
            "M365_GRAPH_URL": self.url,
            "M365_EXCHANGE_URL": self.url,
            "M365_CA_BUNDLE": str(self.ca_path),
        }

    def m365_settings(self, tenant_key: str = "contoso") -> dict[str, Any]:
        """The `m365` configuration section that points the bot at this sandbox tenant (includes the secret)."""
        tenant_id, client_id, secret = self.creds(tenant_key)
        return {
            "tenant_id": tenant_id, "client_id": client_id, "client_secret": secret,
            "endpoints": {"login": self.url, "graph": self.url, "exchange": self.url},
            "ca_bundle": str(self.ca_path),
        }

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self.smtp.stop()
        self.server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox(
    workdir: Path | str,
    clock: Clock | None = None,
    seed: Path | str | dict[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    smtp_port: int = 0,
    keep_alive: bool = True,
) -> Sandbox:
    """A fresh CA in `workdir`, the HTTPS server on `host:port` and the SMTP server on `host:smtp_port`.

    Port 0 picks any free port. Both are already serving. `keep_alive=False` closes every HTTPS
    connection after one answer (the old behaviour, for benches).
    """
    ca = SandboxCA(Path(workdir))
    state = SandboxState(seed, clock)
    server = SandboxServer(state, ca, host, port, keep_alive=keep_alive).start()
    return Sandbox(state, ca, server, SmtpServer(state, ca, host, smtp_port).start())


def serve_forever(host: str, port: int, state_dir: Path | str, smtp_port: int = 0,
                  seed: Path | str | dict[str, Any] | None = None) -> None:
    """Serve the sandbox in this process until interrupted; writes `ca.pem`, `sandbox.env` to `state_dir`."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    sandbox = start_sandbox(directory, seed=seed, host=host, port=port, smtp_port=smtp_port)
    env_path = directory / "sandbox.env"
    fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Points smtp-auth-bot at the local sandbox tenant 'contoso'. Contains a client secret.\n")
        out.writelines(f"{key}={value}\n" for key, value in sandbox.env().items())
    os.chmod(env_path, 0o600)
    tenant_id, client_id, _ = sandbox.creds()
    print(f"Sandbox (Entra ID, Graph, Exchange) listening on {sandbox.url}")
    print(f"  tenant contoso {tenant_id}, app {client_id}; CA bundle {sandbox.ca_path}")
    print(
        f"  Point the bot at it: set -a; . {env_path}; set +a  (M365_* variables; the file holds the secret)"
    )
    print("  then, for example: python -m bot diagnose scanner@contoso.com")
    print(
        f"  SMTP submission (Exchange Online stand-in): {sandbox.smtp.host} port {sandbox.smtp.port},"
        " STARTTLS with the CA bundle above"
    )
    print(
        f"  Control plane: {sandbox.url}/_sandbox/health, POST /_sandbox/reset, POST|DELETE /_sandbox/faults",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Sandbox stopped.")
    finally:
        sandbox.stop()
