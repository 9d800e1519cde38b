"""HrConnectorJobs whose CSV is in object storage (spec.source.azureBlob and spec.source.s3): the
real operator reads Azurite and moto's S3 server itself, started here from the binaries that
scripts/object-stores.sh installs into .cache/."""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import hmac
import json
import pathlib
import subprocess
import time
import urllib.request
from typing import Any, Iterator

import pytest

from harness import REPO, Process, condition, csv_text, free_port, wait_for
from test_operator import Scenario, emails

ACCOUNT = 'devstoreaccount1'
# Azurite's well-known development key (public, documented by Microsoft).
ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
CONTAINER = 'hr-exports'


def _tools() -> tuple[str, str]:
    out = subprocess.run([str(REPO / 'scripts' / 'object-stores.sh')], check=True, capture_output=True,
                         text=True, timeout=900).stdout.split()
    return out[0], out[1]


def _listening(port: int, process: Process) -> bool:
    import socket
    assert process.alive(), f'{process.name} exited\n{process.tail()}'
    with socket.socket() as s:
        return s.connect_ex(('127.0.0.1', port)) == 0


class Azurite:
    def __init__(self, log_dir: pathlib.Path, data_dir: pathlib.Path, binary: str):
        self.port = free_port()
        self.process = Process('azurite', [binary, '--blobHost', '127.0.0.1', '--blobPort', str(self.port),
                                           '--location', str(data_dir), '--skipApiVersionCheck',
                                           '--disableTelemetry'], log_dir)
        wait_for('azurite to listen', lambda: _listening(self.port, self.process), timeout=60)
        self.account_url = f'http://127.0.0.1:{self.port}/{ACCOUNT}'

    def _request(self, method: str, path: str, query: str = '', body: bytes = b'',
                 headers: dict[str, str] | None = None) -> None:
        """A Shared Key signed request (as Azure requires)."""
        date = datetime.datetime.now(datetime.timezone.utc).strftime('%a, %d %b %Y %H:%M:%S GMT')
        ms = {'x-ms-date': date, 'x-ms-version': '2021-08-06', **(headers or {})}
        canonical_headers = ''.join(f'{k}:{v}\n' for k, v in sorted(ms.items()))
        canonical_query = ''.join(f'\n{k}:{v}' for k, v in sorted(p.split('=', 1) for p in query.split('&') if p))
        length = str(len(body)) if body else ''
        to_sign = (f'{method}\n\n\n{length}\n\n{"text/csv" if body else ""}\n\n\n\n\n\n\n'
                   f'{canonical_headers}/{ACCOUNT}/{ACCOUNT}/{path}{canonical_query}')
        signature = base64.b64encode(hmac.new(base64.b64decode(ACCOUNT_KEY), to_sign.encode(),
                                               hashlib.sha256).digest()).decode()
        req = urllib.request.Request(f'{self.account_url}/{path}' + (f'?{query}' if query else ''),
                                     data=body if body else None, method=method,
                                     headers={**ms, 'Authorization': f'SharedKey {ACCOUNT}:{signature}',
                                              'Content-Length': str(len(body)),
                                              **({'Content-Type': 'text/csv'} if body else {})})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert 200 <= r.status < 300, r.status

    def create_container(self, name: str) -> None:
        self._request('PUT', name, 'restype=container')

    def put(self, blob: str, text: str) -> None:
        self._request('PUT', f'{CONTAINER}/{blob}', body=text.encode(), headers={'x-ms-blob-type': 'BlockBlob'})


class Moto:
    def __init__(self, log_dir: pathlib.Path, binary: str):
        self.port = free_port()
        self.process = Process('moto', [binary, '-H', '127.0.0.1', '-p', str(self.port)], log_dir)
        wait_for('moto_server to listen', lambda: _listening(self.port, self.process), timeout=60)
        self.url = f'http://127.0.0.1:{self.port}'

    def put(self, path: str, body: bytes = b'') -> None:
        """moto does not check signatures unless asked to."""
        req = urllib.request.Request(f'{self.url}/{path}', data=body, method='PUT',
                                     headers={'Content-Type': 'text/csv'})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert 200 <= r.status < 300, r.status


