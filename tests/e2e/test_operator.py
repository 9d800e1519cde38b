"""The operator scenarios: the real ``hrconnector controller`` binary against the API (kmock or a
real cluster) and ``hrconnector emulator`` for Entra ID and the ingestion service."""

from __future__ import annotations

import collections
import hashlib
import json
import pathlib
import time
from typing import Any

import pytest

from harness import REPO, Operator, allow_emulator, brief_status, condition, count_records, csv_text, wait_for

SAMPLE_CSV = (REPO / 'examples' / 'employee_termination_data.csv').read_text()
RUN_NOW = 'hrconnector.io/run-now'


class Scenario:
    """One HrConnectorJob with its Secret and ConfigMap in the test's namespace."""

    def __init__(self, cluster, namespace: str, hr_emulator, app: dict[str, str], operators: list[Operator],
                 log_dir: pathlib.Path, name: str = 'payroll'):
        self.cluster, self.k, self.ns, self.emu, self.app = cluster, cluster.kubectl, namespace, hr_emulator, app
        self.operators, self.log_dir, self.name = operators, log_dir, name
        self.secret_name, self.cm_name = f'{name}-app', f'{name}-data'

    # ---- objects
    def secret(self, app_secret: str | None = None) -> dict[str, Any]:
        return {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': self.secret_name, 'namespace': self.ns},
                'type': 'Opaque',
                'stringData': {'tenantId': self.app['tenantId'], 'appId': self.app['appId'],
                               'appSecret': app_secret or self.app['appSecret']}}

    def config_map(self, csv: str) -> dict[str, Any]:
        return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': self.cm_name, 'namespace': self.ns},
                'data': {'data.csv': csv}}

    def job(self, **spec: Any) -> dict[str, Any]:
        return {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
                'metadata': {'name': self.name, 'namespace': self.ns},
                'spec': {'cloud': 'GCC', 'jobId': self.app['jobId'],
                         'credentials': {'secretRef': {'name': self.secret_name}},
                         'source': {'configMap': {'name': self.cm_name, 'key': 'data.csv'}},
                         'schedule': '0 3 * * *',
                         'endpoints': {'authorityUrl': self.emu.url, 'ingestionUrl': self.emu.url},
                         **spec}}

    def apply(self, csv: str, app_secret: str | None = None, big: bool = False, **spec: Any) -> None:
        if big:  # kubectl apply would copy 1 MB into the last-applied annotation (256 KiB limit)
            self.k.apply(self.secret(app_secret))
            self.k.create(self.config_map(csv))
            self.k.apply(self.job(**spec))
        else:
            self.k.apply(self.secret(app_secret), self.config_map(csv), self.job(**spec))

    # ---- operator
    def allowed_urls(self) -> list[str]:
        """URLs besides the hr emulator's the operator must allow (a store the test started)."""
        return []

    def start_operator(self, name: str = 'operator', extra_args: list[str] = (),
                       env: dict[str, str] | None = None) -> Operator:
        op = Operator(name, self.log_dir, self.cluster.kubeconfig, self.ns, list(extra_args),
                      env={**allow_emulator(self.emu, *self.allowed_urls()), **(env or {})})
        self.operators.append(op)
        return op

    def assert_running(self, *ops: Operator) -> None:
        for op in ops or self.operators:
            assert op.alive(), f'{op.name} exited\n{op.tail()}'

    def run_now(self) -> str:
        value = f'run-{time.time_ns()}'
        self.k.annotate('hrconnectorjobs.hrconnector.io', self.name, self.ns, RUN_NOW, value)
        return value

    # ---- observation
    def get(self) -> dict[str, Any] | None:
        return self.k.get('hrconnectorjobs.hrconnector.io', self.name, self.ns)

    def context(self) -> str:
        parts = [brief_status(self.get())]
        parts += [op.tail(30) for op in self.operators]
        parts.append(f'emulator stats: {self.emu.stats()}')
        return '\n'.join(parts)

    def wait(self, what: str, predicate, timeout: float = 30) -> dict[str, Any]:
        def probe():
            obj = self.get()
            return obj if obj is not None and predicate(obj) else None
        return wait_for(what, probe, timeout=timeout, context=self.context)

    def wait_ready(self, status: str, reason: str | None = None, timeout: float = 30, extra=lambda o: True):
        def pred(obj):
            c = condition(obj, 'Ready')
            return (c is not None and c.get('status') == status and (reason is None or c.get('reason') == reason)
                    and extra(obj))
        return self.wait(f'Ready={status}' + (f' reason={reason}' if reason else ''), pred, timeout)


