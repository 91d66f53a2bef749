"""TLS for every listener and every internal channel: which files, and how to make them.

A node is given ``--tls-cert/--tls-key/--tls-ca`` (``VECTRON_TLS_CERT`` ...).
Internal gRPC servers then require TLS, and mutual TLS when a CA is given (a
client must present a certificate the CA signed); the public REST and gRPC edges
serve TLS with the same certificate (clients verify it with the CA; they need no
certificate of their own). Internal channels trust the CA and present the node's
certificate.

:func:`generate_cluster_tls` makes a private CA and one node certificate (SAN
127.0.0.1, ::1 and localhost, good for serving and for client authentication) with
the ``cryptography`` package, for ``vectron cluster up --tls``. Keys are written
mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import grpc

__all__ = ["TlsFiles", "TLS_CERT_ENV", "TLS_KEY_ENV", "TLS_CA_ENV", "generate_cluster_tls", "export_tls", "uvicorn_tls"]

TLS_CERT_ENV = "VECTRON_TLS_CERT"
TLS_KEY_ENV = "VECTRON_TLS_KEY"
TLS_CA_ENV = "VECTRON_TLS_CA"
CERT_DAYS = 825


def _read(path: str | None) -> bytes | None:
    return pathlib.Path(path).read_bytes() if path else None


@dataclass(frozen=True)
class TlsFiles:
    """Paths of a node's certificate, its key, and the CA that signs the cluster's
    certificates (optional: without it no client certificate is asked for)."""

    cert: str
    key: str
    ca: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TlsFiles | None:
        env = os.environ if environ is None else environ
        cert, key = env.get(TLS_CERT_ENV), env.get(TLS_KEY_ENV)
        return cls(cert, key, env.get(TLS_CA_ENV) or None) if cert and key else None

    def check(self) -> None:
        """OSError naming the first file that cannot be read."""
        for path in (self.cert, self.key, self.ca):
            if path and not os.access(path, os.R_OK):
                raise OSError(f"cannot read TLS file {path}")

    def server_credentials(self, *, client_auth: bool) -> grpc.ServerCredentials:
        """TLS for a gRPC server; with ``client_auth`` and a CA, mutual TLS."""
        require = client_auth and self.ca is not None
        return grpc.ssl_server_credentials(
            [(_read(self.key), _read(self.cert))], root_certificates=_read(self.ca) if require else None,
            require_client_auth=require,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """TLS for an internal channel: trust the CA, present this node's certificate."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca), private_key=_read(self.key), certificate_chain=_read(self.cert)
        )



def uvicorn_tls() -> dict[str, Any]:
    """uvicorn's TLS options for the process's TLS files (empty without them)."""
    tls = TlsFiles.from_env()
    return {"ssl_certfile": tls.cert, "ssl_keyfile": tls.key} if tls is not None else {}


def export_tls(tls: TlsFiles) -> None:
    """Make ``tls`` the files this process's servers and channels use."""
    os.environ[TLS_CERT_ENV] = tls.cert
    os.environ[TLS_KEY_ENV] = tls.key
    if tls.ca:
        os.environ[TLS_CA_ENV] = tls.ca


def _write_private(path: pathlib.Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def generate_cluster_tls(folder: str | os.PathLike[str], hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")) -> TlsFiles:
    """A private CA (``ca.pem``, its key ``ca.key``) and a node certificate
    (``node.pem``/``node.key``) for ``hosts`` in ``folder``; kept if already there."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = pathlib.Path(folder)
    files = TlsFiles(str(out / "node.pem"), str(out / "node.key"), str(out / "ca.pem"))
    if all(os.path.exists(p) for p in (files.cert, files.key, files.ca)):
        return files
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=CERT_DAYS))

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vectron cluster CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    node_key = ec.generate_private_key(ec.SECP256R1())
    node_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vectron node")]))
        .issuer_name(ca_name).public_key(node_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(out / "ca.key", pem_key(ca_key))
    _write_private(pathlib.Path(files.ca), ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pathlib.Path(files.key), pem_key(node_key))
    _write_private(pathlib.Path(files.cert), node_cert.public_bytes(serialization.Encoding.PEM))
    return files
