"""A throwaway certificate authority and one server certificate, for the local secure broker and store.

Clients keep hostname verification on: the server certificate names
``DNS:localhost`` and ``IP:127.0.0.1`` (what the local services listen on),
and clients trust only ``ca.pem``. Files in ``directory``::

    ca.pem            the CA certificate: what clients trust (TOUCHLINE_KAFKA_SSL_CAFILE, ..._CLICKHOUSE_CA_FILE)
    server.crt        the server certificate followed by the CA certificate (the chain)
    server.key        the server's private key, PKCS#8, unencrypted, mode 0600
    server-keystore.pem   server.key + server.crt in one file (Kafka's ``ssl.keystore.type=PEM``)

The CA's private key is never written: nothing else can be signed with it.
Needs the ``cryptography`` package (the ``test`` extra).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from infra.exceptions import StackError

DEFAULT_DNS = ("localhost",)
DEFAULT_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class LocalCerts:
    ca_file: Path
    cert_file: Path
    key_file: Path
    keystore_pem: Path


def _paths(directory: Path) -> LocalCerts:
    return LocalCerts(directory / "ca.pem", directory / "server.crt", directory / "server.key",
                      directory / "server-keystore.pem")


def _still_valid(certs: LocalCerts, min_days: float) -> bool:
    """Reuse files from an earlier start (clients may hold ca.pem) unless they expire soon."""
    from cryptography import x509

    if not all(p.exists() for p in (certs.ca_file, certs.cert_file, certs.key_file, certs.keystore_pem)):
        return False
    try:
        leaf = x509.load_pem_x509_certificate(certs.cert_file.read_bytes())
    except ValueError:
        return False
    left = leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return left > dt.timedelta(days=min_days)


def ensure_local_certs(directory: Path, *, dns: tuple[str, ...] = DEFAULT_DNS, ips: tuple[str, ...] = DEFAULT_IPS,
                       days: int = 365) -> LocalCerts:
    """The CA and server certificate in ``directory``, made on first use (EC P-256, ``days`` valid)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise StackError("TLS for the local broker/store needs the `cryptography` package: "
                         "pip install -e '.[test]'") from None
    directory = Path(directory)
    certs = _paths(directory)
    if _still_valid(certs, min_days=1):
        return certs
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate a little clock skew
    until = now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Touchline local CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Touchline (local, not for production)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else ips[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    chain = cert.public_bytes(pem) + ca_cert.public_bytes(pem)
    _write(certs.key_file, key_pem, secret=True)
    _write(certs.keystore_pem, key_pem + chain, secret=True)
    _write(certs.cert_file, chain)
    _write(certs.ca_file, ca_cert.public_bytes(pem))  # last: its presence marks a complete set
    return certs


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