@pytest.fixture(scope='module')
def tools() -> tuple[str, str]:
    return _tools()


@pytest.fixture
def azurite(tools, log_dir, tmp_path) -> Iterator[Azurite]:
    server = Azurite(log_dir, tmp_path / 'azurite', tools[0])
    server.create_container(CONTAINER)
    yield server
    server.process.stop()


@pytest.fixture
def moto(tools, log_dir) -> Iterator[Moto]:
    server = Moto(log_dir, tools[1])
    server.put('hr-bucket')
    yield server
    server.process.stop()


class ObjectScenario(Scenario):
    """A job whose source is an object; the Secret holds the app's and the store's credentials."""

    def __init__(self, *args, source: dict[str, Any], store_keys: dict[str, str], **kw):
        super().__init__(*args, **kw)
        self.source, self.store_keys = source, store_keys

    def allowed_urls(self) -> list[str]:
        # The store the test started is no published host: allowed as an administrator would.
        spec = self.source.get('azureBlob') or self.source.get('s3') or {}
        identity = (spec.get('credentials') or {}).get('webIdentity') or {}
        return [u for u in (spec.get('accountUrl'), spec.get('endpoint'), identity.get('stsEndpoint')) if u]

    def store_secret(self) -> dict[str, Any]:
        return {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': f'{self.name}-store', 'namespace': self.ns},
                'type': 'Opaque', 'stringData': self.store_keys}

    def apply_object_job(self, **spec: Any) -> None:
        self.k.apply(self.secret(), self.store_secret(), self.job(source=self.source, **spec))


def blob_scenario(cluster, namespace, hr_emulator, app, operators, log_dir, azurite: Azurite,
                  blob: str = 'leavers.csv', name: str = 'blobjob') -> ObjectScenario:
    source = {'azureBlob': {'accountUrl': azurite.account_url, 'container': CONTAINER, 'blob': blob,
                            'credentials': {'secretRef': {'name': f'{name}-store'}}}}
    return ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name=name, source=source,
                          store_keys={'accountKey': ACCOUNT_KEY})


def status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get('status') or {}


def test_blob_job_goes_ready_and_revalidates_a_replaced_blob_without_a_run(
        cluster, namespace, hr_emulator, app, operators, log_dir, azurite):
    s = blob_scenario(cluster, namespace, hr_emulator, app, operators, log_dir, azurite)
    azurite.put('leavers.csv', csv_text(3000, prefix='b'))
    s.apply_object_job(recordsPerCall=1000)
    s.start_operator(extra_args=['--object-source-recheck-seconds', '1'])
    first = s.wait('the pre-flight HEAD in status', lambda o: (status(o).get('source') or {}).get('etag'))
    etag = status(first)['source']['etag']
    assert status(first)['source']['size'] > 0 and status(first)['source']['lastModified']
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == 3000)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == 3000 and set(counts.values()) == {1}
    uploads = hr_emulator.stats()['upload_requests']

    # Replaced: the next recheck sees a new ETag and validates again; no run starts.
    azurite.put('leavers.csv', 'EmailAddress,TerminationDate,LastWorkingDate\nnot-an-email,x,y\n')
    obj = s.wait_ready('False', 'InvalidCsv', timeout=30)
    assert status(obj)['source']['etag'] != etag
    assert 'not-an-email' not in str(status(obj)), 'HR data must not reach status'
    time.sleep(2)
    assert hr_emulator.stats()['upload_requests'] == uploads
    s.assert_running()


def test_missing_blob_and_wrong_key_are_distinct_reasons(cluster, namespace, hr_emulator, app, operators, log_dir,
                                                         azurite):
    s = blob_scenario(cluster, namespace, hr_emulator, app, operators, log_dir, azurite, blob='none.csv')
    s.apply_object_job()
    s.start_operator(extra_args=['--object-source-recheck-seconds', '1'])
    obj = s.wait_ready('False', 'SourceNotFound')
    assert 'BlobNotFound' in condition(obj, 'Ready')['message']
    s.store_keys = {'accountKey': base64.b64encode(b'a wrong key, quite wrong indeed').decode()}
    s.k.apply(s.store_secret())
    azurite.put('none.csv', csv_text(5))
    obj = s.wait_ready('False', 'SourceAccessDenied')
    assert s.store_keys['accountKey'] not in str(obj)
    s.assert_running()


