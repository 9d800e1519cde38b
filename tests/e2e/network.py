"""An agency network for the end-to-end suite: a CA made by the test (the "inspection CA") with a
server certificate for the hr emulator, and a real tinyproxy on a free loopback port that logs
every request it forwards."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import re
import shutil
import socket
import ssl
import tempfile
import time

from harness import Process, free_port, wait_for


class TestCa:
    """A CA and one server certificate (for ``localhost`` and ``127.0.0.1``) it signed, written
    as PEM files into ``directory``."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: pathlib.Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(tz=datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'hrconnector e2e agency inspection CA')])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        server = (x509.CertificateBuilder()
                  .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'hr emulator')]))
                  .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - datetime.timedelta(minutes=5))
                  .not_valid_after(now + datetime.timedelta(days=1))
                  .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                              x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                                 critical=False)
                  .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                  .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                  .sign(ca_key, hashes.SHA256()))
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / 'agency-ca.pem'
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file = directory / 'emulator.crt'
        self.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        self.key_file = directory / 'emulator.key'
        self.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))

    def emulator_args(self) -> list[str]:
        return ['--tls-cert-file', str(self.cert_file), '--tls-key-file', str(self.key_file)]

    def ssl_context(self) -> ssl.SSLContext:
        """What the test's own requests to the emulator trust: this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _tinyproxy_binary() -> str:
    for path in ('/usr/bin/tinyproxy', '/usr/sbin/tinyproxy'):
        if os.path.exists(path):
            return path
    raise AssertionError('tinyproxy is needed: scripts/install-test-tools.sh installs it (apt-get install tinyproxy)')


class Tinyproxy:
    """tinyproxy on a free loopback port, allowed to CONNECT to ``connect_port`` only, logging
    every request (as tests/common/proxy.rs starts it for the CLI tests)."""

    def __init__(self, log_dir: pathlib.Path, connect_port: int):
        # tinyproxy started as root drops to `nobody`, who must be able to reach and write its
        # log: not under pytest's tmp_path, whose parents are private to root.
        directory = pathlib.Path(tempfile.mkdtemp(prefix='hrconnector-e2e-tinyproxy-'))
        directory.chmod(0o777)
        self._directory = directory
        self.port = free_port()
        self.log_path = directory / 'tinyproxy.log'
        conf = directory / 'tinyproxy.conf'
        user = 'User nobody\nGroup nogroup\n' if os.geteuid() == 0 else ''
        conf.write_text(f'{user}Port {self.port}\nListen 127.0.0.1\nTimeout 60\nLogFile "{self.log_path}"\n'
                        f'LogLevel Info\nMaxClients 40\nAllow 127.0.0.1\nConnectPort {connect_port}\n')
        self.process = Process('tinyproxy', [_tinyproxy_binary(), '-d', '-c', str(conf)], log_dir)
        wait_for('tinyproxy to listen', self._listening, timeout=10, context=self.process.tail)
        self.url = f'http://127.0.0.1:{self.port}'

    def _listening(self) -> bool:
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=1):
                return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors='replace') if self.log_path.exists() else ''

    def requests(self) -> list[str]:
        """Every request line tinyproxy received, in order (``CONNECT host:port HTTP/1.1``,
        ``GET http://… HTTP/1.1``)."""
        return re.findall(r'Request \(file descriptor \d+\): (.+)$', self.log(), flags=re.MULTILINE)

    def connects(self) -> list[str]:
        """The targets (``host:port``) of its CONNECT requests, in order."""
        return [r.split()[1] for r in self.requests() if r.startswith('CONNECT ')]

    def stop(self) -> None:
        self.process.stop()
        if self.log_path.exists():  # kept beside the other logs of the test
            shutil.copy(self.log_path, self.process.log_path.with_name('tinyproxy-requests.log'))
        shutil.rmtree(self._directory, ignore_errors=True)


def wait_for_requests(proxy: Tinyproxy, count: int, timeout: float = 10) -> list[str]:
    """tinyproxy writes its log a moment after it forwards: wait until ``count`` lines are there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(proxy.requests()) < count:
        time.sleep(0.1)
    return proxy.requests()
