"""A slow endpoint delays only its own job (issue 18, finding 4): object-source pre-flight checks run
in the background with a deadline, in-process runs have an overall deadline (spec.runTimeout), and
upload slots have a per-namespace share."""

from __future__ import annotations

import pathlib
import socket
import threading
import time
import types
from typing import Any, Iterator

import pytest

from harness import CRD_FILE, REPO, Kubectl, Operator, condition, csv_text, wait_for
from test_operator import Scenario

SAMPLE_CSV = (REPO / 'examples' / 'employee_termination_data.csv').read_text()
RUN_NOW = 'hrconnector.io/run-now'
SERVICE_ACCOUNT = 'hr-reader'


class SilentServer:
    """A loopback TCP server that accepts every connection and never answers (a dead STS behind
    a load balancer that still accepts connections)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f'http://127.0.0.1:{self.port}'
        self.accepted: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # kept open, never read from or written to

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _allow(*urls: str) -> dict[str, str]:
    return {'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': ','.join(urls)}


def _ready(obj: dict[str, Any] | None) -> dict[str, Any]:
    return condition(obj, 'Ready') or {}


def test_six_stalled_sts_endpoints_do_not_hold_back_a_plain_job(cluster, namespace, hr_emulator, app, operators,
                                                               log_dir):
    """Six S3 jobs whose (allowed) STS endpoint accepts and never answers; a ConfigMap job applied
    afterwards still runs and goes Ready within seconds, while the six say Checking, then
    SourceUnreachable naming the STS endpoint and its field once the pre-flight deadline (15 s)
    passes."""
    silent = SilentServer()
    k = cluster.kubectl
    try:
        s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='plain')
        k.apply(s.secret(), {'apiVersion': 'v1', 'kind': 'ServiceAccount',
                             'metadata': {'name': SERVICE_ACCOUNT, 'namespace': namespace}})
        stalled = [f'stalled-{i}' for i in range(6)]
        for name in stalled:
            k.apply(s.job(source={'s3': {
                'bucket': 'hr-bucket', 'key': 'leavers.csv', 'region': 'us-gov-west-1', 'endpoint': silent.url,
                'credentials': {'webIdentity': {'serviceAccountName': SERVICE_ACCOUNT,
                                                'roleArn': 'arn:aws-us-gov:iam::123456789012:role/hr-reader',
                                                'stsEndpoint': silent.url}}}}) | {
                'metadata': {'name': name, 'namespace': namespace}})
        # The deadline leaves time for the plain job to run while the six are still stalled.
        deadline = 15
        op = Operator('operator', log_dir, cluster.kubeconfig, namespace,
                      ['--preflight-timeout-seconds', str(deadline)], env=_allow(hr_emulator.url, silent.url))
        operators.append(op)
        operator_started = time.monotonic()

        def job(name: str) -> dict[str, Any] | None:
            return k.get('hrconnectorjobs.hrconnector.io', name, namespace)

        def context() -> str:
            return '\n'.join(f'{n}: {_ready(job(n))}' for n in stalled + ['plain']) + '\n' + op.tail(40)

        def all_checking() -> bool:
            # One list per probe: twelve kubectl starts per probe outlasted the Checking window on a
            # loaded CI machine.
            jobs = k.list('hrconnectorjobs.hrconnector.io', namespace)
            return all((_ready(jobs.get(n)).get('status'), _ready(jobs.get(n)).get('reason')) == ('Unknown', 'Checking')
                       for n in stalled)

        # The six checks are under way (and stalled): each says so.
        wait_for('the six stalled jobs to say Ready=Unknown Checking', all_checking, timeout=20, context=context)

        # A plain job applied now runs at once (run-now in its manifest).
        started = time.monotonic()
        plain = s.job()
        plain['metadata']['annotations'] = {RUN_NOW: 'now-1'}
        k.apply(s.config_map(SAMPLE_CSV), plain)
        wait_for('the plain job to go Ready=True',
                 lambda: _ready(job('plain')).get('status') == 'True', timeout=30, context=context)
        took = time.monotonic() - started
        print(f'\nplain job Ready=True {took:.1f} s after apply, with six stalled STS endpoints')
        assert took < 10, f'the plain job took {took:.1f} s'
        assert time.monotonic() - operator_started < deadline, 'the six were still waiting for their deadline'
        assert len(silent.accepted) >= 1, 'the operator really called the silent STS endpoint'

        # The deadline passes: each stalled job names who did not answer, and the field.
        def unreachable():
            jobs = k.list('hrconnectorjobs.hrconnector.io', namespace)
            return all(_ready(jobs.get(n)).get('reason') == 'SourceUnreachable' for n in stalled)
        wait_for('the six to be SourceUnreachable', unreachable, timeout=30, context=context)
        for name in stalled:
            c = _ready(job(name))
            assert c['status'] == 'False'
            assert (f'no answer within {deadline} s from the STS endpoint {silent.url} '
                    '(spec.source.s3.credentials.webIdentity.stsEndpoint)') in c['message'], c['message']
        assert op.alive()
    finally:
        silent.close()


def test_run_timeout_stops_a_slow_run_after_its_last_acknowledged_chunk(cluster, namespace, hr_emulator, app,
                                                                        operators, log_dir):
    """spec.runTimeout 2s on a run of 20 chunks at 400 ms each: the run stops after the chunk in
    flight, Ready=False RunTimedOut with an Event, the checkpoint kept; the next run resumes."""
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='slow')
    total = 2000
    hr_emulator.set_upload_delay(400)
    s.apply(csv_text(total), recordsPerCall=100, runTimeout='2s')
    s.start_operator()
    started = time.monotonic()
    s.run_now()
    obj = s.wait_ready('False', 'RunTimedOut', timeout=30)
    took = time.monotonic() - started
    print(f'\nRunTimedOut {took:.1f} s after run-now (runTimeout 2s)')
    assert took < 10
    status = obj['status']
    acknowledged = status['checkpoint']['recordsAcknowledged']
    assert 0 < acknowledged < total, status['checkpoint']
    assert acknowledged % 100 == 0, 'whole chunks only'
    assert status['lastRun']['reason'] == 'RunTimedOut'
    assert 'spec.runTimeout (2s)' in _ready(obj)['message']
    assert 'currentRun' not in status or not status['currentRun']
    events = s.k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'json')
    assert '"RunTimedOut"' in events
    # The next run, with time enough, resumes after the checkpoint: every record once.
    hr_emulator.set_upload_delay(0)
    s.k.apply(s.job(recordsPerCall=100, runTimeout='1m'))
    s.run_now()
    obj = s.wait_ready('True', 'Succeeded', timeout=30)
    assert 'resumed after record' in _ready(obj)['message']
    received = [r[0] for r in hr_emulator.received(app['jobId'])['records']]
    assert len(set(received)) == total
    # At most the chunk in flight at the deadline was sent twice (acknowledged, not checkpointed).
    assert len(received) - total in (0, 100), len(received)


@pytest.fixture
def private_cluster(cluster, tmp_path: pathlib.Path) -> Iterator[Any]:
    """An API emulator of this test's own: an operator that watches every namespace must not see
    the jobs other tests of the session left behind (on a real cluster: the cluster's own)."""
    if cluster.api is None:
        pytest.skip('an operator of all namespaces would act on the real cluster\'s jobs')
    from kube_emulator import EmulatorThread, write_kubeconfig
    thread = EmulatorThread().start()
    kubeconfig = tmp_path / 'private-kubeconfig'
    write_kubeconfig(kubeconfig, thread.url)
    private = types.SimpleNamespace(kubeconfig=str(kubeconfig), kubectl=Kubectl(str(kubeconfig)), api=thread.emulator)
    private.kubectl.apply_file(CRD_FILE)
    try:
        yield private
    finally:
        thread.stop()


def test_a_namespace_over_its_upload_share_waits_and_another_namespace_does_not(private_cluster, hr_emulator, app,
                                                                                 operators, log_dir):
    """--max-concurrent-uploads 2 --max-concurrent-uploads-per-namespace 1, two slow jobs in
    namespace A and one in B: B's job runs alongside A's first while A's second waits (no
    currentRun, no failure), then runs once A's first is done."""
    cluster = private_cluster
    namespace, other = 'team-a', 'team-b'
    k = cluster.kubectl
    for ns in (namespace, other):
        k.apply({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}})
    hr_emulator.set_upload_delay(300)
    csv = csv_text(1000)
    jobs = [(namespace, 'a1'), (namespace, 'a2'), (other, 'b1')]
    for ns, name in jobs:
        s = Scenario(cluster, ns, hr_emulator, app, operators, log_dir, name=name)
        s.apply(csv, recordsPerCall=100)
    # One operator for both namespaces: the share is per process.
    op = Operator('operator', log_dir, cluster.kubeconfig, namespace, exact_args=[
        'controller', '--identity', 'operator', '--request-timeout-seconds', '30', '--max-attempts', '3',
        '--metrics-bind-address', '127.0.0.1:0', '--max-concurrent-uploads', '2',
        '--max-concurrent-uploads-per-namespace', '1'],
        env={'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': hr_emulator.url})
    operators.append(op)

    def get(ns: str, name: str) -> dict[str, Any]:
        return k.get('hrconnectorjobs.hrconnector.io', name, ns) or {}

    def running(ns: str, name: str) -> bool:
        return bool((get(ns, name).get('status') or {}).get('currentRun'))

    def context() -> str:
        return '\n'.join(f'{ns}/{n}: {(get(ns, n).get("status") or {}).get("currentRun")} {_ready(get(ns, n))}'
                         for ns, n in jobs) + '\n' + op.tail(40)

    for ns, name in jobs:
        k.annotate('hrconnectorjobs.hrconnector.io', name, ns, RUN_NOW, 'share-1')
    # Whichever of A's jobs got A's slot, B's job runs beside it and A's other one waits.
    first = wait_for('one of A\'s jobs and B\'s job to run together',
                     lambda: next((n for n in ('a1', 'a2') if running(namespace, n)), None)
                     if running(other, 'b1') else None, timeout=20, context=context)
    second = 'a2' if first == 'a1' else 'a1'
    assert not running(namespace, second), f'{second} holds no slot while {first} runs'
    # No failure while it waits: Ready is not False.
    assert _ready(get(namespace, second)).get('status') != 'False'
    wait_for('every job to succeed', lambda: all(_ready(get(ns, n)).get('reason') == 'Succeeded' for ns, n in jobs),
             timeout=40, context=context)
    first_done = get(namespace, first)['status']['lastRun']['completionTime']
    second_started = get(namespace, second)['status']['lastRun']['startTime']
    assert second_started >= first_done[:19], (first_done, second_started)
    assert hr_emulator.stats()['max_concurrent_uploads'] <= 2