def test_s3_job_goes_ready_with_every_record(cluster, namespace, hr_emulator, app, operators, log_dir, moto):
    moto.put('hr-bucket/in/leavers.csv', csv_text(2500, prefix='s').encode())
    source = {'s3': {'bucket': 'hr-bucket', 'key': 'in/leavers.csv', 'region': 'us-gov-west-1',
                     'endpoint': moto.url, 'credentials': {'secretRef': {'name': 's3job-store'}}}}
    s = ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='s3job', source=source,
                       store_keys={'accessKeyId': 'AKIAE2ETEST', 'secretAccessKey': 'e2e-secret-key'})
    s.apply_object_job(recordsPerCall=1000)
    s.start_operator()
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == 2500)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == 2500 and set(counts.values()) == {1}
    assert status(s.get())['source']['etag']
    s.assert_running()


def test_s3_pattern_takes_the_newest_drop_and_status_names_it(cluster, namespace, hr_emulator, app, operators,
                                                              log_dir, moto):
    # The greatest name is not the newest: the store's modification time decides (to the second).
    moto.put('hr-bucket/drops/terminations_2026-12-01.csv', csv_text(40, prefix='d').encode())
    time.sleep(1.1)
    november = csv_text(1500, prefix='n').encode()
    moto.put('hr-bucket/drops/terminations_2026-11-30.csv', november)
    source = {'s3': {'bucket': 'hr-bucket', 'key': 'drops/terminations_*.csv', 'region': 'us-gov-west-1',
                     'endpoint': moto.url, 'credentials': {'secretRef': {'name': 's3drops-store'}}}}
    s = ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='s3drops', source=source,
                       store_keys={'accessKeyId': 'AKIAE2ETEST', 'secretAccessKey': 'e2e-secret-key'})
    s.apply_object_job(recordsPerCall=1000)
    s.start_operator(extra_args=['--object-source-recheck-seconds', '1'])
    obj = s.wait('the chosen drop and its digest in status',
                 lambda o: (status(o).get('source') or {}).get('sha256'))
    seen = status(obj)['source']
    assert seen['chosen'] == 'drops/terminations_2026-11-30.csv', seen
    assert seen['sha256'] == hashlib.sha256(november).hexdigest(), seen
    assert seen['size'] == len(november) and seen['etag'], seen
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == 1500)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == 1500 and all(e.startswith('n') for e in counts), 'only the newest drop is sent'

    # A later drop is the one the next check (and run) takes.
    time.sleep(1.1)
    moto.put('hr-bucket/drops/terminations_2026-12-02.csv', csv_text(7, prefix='x').encode())
    s.wait('the new drop chosen',
           lambda o: (status(o).get('source') or {}).get('chosen') == 'drops/terminations_2026-12-02.csv')
    s.assert_running()


def test_sigkill_mid_upload_of_a_200k_record_blob_resumes_and_loses_nothing(
        cluster, namespace, hr_emulator, app, operators, log_dir, azurite):
    records, per_call = 200_000, 5_000
    s = blob_scenario(cluster, namespace, hr_emulator, app, operators, log_dir, azurite, blob='big.csv')
    azurite.put('big.csv', csv_text(records, prefix='k'))
    s.apply_object_job(recordsPerCall=per_call)
    hr_emulator.set_upload_delay(300)  # 40 chunks: ~12 s of uploading
    first = s.start_operator('operator-1')
    s.run_now()
    s.wait('a few chunks to be checkpointed',
           lambda o: (status(o).get('checkpoint') or {}).get('recordsAcknowledged', 0) >= 3 * per_call, timeout=120)
    first.kill()  # SIGKILL: no graceful checkpoint of the chunk in flight
    at_kill = len(hr_emulator.received(app['jobId'])['records'])
    assert at_kill < records, 'the operator finished before it was killed: not a mid-upload kill'
    hr_emulator.set_upload_delay(0)
    second = s.start_operator('operator-2')
    s.wait_ready('True', timeout=180, extra=lambda o: status(o).get('recordsSaved') == records)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    missing = [i for i in range(records) if counts[f'k{i}@x.io'] == 0]
    assert not missing, f'{len(missing)} records never reached the service, e.g. rows {missing[:3]}'
    # At least once per chunk: only the chunk in flight at the kill may have been stored twice.
    twice = sorted(int(e[1:].split('@')[0]) for e, n in counts.items() if n > 1)
    if twice:
        start = twice[0]
        assert start % per_call == 0 and twice == list(range(start, start + per_call)), twice[:5]
    print(f'\nkilled with {at_kill} records stored; {len(twice)} records sent twice (the chunk in flight)')
    assert 'run started' in second.log()
    s.assert_running(second)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))


