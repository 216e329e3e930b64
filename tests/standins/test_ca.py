"""The throwaway CA: files, server certificate, and the extra leaf certificates other tests need."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from sandbox.ca import IssuedCert, SandboxCA


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> SandboxCA:
    return SandboxCA(tmp_path_factory.mktemp("ca"))


def test_files_and_server_certificate(ca: SandboxCA) -> None:
    assert {p.name for p in ca.directory.iterdir()} >= {"ca.pem", "server.pem", "server.key"}
    chain = x509.load_pem_x509_certificates(ca.server_cert_path.read_bytes())
    leaf, root = chain
    assert root == x509.load_pem_x509_certificate(ca.ca_path.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert timedelta(days=29) < leaf.not_valid_after_utc - datetime.now(UTC) < timedelta(days=31)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert oct(ca.server_key_path.stat().st_mode & 0o777) == "0o600"


def _handshake(ca: SandboxCA, cert: IssuedCert, server_name: str) -> None:
    """A TLS handshake against `cert`, verified with the sandbox CA as a client would."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert.cert_path, cert.key_path)
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        conn, _ = listener.accept()
        try:
            with server_context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(ca.ca_path))
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=5) as raw,
            client_context.wrap_socket(raw, server_hostname=server_name),
        ):
            pass
    finally:
        thread.join(timeout=5)
        listener.close()


def test_server_certificate_verifies(ca: SandboxCA) -> None:
    _handshake(ca, IssuedCert(ca.server_cert_path, ca.server_key_path, "", "", "", ""), "localhost")


def test_expired_certificate_is_refused(ca: SandboxCA) -> None:
    now = datetime.now(UTC)
    expired = ca.issue_server_cert(
        "expired", ["localhost"], not_before=now - timedelta(days=10), not_after=now - timedelta(days=1)
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        _handshake(ca, expired, "localhost")


def test_wrong_host_certificate_is_refused(ca: SandboxCA) -> None:
    wrong = ca.issue_server_cert("wrong-host", ["mail.example.net"])
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(ca, wrong, "localhost")


def test_client_certificate(ca: SandboxCA) -> None:
    cert = ca.issue_client_cert("app", "smtp-auth-bot")
    parsed = x509.load_pem_x509_certificate(cert.cert_pem.encode())
    assert isinstance(parsed.public_key(), rsa.RSAPublicKey) and parsed.public_key().key_size == 2048
    assert cert.sha1_thumbprint == parsed.fingerprint(hashes.SHA1()).hex()
    assert cert.sha256_thumbprint == parsed.fingerprint(hashes.SHA256()).hex()
    assert Path(cert.key_path).read_text() == cert.key_pem
    assert cert.msal_credential() == {
        "private_key": cert.key_pem,
        "thumbprint": cert.sha1_thumbprint,
        "public_certificate": cert.cert_pem,
    }