def _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw) -> Scenario:
    return Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw)


def emails(received: dict[str, list[list[str]]]) -> list[str]:
    return [r[0] for r in received['records']]


def test_run_now_uploads_every_record(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    expected = count_records(SAMPLE_CSV)
    s.apply(SAMPLE_CSV)
    s.start_operator()
    s.run_now()
    obj = s.wait_ready('True', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == expected)
    assert obj['status']['recordsSaved'] == expected
    received = hr_emulator.received(app['jobId'])
    sent = [line.split(',')[0] for line in SAMPLE_CSV.strip().splitlines()[1:]]
    assert sorted(emails(received)) == sorted(sent)
    assert hr_emulator.stats()['upload_requests'] == 1
    # The run is visible as Events on the job (events.k8s.io/v1, what kube-runtime's Recorder writes).
    events = json.loads(s.k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'json'))['items']
    reasons = {e.get('reason') for e in events if (e.get('regarding') or {}).get('name') == s.name}
    assert reasons, f'no Events about the job: {events}'
    assert 'could not publish an Event' not in operators[0].log()
    assert operators[0].endpoint('/readyz') == (200, 'ok'), 'ready once the job watch has synced'
    print(f'\nEvents on the job: {sorted(reasons)}')
    s.assert_running()


def test_a_multi_scenario_job_uploads_every_record_and_counts_each_scenario(cluster, namespace, hr_emulator, app,
                                                                          operators, log_dir):
    csv = (REPO / 'tests' / 'fixtures' / 'csv' / 'multiple.csv').read_text()
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='mixed')
    s.apply(csv, scenario='Multiple', scenarioColumn='HRScenarios')
    s.start_operator()
    s.run_now()
    obj = s.wait_ready('True', 'Succeeded', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == 4)
    assert obj['status']['lastRun']['scenarios'] == {
        'Resignation': 1, 'JobLevelChange': 1, 'PerformanceReview': 1, 'PerformanceImprovementPlan': 1}
    received = hr_emulator.received(app['jobId'])
    assert sorted(emails(received)) == ['alexw@contoso.com', 'meganb@contoso.com', 'pilarp@contoso.com',
                                        'sarad@contoso.com']
    # The quoted remark with a line break arrived as one field.
    assert 'Met expectations\non every goal' in [r[4] for r in received['records']]
    # A row of an unknown scenario stops the next run before anything is sent.
    uploads = hr_emulator.stats()['upload_requests']
    s.k.apply(s.config_map(csv.replace('Job level change', 'Promotion')))
    obj = s.wait_ready('False', 'InvalidCsv')
    message = condition(obj, 'Ready')['message']
    assert 'record 2 (line 3), column HRScenarios: is not a known scenario' in message, message
    assert 'Promotion' not in str(obj['status']), 'HR data must not reach status'
    assert hr_emulator.stats()['upload_requests'] == uploads
    s.assert_running()