def test_s3_job_with_web_identity_uploads_with_no_store_secret(cluster, namespace, hr_emulator, app, operators,
                                                              log_dir, moto):
    """spec.source.s3.credentials.webIdentity: the operator asks the API emulator's TokenRequest API
    for a token of the job's service account (audience sts.amazonaws.com), exchanges it at moto's
    STS (AssumeRoleWithWebIdentity) and reads the object with the temporary credentials."""
    if cluster.api is None:
        pytest.skip('needs the API emulator: the test reads which tokens its TokenRequest API issued')
    records = 1200
    moto.put('hr-bucket/in/leavers.csv', csv_text(records, prefix='w').encode())
    role = 'arn:aws-us-gov:iam::123456789012:role/hr-reader'
    source = {'s3': {'bucket': 'hr-bucket', 'key': 'in/leavers.csv', 'region': 'us-gov-west-1',
                     'endpoint': moto.url,
                     'credentials': {'webIdentity': {'serviceAccountName': 'hr-reader', 'roleArn': role,
                                                     'stsEndpoint': moto.url}}}}
    s = ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='wijob', source=source,
                       store_keys={})
    account = {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'hr-reader', 'namespace': namespace}}
    s.k.apply(account, s.secret(), s.job(source=source, recordsPerCall=500))
    s.start_operator()
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == records)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == records and set(counts.values()) == {1}
    # The only Secret is the Entra ID app's: the store's credential is the service account.
    assert s.k.get('secrets', 'wijob-store', namespace) is None
    # The issuer is shared by the suite's tests: this job's tokens are its namespace's account's.
    issued = [token for ns, name, token in cluster.api.token_issuer.issued if (ns, name) == (namespace, 'hr-reader')]
    assert issued, cluster.api.token_issuer.issued
    assert all(_claims(token)['aud'] == ['sts.amazonaws.com'] for token in issued)
    assert all(_claims(token)['sub'] == f'system:serviceaccount:{namespace}:hr-reader' for token in issued)
    seen = json.dumps(s.get()) + ''.join(op.log() for op in operators)
    assert not any(token in seen for token in issued), 'a service account token reached status or logs'
    s.assert_running()


def test_web_identity_of_a_missing_service_account_is_a_clear_reason(cluster, namespace, hr_emulator, app, operators,
                                                                     log_dir, moto):
    source = {'s3': {'bucket': 'hr-bucket', 'key': 'in/leavers.csv', 'region': 'us-gov-west-1',
                     'endpoint': moto.url,
                     'credentials': {'webIdentity': {'serviceAccountName': 'nobody',
                                                     'roleArn': 'arn:aws:iam::123456789012:role/r',
                                                     'stsEndpoint': moto.url}}}}
    s = ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='nosa', source=source,
                       store_keys={})
    s.k.apply(s.secret(), s.job(source=source))
    s.start_operator()
    obj = s.wait_ready('False', 'ServiceAccountNotFound')
    message = condition(obj, 'Ready')['message']
    assert f'{namespace}/nobody' in message and 'webIdentity.serviceAccountName' in message, message
    s.assert_running()


