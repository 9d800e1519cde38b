"""A real OpenSSH sshd (Debian's openssh-server, installed by scripts/install-test-tools.sh) on a
free loopback port, for the SFTP jobs: a host key and a client key made by ssh-keygen here,
`Subsystem sftp internal-sftp`, key login for the user running the tests (root, as in CI)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time

from harness import free_port

SSHD = '/usr/sbin/sshd'


def keygen(path: pathlib.Path) -> None:
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'hrconnector-e2e', '-f', str(path)],
                   check=True)


class Sshd:
    def __init__(self, root: pathlib.Path):
        assert pathlib.Path(SSHD).exists(), f'{SSHD} is missing: scripts/install-test-tools.sh installs openssh-server'
        assert os.geteuid() == 0, 'the SFTP tests start sshd, which must run as root (CI does)'
        os.makedirs('/run/sshd', exist_ok=True)
        self.root = root
        self.files = root / 'files'
        self.files.mkdir(parents=True)
        for d in (root, self.files):
            d.chmod(0o755)
        keygen(root / 'host_key')
        keygen(root / 'client_key')
        (root / 'authorized_keys').write_text((root / 'client_key.pub').read_text())
        self.user = subprocess.run(['id', '-un'], capture_output=True, text=True, check=True).stdout.strip()
        self.client_key = (root / 'client_key').read_text()
        self.log = root / 'sshd.log'
        kind, key = (root / 'host_key.pub').read_text().split()[:2]
        for _ in range(5):
            self.port = free_port()
            config = root / 'sshd_config'
            config.write_text(
                f'Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\nPidFile {root}/sshd.pid\n'
                f'AuthorizedKeysFile {root}/authorized_keys\nStrictModes no\nUsePAM no\n'
                f'PermitRootLogin prohibit-password\nPasswordAuthentication no\nAllowUsers {self.user}\n'
                f'Subsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100\n')
            self.proc = subprocess.Popen([SSHD, '-D', '-f', str(config), '-E', str(self.log)],
                                         stdin=subprocess.DEVNULL)
            if self._listening():
                break
        else:
            raise AssertionError(f'sshd did not start: {self.log.read_text() if self.log.exists() else ""}')
        self.known_hosts = f'[127.0.0.1]:{self.port} {kind} {key}\n'
        self.prefix = f'sftp://127.0.0.1:{self.port}/'

    def _listening(self) -> bool:
        for _ in range(200):
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f'sshd did not listen on {self.port}')

    def put(self, name: str, text: str, age_s: float = 0) -> pathlib.Path:
        path = self.files / name
        path.write_text(text)
        path.chmod(0o644)
        when = time.time() - age_s
        os.utime(path, (when, when))
        return path

    def logins(self) -> int:
        text = self.log.read_text() if self.log.exists() else ''
        return sum(1 for line in text.splitlines() if line.startswith('Accepted publickey for'))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