def test_invalid_csv_is_reported_without_a_run(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    expected = count_records(SAMPLE_CSV)
    s.apply(SAMPLE_CSV)
    s.start_operator()
    s.run_now()
    s.wait_ready('True', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == expected)
    uploads = hr_emulator.stats()['upload_requests']
    invalid = 'EmailAddress,TerminationDate,LastWorkingDate\nnot-an-email,yesterday,2024-01-01T00:00:00Z\n'
    s.k.apply(s.config_map(invalid))
    obj = s.wait_ready('False', 'InvalidCsv')
    assert 'not-an-email' not in str(obj['status']), 'HR data must not reach status'
    time.sleep(2)  # a run that was wrongly started would have uploaded by now
    assert hr_emulator.stats()['upload_requests'] == uploads
    s.assert_running()


def test_wrong_secret_fails_authentication_within_seconds(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    s.apply(SAMPLE_CSV, app_secret='definitely-wrong')
    s.start_operator()
    # Let the operator see the job before the clock starts (its start-up is not what we measure).
    s.wait('the operator to report on the job', lambda o: condition(o, 'Ready') is not None)
    started = time.monotonic()
    s.run_now()
    obj = s.wait_ready('False', 'AuthenticationFailed', timeout=30)
    elapsed = time.monotonic() - started
    print(f'\nAuthenticationFailed reported {elapsed:.2f} s after run-now')
    assert elapsed < 10, f'took {elapsed:.1f} s'
    assert 'definitely-wrong' not in str(obj), 'the secret must not reach the resource'
    assert hr_emulator.stats()['upload_requests'] == 0
    s.assert_running()


def test_killed_operator_resumes_from_the_status_checkpoint(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    records, per_call = 20_000, 1_000
    csv = csv_text(records, prefix='e')
    s.apply(csv, big=True, recordsPerCall=per_call)
    hr_emulator.set_upload_delay(400)  # 20 chunks: ~8 s of uploading
    first = s.start_operator('operator-1')
    s.run_now()
    s.wait('a few chunks to be checkpointed',
           lambda o: ((o.get('status') or {}).get('checkpoint') or {}).get('recordsAcknowledged', 0) >= 3 * per_call,
           timeout=60)
    first.kill()  # SIGKILL: no graceful checkpoint of the chunk in flight
    at_kill = len(hr_emulator.received(app['jobId'])['records'])
    checkpoint = s.get()['status']['checkpoint']['recordsAcknowledged']
    assert at_kill < records, 'the operator finished before it was killed: not a mid-upload kill'
    hr_emulator.set_upload_delay(0)
    second = s.start_operator('operator-2')
    s.wait_ready('True', timeout=90, extra=lambda o: (o.get('status') or {}).get('recordsSaved') == records)
    got = emails(hr_emulator.received(app['jobId']))
    counts = collections.Counter(got)
    missing = [i for i in range(records) if counts[f'e{i}@x.io'] == 0]
    assert not missing, f'{len(missing)} records never reached the service, e.g. rows {missing[:3]}'
    assert max(counts.values()) <= 2
    # At least once per chunk: only the chunk in flight at the kill may have been stored twice,
    # and then as a whole chunk (never a partial one, never two chunks).
    twice = sorted(int(e[1:].split('@')[0]) for e, n in counts.items() if n > 1)
    if twice:
        start = twice[0]
        assert start % per_call == 0 and twice == list(range(start, start + per_call)), twice[:5]
    assert len(got) == records + len(twice)
    print(f'\nkilled with {at_kill} records stored and {checkpoint} checkpointed; '
          f'{len(twice)} records sent twice (the chunk in flight at the kill)')
    assert 'run started' in second.log()
    s.assert_running(second)


def test_only_the_leader_uploads(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    expected = count_records(SAMPLE_CSV)
    s.apply(SAMPLE_CSV)
    args = ['--leader-election', '--lease-namespace', namespace, '--lease-name', 'hrconnector-e2e']
    a = s.start_operator('operator-a', args)
    b = s.start_operator('operator-b', args)
    wait_for('a leader to be elected', lambda: cluster.kubectl.get('lease', 'hrconnector-e2e', namespace),
             context=lambda: a.tail() + '\n' + b.tail())
    s.run_now()
    s.wait_ready('True', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == expected)
    time.sleep(2)  # give a wrongly active second operator time to run too
    assert hr_emulator.stats()['upload_requests'] == 1
    runners = [op.name for op in (a, b) if 'run started' in op.log()]
    assert len(runners) == 1, f'operators that ran the job: {runners}\n{a.tail()}\n{b.tail()}'
    lease = cluster.kubectl.get('lease', 'hrconnector-e2e', namespace)
    assert lease['spec']['holderIdentity'] == runners[0]
    # The other one is alive and campaigning, not crashed.
    s.assert_running(a, b)
    follower = b if runners[0] == a.name else a
    assert 'campaigning for leadership' in follower.log(), follower.tail()


def test_sigterm_checkpoints_releases_the_lease_and_the_standby_resumes(cluster, namespace, hr_emulator, app,
                                                                      operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    records, per_call = 6_000, 500
    s.apply(csv_text(records, prefix='t'), recordsPerCall=per_call)
    hr_emulator.set_upload_delay(300)  # 12 chunks: ~4 s of uploading
    lease = 'hrconnector-e2e-term'
    args = ['--leader-election', '--lease-namespace', namespace, '--lease-name', lease]
    first = s.start_operator('operator-1', args)
    wait_for('operator-1 to lead', lambda: 'acquired leadership' in first.log(), context=first.tail)
    second = s.start_operator('operator-2', args)
    s.run_now()
    s.wait('two chunks to be checkpointed',
           lambda o: ((o.get('status') or {}).get('checkpoint') or {}).get('recordsAcknowledged', 0) >= 2 * per_call)
    code = first.terminate()
    assert code == 0, f'exit code {code}\n{first.tail()}'
    # The chunk in flight finished and was checkpointed; the run is left for the next leader.
    status = s.get()['status']
    acknowledged = status['checkpoint']['recordsAcknowledged']
    stored = len(hr_emulator.received(app['jobId'])['records'])
    assert acknowledged == stored, f'checkpoint {acknowledged} vs {stored} records stored: a chunk was cut off'
    assert status.get('currentRun'), 'an interrupted run stays in status for the next leader'
    held = (cluster.kubectl.get('lease', lease, namespace) or {}).get('spec', {}).get('holderIdentity')
    assert held in (None, '', 'operator-2'), f'the lease is still held by {held}'
    hr_emulator.set_upload_delay(0)
    s.wait_ready('True', timeout=60, extra=lambda o: (o.get('status') or {}).get('recordsSaved') == records)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == records and max(counts.values()) == 1, 'a graceful stop sends every record once'
    assert 'trigger="Resume"' in second.log() or 'Resume' in second.log(), second.tail()
    s.assert_running(second)


def _chart_deployment(namespace: str) -> dict[str, Any]:
    """The operator's container as `helm template` renders it (Helm 4 fetched by
    scripts/check-deploy.sh), with two replicas (leader election) watching `namespace`."""
    import subprocess
    import yaml
    helm = next(iter(sorted((REPO / '.cache' / 'tools').glob('helm4-*/helm'))), None)
    assert helm is not None, 'no Helm in .cache/tools: run scripts/check-deploy.sh first (scripts/test.sh does)'
    rendered = subprocess.run([str(helm), 'template', 'hr', str(REPO / 'charts' / 'hrconnector'),
                               '--namespace', namespace, '--set', f'watchNamespaces={{{namespace}}}',
                               '--set', 'replicaCount=2'], check=True, capture_output=True, text=True).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d.get('kind') == 'Deployment')
    return deployment['spec']['template']['spec']['containers'][0]


def test_the_chart_rendered_deployment_arguments_run_the_job(cluster, namespace, hr_emulator, app, operators,
                                                               log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    container = _chart_deployment(namespace)
    # As rendered, but for the listen address: two processes on one machine cannot share :8080.
    args = [a if not a.startswith('--metrics-bind-address=') else '--metrics-bind-address=127.0.0.1:0'
            for a in container['args']]
    assert '--leader-election' in args, args
    env = {e['name']: e['value'] for e in container.get('env', []) if 'value' in e}
    env['POD_NAMESPACE'] = namespace  # the chart sets it from the downward API
    for replica in ('chart-pod-a', 'chart-pod-b'):
        op = Operator(replica, log_dir, cluster.kubeconfig, namespace,
                      env={**env, 'POD_NAME': replica, **allow_emulator(hr_emulator)},
                      exact_args=args)
        operators.append(op)
    expected = count_records(SAMPLE_CSV)
    s.apply(SAMPLE_CSV)
    s.run_now()
    s.wait_ready('True', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == expected)
    assert hr_emulator.stats()['upload_requests'] == 1
    runners = [op.name for op in operators if 'run started' in op.log()]
    assert len(runners) == 1, runners
    s.assert_running()


def test_operator_killed_at_a_random_chunk_20_times_loses_nothing(cluster, namespace, hr_emulator, app, operators,
                                                                   log_dir):
    """SIGKILL the operator at a seeded random chunk of a multi-chunk upload, 20 times; each
    restart completes with every record received and the checkpoint consistent."""
    import random
    records, per_call = 2_000, 200
    hr_emulator.set_upload_delay(60)
    for seed in range(20):
        rng = random.Random(seed)
        kill_after = rng.randint(1, records // per_call - 2)  # chunks acknowledged before the kill
        s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name=f'kill{seed}')
        prefix = f's{seed}x'
        s.apply(csv_text(records, prefix=prefix), recordsPerCall=per_call)
        first = s.start_operator(f'op-{seed}-a')
        s.run_now()
        s.wait(f'seed {seed}: {kill_after} chunks checkpointed',
               lambda o: ((o.get('status') or {}).get('checkpoint') or {}).get('recordsAcknowledged', 0)
               >= kill_after * per_call, timeout=60)
        first.kill()
        second = s.start_operator(f'op-{seed}-b')
        obj = s.wait_ready('True', timeout=60,
                           extra=lambda o: (o.get('status') or {}).get('recordsSaved') == records)
        second.stop()
        checkpoint = obj['status']['checkpoint']
        assert checkpoint['recordsAcknowledged'] == records and checkpoint['complete'], (seed, checkpoint)
        counts = collections.Counter(e for e in emails(hr_emulator.received(app['jobId']))
                                     if e.startswith(prefix))
        missing = [i for i in range(records) if counts[f'{prefix}{i}@x.io'] == 0]
        assert not missing, f'seed {seed}: {len(missing)} records lost, e.g. {missing[:3]}'
        twice = sorted(int(e[len(prefix):].split('@')[0]) for e, n in counts.items() if n > 1)
        assert max(counts.values()) <= 2, f'seed {seed}'
        if twice:  # only the chunk in flight at the kill, whole
            assert twice[0] % per_call == 0 and twice == list(range(twice[0], twice[0] + per_call)), (seed, twice[:3])


def test_no_secret_or_token_reaches_logs_events_status_or_output(cluster, namespace, hr_emulator, app, operators,
                                                                 log_dir):
    """The whole scenario at debug log level: a good run, then a wrong secret. Neither secret nor
    any issued access token appears in the operator's or emulator's logs, Events, or the job."""
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    s.apply(SAMPLE_CSV)
    op = Operator('leakcheck', log_dir, cluster.kubeconfig, namespace,
                  env={'RUST_LOG': 'debug', **allow_emulator(hr_emulator)})
    operators.append(op)
    s.run_now()
    s.wait_ready('True', 'Succeeded')
    tokens = hr_emulator.issued_tokens()
    assert tokens, 'the emulator issued a token'
    wrong = 'WRONG-LEAKCHECK-' + app['appSecret']
    # New content (unchanged content would be `Unchanged` without asking for a token).
    s.k.apply(s.secret(app_secret=wrong), s.config_map(csv_text(3, prefix='leak')))
    s.run_now()
    s.wait_ready('False', 'AuthenticationFailed')
    outputs = {
        'operator log': op.log(),
        'emulator log': hr_emulator.log(),
        'events': s.k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'yaml'),
        'core events': s.k.run('get', 'events', '-n', namespace, '-o', 'yaml'),
        'job': json.dumps(s.get()),
    }
    assert 'DEBUG' in outputs['operator log'], 'the operator really ran at debug level'
    for what, text in outputs.items():
        for name, value in [('app secret', app['appSecret']), ('wrong secret', wrong)] + \
                [(f'token {i}', t) for i, t in enumerate(tokens)]:
            assert value not in text, f'{name} leaked into the {what}'


def test_a_pvc_source_runs_as_an_owned_upload_job(cluster, namespace, hr_emulator, app, operators, log_dir):
    """A PersistentVolumeClaim source: the operator creates a batch Job that runs `hrconnector
    upload`; the test plays the Job controller and kubelet (the emulator has none) by running the
    Job's own container arguments against local copies of its mounts, and the operator copies the
    pod's termination-message report into status."""
    if cluster.api is None:
        pytest.skip('on a real cluster the Job needs an image the cluster can pull')
    from harness import UploadJobKubelet
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    csv = csv_text(12, prefix='pvc')
    job = s.job(source={'persistentVolumeClaim': {'claimName': 'hr-exports', 'path': 'exports/hr.csv'}},
                recordsPerCall=5)
    s.k.apply(s.secret(), job)
    s.start_operator(extra_args=['--upload-job-image', 'registry.example/hrconnector:e2e'])
    s.run_now()
    batch_job = wait_for('the upload Job', lambda: next(iter(json.loads(s.k.run(
        'get', 'jobs.batch', '-n', namespace, '-o', 'json'))['items']), None), context=s.context)
    owner = batch_job['metadata']['ownerReferences'][0]
    assert (owner['kind'], owner['name'], owner['controller']) == ('HrConnectorJob', s.name, True)
    UploadJobKubelet(s.k, cluster.thread.url, namespace, log_dir / 'kubelet').run(
        batch_job, {'exports/hr.csv': csv}, log_dir)
    obj = s.wait_ready('True', 'Succeeded', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == 12)
    assert obj['status']['checkpoint']['recordsAcknowledged'] == 12
    assert sorted(emails(hr_emulator.received(app['jobId']))) == sorted(
        line.split(',')[0] for line in csv.strip().splitlines()[1:])
    s.assert_running()


def test_a_pvc_pattern_uploads_the_newest_drop(cluster, namespace, hr_emulator, app, operators, log_dir):
    """`path: drops/terminations_*.csv`: the upload Job takes the newest matching file of the
    claim's directory (by modification time: here not the greatest name), not a newer file that
    does not match, nor a hidden one."""
    if cluster.api is None:
        pytest.skip('on a real cluster the Job needs an image the cluster can pull')
    from harness import UploadJobKubelet
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    newest = csv_text(9, prefix='nov')
    files = {'drops/terminations_2026-12-01.csv': csv_text(4, prefix='dec'),
             'drops/terminations_2026-11-30.csv': newest,
             'drops/leavers_2026-12-03.csv': csv_text(3, prefix='lea'),
             'drops/.terminations_2026-12-03.csv': 'partial'}
    mtimes = {'drops/terminations_2026-12-01.csv': 1_700_000_000, 'drops/terminations_2026-11-30.csv': 1_700_000_100,
              'drops/leavers_2026-12-03.csv': 1_700_000_200, 'drops/.terminations_2026-12-03.csv': 1_700_000_300}
    job = s.job(source={'persistentVolumeClaim': {'claimName': 'hr-exports', 'path': 'drops/terminations_*.csv'}})
    s.k.apply(s.secret(), job)
    s.start_operator(extra_args=['--upload-job-image', 'registry.example/hrconnector:e2e'])
    s.run_now()
    batch_job = wait_for('the upload Job', lambda: next(iter(json.loads(s.k.run(
        'get', 'jobs.batch', '-n', namespace, '-o', 'json'))['items']), None), context=s.context)
    UploadJobKubelet(s.k, cluster.thread.url, namespace, log_dir / 'kubelet').run(batch_job, files, log_dir, mtimes)
    obj = s.wait_ready('True', 'Succeeded', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == 9)
    assert sorted(emails(hr_emulator.received(app['jobId']))) == sorted(
        line.split(',')[0] for line in newest.strip().splitlines()[1:])
    # The choice is in status, with the digest of what was read.
    seen = obj['status']['source']
    # Named relative to the claim's root, as the spec names the pattern.
    assert seen['chosen'] == 'drops/terminations_2026-11-30.csv', seen
    assert seen['sha256'] == hashlib.sha256(newest.encode()).hexdigest(), seen
    s.assert_running()


def _events(s: Scenario, reason: str) -> int:
    """How many times an Event with `reason` was published about the job (a series counts each)."""
    items = json.loads(s.k.run('get', 'events.events.k8s.io', '-n', s.ns, '-o', 'json'))['items']
    return sum(((e.get('series') or {}).get('count') or 1) for e in items
               if e.get('reason') == reason and (e.get('regarding') or {}).get('name') == s.name)


def _history(s: Scenario) -> list[dict[str, Any]]:
    return ((s.get() or {}).get('status') or {}).get('history') or []


def test_a_lagging_watch_runs_each_trigger_exactly_once(cluster, namespace, hr_emulator, app, operators, log_dir):
    """The API emulator delays every watch event by 500 ms, as a busy API server's watch cache
    does: the operator's cache then lags behind its own status writes. A run-now, a scheduled run
    and a run that fails in milliseconds must each run once (history, Events, uploads)."""
    if cluster.api is None:
        pytest.skip('the watch delay is a knob of the API emulator')
    cluster.api.watch_delay = 0.5
    try:
        s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
        s.apply(SAMPLE_CSV)
        s.start_operator()
        s.run_now()
        s.wait_ready('True', 'Succeeded')
        time.sleep(3)  # what a stale cache would start happens within a few watch delays
        assert len(_history(s)) == 1, _history(s)
        assert hr_emulator.stats()['upload_requests'] == 1
        assert _events(s, 'RunStarted') == 1 and _events(s, 'RunSucceeded') == 1

        # A scheduled run: new content, and a fire time at the next minute (UTC).
        fire = time.gmtime(time.time() + 60)
        s.k.apply(s.config_map(csv_text(7, prefix='sched')),
                  s.job(schedule=f'{fire.tm_min} {fire.tm_hour} * * *'))
        s.wait('the scheduled run', lambda o: len((o.get('status') or {}).get('history') or []) == 2
               and (o.get('status') or {}).get('lastScheduleTime') is not None, timeout=120)
        s.wait_ready('True', 'Succeeded', extra=lambda o: o['status'].get('recordsSaved') == 7)
        time.sleep(3)
        assert len(_history(s)) == 2, _history(s)
        assert hr_emulator.stats()['upload_requests'] == 2
        assert _events(s, 'RunStarted') == 2

        # A run that fails at once: the credentials Secret lacks its appId key.
        broken = s.secret()
        del broken['stringData']['appId']
        s.k.replace(broken)
        s.run_now()
        s.wait_ready('False', 'CredentialsNotFound')
        time.sleep(3)
        assert len(_history(s)) == 3, _history(s)
        assert _events(s, 'RunStarted') == 3 and _events(s, 'CredentialsNotFound') == 1
        assert hr_emulator.stats()['upload_requests'] == 2
        s.assert_running()
    finally:
        cluster.api.watch_delay = 0.0


def test_deleting_a_job_mid_upload_stops_it_and_drops_its_series(cluster, namespace, hr_emulator, app, operators,
                                                                 log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir)
    records, per_call = 20_000, 1_000
    s.apply(csv_text(records, prefix='del'), big=True, recordsPerCall=per_call)
    hr_emulator.set_upload_delay(400)
    op = s.start_operator()
    s.run_now()
    s.wait('two chunks checkpointed', lambda o: ((o.get('status') or {}).get('checkpoint') or {})
           .get('recordsAcknowledged', 0) >= 2 * per_call, timeout=60)
    series = f'namespace="{namespace}",name="{s.name}"'
    assert series in op.metrics(), 'the job has per-job series while it exists'
    s.k.delete('hrconnectorjobs.hrconnector.io', s.name, namespace)
    seen = 'stopping its run after the chunk in flight'
    wait_for('the operator to stop the run', lambda: seen in op.log(), context=op.tail)
    wait_for('the run to end', lambda: 'run stopped: the job was deleted' in op.log(), context=op.tail)
    after = hr_emulator.stats()['upload_requests']
    time.sleep(2)
    # What the service received: the chunks acknowledged before the operator saw the deletion,
    # plus at most the one in flight then; nothing after, and far from the whole file.
    acknowledged = op.log().split(seen)[0].count('chunk acknowledged')
    assert hr_emulator.stats()['upload_requests'] == after <= acknowledged + 1 < records // per_call
    wait_for('the per-job series to go', lambda: series not in op.metrics(), context=op.tail)
    assert op.alive()
