"""A throwaway local certificate authority: the sandbox's TLS certificates and app client certificates."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=30)
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and its key, on disk and in memory. Thumbprints are lowercase hex."""

    cert_path: Path
    key_path: Path
    cert_pem: str
    key_pem: str
    sha1_thumbprint: str
    sha256_thumbprint: str

    def msal_credential(self) -> dict[str, str]:
        """The `client_credential` MSAL takes for this certificate (SHA-1 thumbprint, RS256 assertions)."""
        return {
            "private_key": self.key_pem,
            "thumbprint": self.sha1_thumbprint,
            "public_certificate": self.cert_pem,
        }


class SandboxCA:
    """A root CA in `directory` (`ca.pem`) and a loopback server certificate (`server.pem`, `server.key`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-auth-bot sandbox CA")])
        now = datetime.now(UTC)
        public = self._key.public_key()
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = self.directory / "ca.pem"
        self.ca_path.write_text(_cert_pem(self._cert))
        server = self.issue_server_cert("server", SERVER_NAMES)
        self.server_cert_path = server.cert_path
        self.server_key_path = server.key_path

    def issue_server_cert(
        self,
        stem: str,
        names: tuple[str, ...] | list[str],
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCert:
        """A TLS server certificate (EC P-256) for `names` (DNS names or IP addresses), signed by this CA.

        Pass a window in the past for an expired certificate, or other names for a host-name mismatch.
        Writes `{stem}.pem` (leaf then CA) and `{stem}.key`.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            self._builder(
                names[0],
                key.public_key(),
                not_before or now - timedelta(hours=1),
                not_after or now + VALIDITY,
            )
            .issuer_name(self._cert.subject)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        return self._write(stem, cert, key, chain=_cert_pem(self._cert))

    def issue_client_cert(self, stem: str, common_name: str = "smtp-auth-bot") -> IssuedCert:
        """A self-signed RSA 2048 certificate for an app registration's certificate credential."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        cert = (
            self._builder(common_name, key.public_key(), now - timedelta(hours=1), now + VALIDITY)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .sign(key, hashes.SHA256())
        )
        return self._write(stem, cert, key, chain="")

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the sandbox server certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert_path, self.server_key_path)
        return context

    @staticmethod
    def _builder(
        common_name: str,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        start: datetime,
        end: datetime,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def _write(
        self,
        stem: str,
        cert: x509.Certificate,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        chain: str,
    ) -> IssuedCert:
        cert_pem = _cert_pem(cert)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        cert_path.write_text(cert_pem + chain)
        key_path.touch(mode=0o600)
        key_path.write_text(key_pem)
        return IssuedCert(
            cert_path=cert_path,
            key_path=key_path,
            cert_pem=cert_pem,
            key_pem=key_pem,
            sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex(),
            sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
        )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
