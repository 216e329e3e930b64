"""One sandbox server per test session, reset before every test; `api` talks to it over real HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bot.clock import FakeClock
from sandbox.launcher import Sandbox, start_sandbox

GRAPH = "https://graph.microsoft.com/.default"
EXCHANGE = "https://outlook.office365.com/.default"


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[Sandbox]:
    with start_sandbox(tmp_path_factory.mktemp("sandbox"), clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def sb(running: Sandbox) -> Sandbox:
    running.reset()
    return running


class Api:
    """Plain `requests` calls to the sandbox, trusting its CA per request (REQUESTS_CA_BUNDLE is set here)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.verify = str(sandbox.ca_path)

    def post_token(self, scope: str = GRAPH, tenant: str = "contoso", **form: str) -> requests.Response:
        tenant_id, client_id, secret = self.sb.creds(tenant)
        data = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        }
        data.update(form)
        return requests.post(
            f"{self.sb.url}/{tenant_id}/oauth2/v2.0/token", data=data, verify=self.verify, timeout=10
        )

    def token(self, scope: str = GRAPH, tenant: str = "contoso") -> str:
        response = self.post_token(scope, tenant)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def graph(
        self, method: str, path: str, *, token: str | None = None, version: str = "v1.0", **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else f"{self.sb.url}/{version}{path}"
        return requests.request(method, url, headers=headers, verify=self.verify, timeout=10, **kwargs)

    def exo(
        self,
        cmdlet: str,
        parameters: dict[str, Any] | None = None,
        *,
        tenant: str = "contoso",
        token: str | None = None,
        url: str | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        tenant_id = self.sb.state.tenant(tenant).id
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        return requests.post(
            url or f"{self.sb.url}/adminapi/beta/{tenant_id}/InvokeCommand",
            json=body,
            headers={"Authorization": f"Bearer {token or self.token(EXCHANGE, tenant)}", **(headers or {})},
            verify=self.verify,
            timeout=10,
            stream=stream,
        )


@pytest.fixture
def api(sb: Sandbox) -> Api:
    return Api(sb)
