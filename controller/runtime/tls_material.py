"""L7 a private certificate authority and one broker certificate, for `citypulse bus init --tls`.

RFC 5280 profile, ECDSA P-256 with SHA-256 (what mosquitto's OpenSSL and Python's `ssl`
accept everywhere):
- the CA: self-signed, basicConstraints CA (critical, path length 0), keyUsage keyCertSign
  and cRLSign, a subject key identifier. Its private key is used once and never written:
  renewing means running `bus init --force` again, so no file can mint more certificates.
- the server: subjectAltName for every name the clients use (IP addresses as iPAddress,
  names as dNSName; RFC 6125 checks only the SAN), extendedKeyUsage serverAuth, and
  subject/authority key identifiers (required by strict verifiers such as Python 3.13's
  default `VERIFY_X509_STRICT`).
Validity starts an hour before `now` (hosts whose clocks lag) and lasts `days`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsMaterial", "make_tls"]

BACKDATE_S = 3600.0


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """PEM bytes: the CA certificate (for clients), the broker's certificate and key."""

    ca_cert: bytes
    server_cert: bytes
    server_key: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "citypulse"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),  # RFC 5280: ub-common-name
        ]
    )


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_tls(hosts: Sequence[str], *, show_id: str, now: float, days: int = 730) -> TlsMaterial:
    """A fresh CA and a certificate for the broker reachable as each of `hosts`."""
    if not hosts:
        raise ValueError("make_tls needs at least one host name")
    start = dt.datetime.fromtimestamp(now - BACKDATE_S, tz=dt.UTC)
    end = dt.datetime.fromtimestamp(now + days * 86400.0, tz=dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"citypulse {show_id} CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    unique = list(dict.fromkeys(hosts))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(unique[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_alt_name(h) for h in unique]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return TlsMaterial(
        ca_cert=ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert=cert.public_bytes(serialization.Encoding.PEM),
        server_key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
