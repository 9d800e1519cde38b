"""HrConnectorJobs whose CSV is dropped on an SFTP server (spec.source.sftp), as SuccessFactors'
Integration Center drops one: the real operator logs in to a real OpenSSH sshd with a key from a
Secret, checks the host key against known hosts from a ConfigMap, takes the newest dated file of
a pattern and uploads it; a host no --allow-endpoint-prefix names is refused before anything is
sent, and a server presenting another host key is refused before login."""

from __future__ import annotations

import collections
import hashlib
import json
from typing import Any, Iterator

import pytest

from harness import csv_text
from sshd import Sshd, keygen
from test_operator import Scenario, emails


@pytest.fixture
def sshd(tmp_path) -> Iterator[Sshd]:
    server = Sshd(tmp_path / 'sshd')
    yield server
    server.stop()


class SftpScenario(Scenario):
    """A job whose source is a file on the SFTP server, its key in a Secret and the known hosts in
    a ConfigMap."""

    def __init__(self, *args, sshd: Sshd, host: str = '127.0.0.1', allowed: list[str] | None = None,
                 known_hosts: str | None = None, **kw):
        super().__init__(*args, **kw)
        self.sshd, self.host = sshd, host
        self.allowed = [sshd.prefix] if allowed is None else allowed
        self.known = sshd.known_hosts if known_hosts is None else known_hosts

    def allowed_urls(self) -> list[str]:
        return self.allowed

    def apply_sftp_job(self, path: str, **spec: Any) -> None:
        key_secret = {'apiVersion': 'v1', 'kind': 'Secret',
                      'metadata': {'name': f'{self.name}-ssh', 'namespace': self.ns},
                      'type': 'Opaque', 'stringData': {'privateKey': self.sshd.client_key}}
        known = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': f'{self.name}-known', 'namespace': self.ns},
                 'data': {'known_hosts': self.known}}
        source = {'sftp': {'host': self.host, 'port': self.sshd.port, 'user': self.sshd.user,
                           'path': str(self.sshd.files / path),
                           'credentials': {'secretRef': {'name': f'{self.name}-ssh'}},
                           'knownHosts': {'configMap': {'name': f'{self.name}-known', 'key': 'known_hosts'}}}}
        self.k.apply(self.secret(), key_secret, known, self.job(source=source, **spec))


def status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get('status') or {}


def ready_message(obj: dict[str, Any]) -> str:
    return next(c for c in status(obj)['conditions'] if c['type'] == 'Ready')['message']


def test_a_successfactors_drop_goes_ready_and_the_newest_file_is_uploaded(cluster, namespace, hr_emulator, app,
                                                                          operators, log_dir, sshd):
    sshd.put('terminations_2026-11-30.csv', csv_text(300, prefix='old'), age_s=2 * 86400)
    newest = sshd.put('terminations_2026-12-01.csv', csv_text(900, prefix='sf'), age_s=86400)
    sshd.put('terminations_2026-11-29.csv', csv_text(200, prefix='older'), age_s=3 * 86400)
    s = SftpScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='sfdrop', sshd=sshd)
    s.apply_sftp_job('terminations_*.csv', recordsPerCall=400)
    s.start_operator()
    obj = s.wait('the checked drop in status', lambda o: (status(o).get('source') or {}).get('sha256'))
    seen = status(obj)['source']
    assert seen['chosen'] == str(newest), seen
    assert seen['sha256'] == hashlib.sha256(newest.read_bytes()).hexdigest(), seen
    assert seen['size'] == newest.stat().st_size, seen
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == 900)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == 900 and set(counts.values()) == {1}
    assert all(e.startswith('sf') for e in counts), 'only the newest drop was sent'
    assert 'PRIVATE KEY' not in json.dumps(s.get())
    s.assert_running()


def test_an_unlisted_host_and_another_host_key_are_refused_before_login(cluster, namespace, hr_emulator, app,
                                                                        operators, log_dir, sshd, tmp_path):
    sshd.put('terminations.csv', csv_text(10))
    # The same server by a name no --allow-endpoint-prefix allows: nothing connects.
    s = SftpScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='sfunlisted', sshd=sshd,
                     host='localhost')
    s.apply_sftp_job('terminations.csv')
    s.start_operator()
    obj = s.wait_ready('False', 'EndpointNotAllowed')
    assert 'spec.source.sftp.host' in ready_message(obj), ready_message(obj)
    assert sshd.logins() == 0

    # Known hosts that list another key for the server: refused in the handshake, before login.
    keygen(tmp_path / 'impostor')
    kind, key = (tmp_path / 'impostor.pub').read_text().split()[:2]
    other = SftpScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='sfimpostor', sshd=sshd,
                         known_hosts=f'[127.0.0.1]:{sshd.port} {kind} {key}\n')
    other.apply_sftp_job('terminations.csv')
    obj = other.wait_ready('False', 'HostKeyNotTrusted')
    message = ready_message(obj)
    assert 'the host key does not match' in message and 'SHA256:' in message, message
    assert sshd.logins() == 0
    s.assert_running()
