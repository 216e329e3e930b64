"""Fixtures for the probe tests: a throwaway CA and TLS contexts for good and bad server certificates."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from smtp_fakes import server_context

from sandbox.ca import SandboxCA


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> SandboxCA:
    return SandboxCA(tmp_path_factory.mktemp("probe-ca"))


@pytest.fixture(scope="session")
def ca_file(ca: SandboxCA) -> str:
    return str(ca.ca_path)


@pytest.fixture(scope="session")
def good_tls(ca: SandboxCA) -> ssl.SSLContext:
    """The CA's certificate for localhost, 127.0.0.1 and ::1, valid for 30 days."""
    return ca.ssl_context()


@pytest.fixture(scope="session")
def expired_tls(ca: SandboxCA) -> ssl.SSLContext:
    now = datetime.now(UTC)
    cert = ca.issue_server_cert(
        "expired",
        ("localhost", "127.0.0.1"),
        not_before=now - timedelta(days=60),
        not_after=now - timedelta(days=1),
    )
    return server_context(cert.cert_path, cert.key_path)


@pytest.fixture(scope="session")
def wrong_host_tls(ca: SandboxCA) -> ssl.SSLContext:
    cert = ca.issue_server_cert("wrong-host", ("mail.example.net",))
    return server_context(cert.cert_path, cert.key_path)


@pytest.fixture(scope="session")
def other_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server certificates."""
    return SandboxCA(tmp_path_factory.mktemp("other-ca")).ca_path
