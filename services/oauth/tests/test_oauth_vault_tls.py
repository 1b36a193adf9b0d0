"""TLS to Vault is always verified against VAULT_CACERT (seed 003 switched it off)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from keybuzz_devstack import infra
from keybuzz_shared.vault import VaultClient, VaultUnavailable

ROOT_TOKEN = "tls-test-root"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, ip: str | None = None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _write_pem(path: Path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _make_ca(
    directory: Path, name: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(_name(name), _name(name), key.public_key(), key, ca=True)
    return cert, key, _write_pem(directory / f"{name}.pem", cert)


@pytest.fixture
def tls_vault(tmp_path: Path, infra_root: Path):
    """OpenBao serving TLS with a certificate from a CA made here; yields (url, ca, other ca)."""
    ca_cert, ca_key, ca_file = _make_ca(tmp_path, "keybuzz-test-ca")
    _, _, other_ca_file = _make_ca(tmp_path, "unrelated-ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(
        _name("127.0.0.1"),
        ca_cert.subject,
        server_key.public_key(),
        ca_key,
        ca=False,
        ip="127.0.0.1",
    )
    cert_file = _write_pem(tmp_path / "server.pem", server_cert)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls_port = infra.free_port()
    config = tmp_path / "tls.hcl"
    config.write_text(
        f'listener "tcp" {{\n  address = "127.0.0.1:{tls_port}"\n'
        f'  tls_cert_file = "{cert_file}"\n  tls_key_file = "{key_file}"\n}}\n'
    )
    spec = infra.openbao_spec(infra.free_port(), root_token=ROOT_TOKEN)
    spec.command.append(f"-config={config}")  # dev mode plus our TLS listener
    server = infra.RunningServer(spec, infra_root / "openbao-tls.log").start(timeout=30)
    try:
        yield f"https://127.0.0.1:{tls_port}", ca_file, other_ca_file
    finally:
        server.stop()


async def test_vault_client_rejects_a_certificate_not_signed_by_vault_cacert(tls_vault):
    url, ca_file, other_ca_file = tls_vault

    wrong = VaultClient(url, token=ROOT_TOKEN, cacert=other_ca_file)
    with pytest.raises(VaultUnavailable, match="TLS"):
        await wrong.write("secret/keybuzz/tls-probe", {"ok": "1"})
    assert await wrong.is_ready() is False
    system_cas = VaultClient(url, token=ROOT_TOKEN)  # no VAULT_CACERT: the system CAs
    with pytest.raises(VaultUnavailable, match="TLS"):
        await system_cas.read("secret/keybuzz/tls-probe")

    right = VaultClient(url, token=ROOT_TOKEN, cacert=ca_file)
    await right.write("secret/keybuzz/tls-probe", {"ok": "1"})
    assert await right.read("secret/keybuzz/tls-probe") == {"ok": "1"}
    assert await right.is_ready() is True
