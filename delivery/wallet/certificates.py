"""The certificates Apple passes are signed with: the configured ones, or a development chain."""

import contextlib
import functools
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from delivery.config import DeliverySettings

DEVELOPMENT_PREFIX = "Engage Development"
# Files of the development chain, under <data_dir>/wallet/dev/apple.
ROOT_CERTIFICATE = "root.pem"
ROOT_KEY = "root.key"
WWDR_CERTIFICATE = "wwdr.pem"
PASS_CERTIFICATE = "pass.pem"  # noqa: S105 (a file name)
PASS_KEY = "pass.key"  # noqa: S105 (a file name)
_VALID_FOR = timedelta(days=3650)


@dataclass(frozen=True)
class SigningChain:
    """What signs a pass and authenticates to APNs."""

    certificate: x509.Certificate
    key: PrivateKeyTypes
    wwdr: x509.Certificate
    certificate_file: Path
    key_file: Path
    key_password: str
    # The development root that verifies the chain; None for Apple's own chain.
    root_file: Path | None
    development: bool


def development_directory(data_dir: Path) -> Path:
    return data_dir / "wallet" / "dev" / "apple"


def _name(common_name: str, unit: str = "") -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{DEVELOPMENT_PREFIX} (not Apple)"),
    ]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name(parts)


def _certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    extended_usage: list[x509.ObjectIdentifier] | None = None,
    dns_names: list[str] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if extended_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_usage), critical=False)
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_development_chain(directory: Path, pass_type_id: str, team_id: str) -> None:
    root_key, wwdr_key, pass_key = _new_key(), _new_key(), _new_key()
    root_name = _name(f"{DEVELOPMENT_PREFIX} Root CA")
    root = _certificate(root_name, root_key.public_key(), root_name, root_key, ca=True)
    wwdr_name = _name(f"{DEVELOPMENT_PREFIX} WWDR Intermediate", "G4")
    wwdr = _certificate(wwdr_name, wwdr_key.public_key(), root_name, root_key, ca=True)
    pass_name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_id),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{DEVELOPMENT_PREFIX} Pass Type ID: {pass_type_id}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{DEVELOPMENT_PREFIX} (not Apple)"),
        ]
    )
    certificate = _certificate(
        pass_name,
        pass_key.public_key(),
        wwdr_name,
        wwdr_key,
        ca=False,
        extended_usage=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    (directory / ROOT_CERTIFICATE).write_bytes(_pem(root))
    (directory / ROOT_KEY).write_bytes(_key_pem(root_key))
    (directory / WWDR_CERTIFICATE).write_bytes(_pem(wwdr))
    (directory / PASS_CERTIFICATE).write_bytes(_pem(certificate))
    (directory / PASS_KEY).write_bytes(_key_pem(pass_key))
    for secret in (ROOT_KEY, PASS_KEY):
        (directory / secret).chmod(0o600)


def ensure_development_chain(data_dir: Path, pass_type_id: str, team_id: str) -> Path:
    """Makes the chain once; processes starting together race to rename a finished directory
    into place, and the losers use the winner's."""
    directory = development_directory(data_dir)
    if (directory / PASS_KEY).exists():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".apple-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        _write_development_chain(staging, pass_type_id, team_id)
        with contextlib.suppress(OSError):
            # Atomic; fails when another process put its chain there first.
            os.rename(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def issue_server_certificate(chain_directory: Path, host: str, target: Path) -> tuple[Path, Path]:
    """A TLS server certificate from the development root, for local stand-ins (tests, bench)."""
    root = x509.load_pem_x509_certificate((chain_directory / ROOT_CERTIFICATE).read_bytes())
    root_key = serialization.load_pem_private_key(
        (chain_directory / ROOT_KEY).read_bytes(), password=None
    )
    assert isinstance(root_key, rsa.RSAPrivateKey)
    key = _new_key()
    certificate = _certificate(
        _name(f"{DEVELOPMENT_PREFIX} server {host}"),
        key.public_key(),
        root.subject,
        root_key,
        ca=False,
        extended_usage=[x509.oid.ExtendedKeyUsageOID.SERVER_AUTH],
        dns_names=[host],
    )
    target.mkdir(parents=True, exist_ok=True)
    certificate_file, key_file = target / f"{host}.pem", target / f"{host}.key"
    certificate_file.write_bytes(_pem(certificate))
    key_file.write_bytes(_key_pem(key))
    return certificate_file, key_file


_cache: dict[tuple[object, ...], SigningChain] = {}
_lock = threading.Lock()


def _load(
    certificate_file: Path,
    key_file: Path,
    password: str,
    wwdr_file: Path,
    root_file: Path | None,
    development: bool,
) -> SigningChain:
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    key = serialization.load_pem_private_key(
        key_file.read_bytes(), password=password.encode() if password else None
    )
    wwdr_bytes = wwdr_file.read_bytes()
    wwdr = (
        x509.load_pem_x509_certificate(wwdr_bytes)
        if b"-----BEGIN" in wwdr_bytes
        else x509.load_der_x509_certificate(wwdr_bytes)
    )
    return SigningChain(
        certificate=certificate,
        key=key,
        wwdr=wwdr,
        certificate_file=certificate_file,
        key_file=key_file,
        key_password=password,
        root_file=root_file,
        development=development,
    )


def _chain_key(settings: DeliverySettings) -> tuple[object, ...]:
    return (
        settings.apple_certificates_configured,
        settings.apple_pass_certificate,
        settings.apple_pass_key,
        settings.apple_wwdr_certificate,
        _resolved(settings.data_dir),
        settings.apple_pass_type_id,
    )


# Every pass download asks for the chain: resolving the folder each time cost system calls.
@functools.lru_cache(maxsize=64)
def _resolved(folder: Path) -> Path:
    return folder.resolve()


def loaded_signing_chain(settings: DeliverySettings) -> SigningChain | None:
    """The chain when this process has loaded it already: no file is read, so an event loop
    may call it."""
    with _lock:
        return _cache.get(_chain_key(settings))


def signing_chain(settings: DeliverySettings) -> SigningChain:
    """The configured chain, or the development one; loaded once per process and settings."""
    configured = settings.apple_certificates_configured
    cache_key = _chain_key(settings)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        if configured:
            assert settings.apple_pass_certificate and settings.apple_pass_key
            assert settings.apple_wwdr_certificate
            chain = _load(
                settings.apple_pass_certificate,
                settings.apple_pass_key,
                settings.apple_pass_key_password,
                settings.apple_wwdr_certificate,
                None,
                development=False,
            )
        else:
            directory = ensure_development_chain(
                settings.data_dir, settings.apple_pass_type_id, settings.apple_team_id
            )
            chain = _load(
                directory / PASS_CERTIFICATE,
                directory / PASS_KEY,
                "",
                directory / WWDR_CERTIFICATE,
                directory / ROOT_CERTIFICATE,
                development=True,
            )
        _cache[cache_key] = chain
        return chain
