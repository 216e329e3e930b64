"""The helpers other tests use, and the sandbox as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.launcher import start_sandbox


def test_start_sandbox_as_context_manager(tmp_path: Path) -> None:
    with start_sandbox(tmp_path) as sandbox:
        tenant_id, client_id, secret = sandbox.creds("fabrikam")
        assert sandbox.url.startswith("https://localhost:")
        health = requests.get(f"{sandbox.url}/_sandbox/health", verify=str(sandbox.ca_path), timeout=5)
        assert health.json()["tenants"]["fabrikam"] == tenant_id
        assert sandbox.env("fabrikam")["M365_CLIENT_SECRET"] == secret
    assert sandbox.ca_path == tmp_path / "ca.pem"


def test_serve_forever_in_its_own_process(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from sandbox.launcher import serve_forever as s; s('127.0.0.1', 0, sys.argv[1])",
            str(tmp_path),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert time.monotonic() - started < 5
        url = first_line.split()[-1]
        assert url.startswith("https://localhost:")
        env_file = tmp_path / "sandbox.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        env = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#")
        )
        assert set(env) == {
            "M365_TENANT_ID",
            "M365_CLIENT_ID",
            "M365_CLIENT_SECRET",
            "M365_LOGIN_URL",
            "M365_GRAPH_URL",
            "M365_EXCHANGE_URL",
            "M365_CA_BUNDLE",
        }
        assert env["M365_LOGIN_URL"] == url and env["M365_CA_BUNDLE"] == str(tmp_path / "ca.pem")
        token = requests.post(
            f"{url}/{env['M365_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["M365_CLIENT_ID"],
                "client_secret": env["M365_CLIENT_SECRET"],
                "scope": "https://graph.microsoft.com/.default",
            },
            verify=env["M365_CA_BUNDLE"],
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert env["M365_CLIENT_SECRET"] not in first_line + output
    assert "Sandbox stopped." in output
    assert os.path.exists(tmp_path / "ca.pem")