def test_blob_workload_identity_asks_the_jobs_authority_for_a_storage_token(cluster, namespace, app, operators,
                                                                           log_dir, tmp_path, azurite):
    """spec.source.azureBlob.credentials.workloadIdentity through the real operator: a TokenRequest
    token of the job's service account (audience api://AzureADTokenExchange) is the federated
    assertion of a v2 token request for scope https://storage.azure.com/.default at the job's
    authority. This Entra ID emulator accepts the assertion (it trusts the API emulator's issuer
    for this service account) but issues tokens only for the connector's resource, so it answers
    AADSTS70011 naming the storage scope: that shows the request's assertion and scope. Azurite
    taking the storage token itself is tests/object_source.rs's (HTTPS, --oauth basic)."""
    if cluster.api is None:
        pytest.skip("needs the API emulator: the test hands its token issuer's key to the Entra ID emulator")
    from harness import HrEmulator
    issuer = cluster.api.token_issuer
    key_file = tmp_path / 'service-account-issuer.pem'
    key_file.write_text(issuer.public_key_pem())
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']], extra_args=[
        '--trusted-issuer', f'{issuer.issuer}={key_file}',
        '--federated-credential',
        f'{issuer.issuer}|system:serviceaccount:{namespace}:hr-reader|api://AzureADTokenExchange'])
    try:
        azurite.put('leavers.csv', csv_text(10, prefix='wi'))
        source = {'azureBlob': {'accountUrl': azurite.account_url, 'container': CONTAINER, 'blob': 'leavers.csv',
                                'credentials': {'workloadIdentity': {'serviceAccountName': 'hr-reader'}}}}
        s = ObjectScenario(cluster, namespace, emu, app, operators, log_dir, name='blobwi', source=source,
                           store_keys={})
        account = {'apiVersion': 'v1', 'kind': 'ServiceAccount',
                   'metadata': {'name': 'hr-reader', 'namespace': namespace,
                                'annotations': {'azure.workload.identity/client-id': app['appId'],
                                                'azure.workload.identity/tenant-id': app['tenantId']}}}
        s.k.apply(account, s.secret(), s.job(source=source))
        s.start_operator()
        obj = s.wait_ready('False', 'SourceAccessDenied')
        message = condition(obj, 'Ready')['message']
        assert 'AADSTS70011' in message and 'https://storage.azure.com/.default' in message, message
        issued = [token for ns, name, token in issuer.issued if (ns, name) == (namespace, 'hr-reader')]
        assert issued, issuer.issued
        assert all(_claims(token)['aud'] == ['api://AzureADTokenExchange'] for token in issued)
        assert not any(token in json.dumps(obj) for token in issued)
        s.assert_running()
    finally:
        emu.stop()


def test_an_s3_workbook_is_converted_and_the_check_says_so(cluster, namespace, hr_emulator, app, operators,
                                                            log_dir, moto):
    """An .xlsx written by openpyxl in S3, spec.input naming its sheet and time zone: the pre-flight
    check shows what it converted in status.input, and the run sends the dates at their instants."""
    import datetime
    import io
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = 'Leavers'
    sheet.append(['EmailAddress', 'TerminationDate', 'LastWorkingDate'])
    sheet.append(['ana@contoso.com', datetime.datetime(2026, 11, 30, 3, 0), datetime.datetime(2026, 11, 30, 17, 30)])
    out = io.BytesIO()
    book.save(out)
    moto.put('hr-bucket/in/leavers.xlsx', out.getvalue())
    source = {'s3': {'bucket': 'hr-bucket', 'key': 'in/leavers.xlsx', 'region': 'us-gov-west-1',
                     'endpoint': moto.url, 'credentials': {'secretRef': {'name': 'xlsxjob-store'}}}}
    s = ObjectScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='xlsxjob', source=source,
                       store_keys={'accessKeyId': 'AKIAE2ETEST', 'secretAccessKey': 'e2e-secret-key'})
    s.apply_object_job(input={'format': 'Xlsx', 'timeZone': 'America/New_York'})
    s.start_operator()
    obj = s.wait('the check to show what it converted', lambda o: status(o).get('input'))
    assert status(obj)['input'].startswith('workbook sheet Leavers; TerminationDate: 1 values as iso8601'), status(obj)
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60)
    record = hr_emulator.received(app['jobId'])['records'][0]
    assert record[1] == '2026-11-30T03:00:00-05:00', record
