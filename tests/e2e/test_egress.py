"""The trust boundary (issue 18): a job author in one namespace, an operator that allows the hr
emulator only. A recording server that no prefix allows must see zero requests whatever the job
names (object store URLs, STS, redirects, tenants); a Secret value named as a tenant never reaches
status, Events or a trace-level log; a store that claims a 1 TiB error body does not take the
operator down."""
from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
from typing import Any, Callable

import pytest

from harness import condition, csv_text
from test_operator import Scenario

# A token-like value, and one that is also a valid domain: the first is refused before use, the
# second reaches Entra ID, which echoes it (AADSTS90002) and the scrubber must replace it.
PASSWORD = 'eyJhbGciOiJIUzI1NiJ9.eyJlMmUiOiJsZWFrIn0.Zq8e2eSignatureDoNotLeak'
DOMAIN_PASSWORD = 'hunter2secretvalue.example.com'


class Recorder:
    """A loopback HTTP server that records every request and answers with `answer(handler)`."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], None] | None = None):
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                recorder.requests.append({'method': self.command, 'path': self.path,
                                          'headers': dict(self.headers), 'body': body.decode(errors='replace')})
                if answer:
                    answer(self)
                else:
                    self.send_response(200)
                    self.send_header('Content-Length', '0')
                    self.end_headers()

            do_GET = do_POST = do_HEAD = do_PUT = _any

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.stop()


def _ready(s: Scenario, name: str, status: str, reason: str) -> dict[str, Any]:
    s.name = name
    return s.wait_ready(status, reason, timeout=30)


def test_object_store_and_sts_urls_no_prefix_allows_receive_nothing(cluster, namespace, hr_emulator, app,
                                                                    operators, log_dir, recorder):
    """Finding 1: a SAS token, an STS exchange (with a TokenRequest token), a storage bearer token
    and S3 keys aimed at a host no prefix allows: each job is EndpointNotAllowed naming its field,
    the recording server sees nothing, and no service account token is minted."""
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='base')
    sas = 'sv=2024-11-04&ss=b&srt=o&sp=r&sig=e2eSASsignatureDoNotLeak%3D'
    store = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'store', 'namespace': namespace},
             'type': 'Opaque', 'stringData': {'sasToken': sas, 'accessKeyId': 'AKIAE2E', 'secretAccessKey': 'e2e-sk'}}
    account = {'apiVersion': 'v1', 'kind': 'ServiceAccount',
               'metadata': {'name': 'hr-reader', 'namespace': namespace,
                            'annotations': {'azure.workload.identity/client-id': app['appId'],
                                            'azure.workload.identity/tenant-id': app['tenantId']}}}
    blob = {'accountUrl': f'{recorder.url}/devstoreaccount1', 'container': 'hr-exports', 'blob': 'x.csv'}
    jobs = {
        'sas': ({'azureBlob': {**blob, 'credentials': {'secretRef': {'name': 'store'}}}},
                'spec.source.azureBlob.accountUrl'),
        'blob-wi': ({'azureBlob': {**blob, 'credentials': {'workloadIdentity': {'serviceAccountName': 'hr-reader'}}}},
                    'spec.source.azureBlob.accountUrl'),
        's3-keys': ({'s3': {'bucket': 'hr-bucket', 'key': 'x.csv', 'region': 'us-east-1', 'endpoint': recorder.url,
                            'credentials': {'secretRef': {'name': 'store'}}}}, 'spec.source.s3.endpoint'),
        'sts': ({'s3': {'bucket': 'hr-bucket', 'key': 'x.csv', 'region': 'us-east-1',
                        'credentials': {'webIdentity': {'serviceAccountName': 'hr-reader',
                                                        'roleArn': 'arn:aws:iam::123456789012:role/r',
                                                        'stsEndpoint': recorder.url}}}},
                'spec.source.s3.credentials.webIdentity.stsEndpoint'),
    }
    s.k.apply(s.secret(), store, account)
    for name, (source, _) in jobs.items():
        s.name = name
        s.k.apply(s.job(source=source))
    s.start_operator(extra_args=['--object-source-recheck-seconds', '1'])
    for name, (_, field) in jobs.items():
        obj = _ready(s, name, 'False', 'EndpointNotAllowed')
        message = condition(obj, 'Ready')['message']
        assert field in message and recorder.url in message, message
        assert 'sig=' not in message and 'e2eSASsignature' not in json.dumps(obj)
    # A region that is no AWS region is never spliced into https://sts.{region}.amazonaws.com.
    s.name = 'region'
    s.k.apply(s.job(source={'s3': {'bucket': 'hr-bucket', 'key': 'x.csv', 'region': 'evil.example/x',
                                   'credentials': {'secretRef': {'name': 'store'}}}}))
    message = condition(s.wait_ready('False', 'InvalidSpec', timeout=30), 'Ready')['message']
    assert 'spec.source.s3.region' in message, message
    # Nor a bucket that would leave its path segment (object_store splices the bucket raw).
    s.name = 'bucket'
    s.k.apply(s.job(source={'s3': {'bucket': '../evil', 'key': 'x.csv', 'region': 'us-east-1',
                                   'credentials': {'secretRef': {'name': 'store'}}}}))
    message = condition(s.wait_ready('False', 'InvalidSpec', timeout=30), 'Ready')['message']
    assert 'spec.source.s3.bucket' in message and 'one path segment' in message, message
    # Run-now on a refused job sends nothing either.
    s.name = 'sts'
    s.run_now()
    s.wait_ready('False', 'EndpointNotAllowed', timeout=30)
    assert recorder.requests == []
    if cluster.api is not None:
        assert [i for i in cluster.api.token_issuer.issued if i[0] == namespace] == []
    assert hr_emulator.stats()['token_requests'] == 0
    s.assert_running()


def test_a_redirect_to_another_origin_is_not_followed(cluster, namespace, hr_emulator, app, operators, log_dir,
                                                      recorder):
    """Finding 6: an allowed authority answers the token request with a 307 to another port; the
    client secret is not re-sent there (the target sees nothing) and the job says why."""
    def bounce(handler):
        handler.send_response(307)
        handler.send_header('Location', f'{recorder.url}/stolen/oauth2/token')
        handler.send_header('Content-Length', '0')
        handler.end_headers()
    bouncer = Recorder(bounce)
    try:
        s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='redirect')
        s.apply(csv_text(3), endpoints={'authorityUrl': bouncer.url, 'ingestionUrl': hr_emulator.url})
        s.start_operator(env={'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': f'{hr_emulator.url},{bouncer.url}'})
        s.run_now()
        obj = s.wait_ready('False', 'EndpointNotAllowed', timeout=30)
        message = condition(obj, 'Ready')['message']
        assert 'redirect' in message and recorder.url in message, message
        assert len(bouncer.requests) == 1 and bouncer.requests[0]['method'] == 'POST'
        assert recorder.requests == []
        assert app['appSecret'] not in json.dumps(obj)
        s.assert_running()
    finally:
        bouncer.stop()


def test_a_tenant_that_escapes_its_path_is_refused(cluster, namespace, hr_emulator, app, operators, log_dir):
    """Finding 7: `../../evil` as tenant, from the Secret and from workloadIdentity.tenantId, never
    becomes a token URL; nothing reaches the authority."""
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='escape')
    s.app = {**app, 'tenantId': '../../evil'}
    s.apply(csv_text(3))
    s.start_operator()
    s.run_now()
    message = condition(s.wait_ready('False', 'InvalidCredentials', timeout=30), 'Ready')['message']
    assert 'tenantId' in message and 'GUID' in message and '../../evil' not in message, message

    spec_job = s.job(credentials={'workloadIdentity': {'serviceAccountName': 'hr', 'tenantId': '../../evil',
                                                      'clientId': app['appId']}})
    spec_job['metadata']['name'] = 'escape-wi'
    try:
        s.k.apply(spec_job)
    except Exception as e:  # a real API server enforces the CRD's pattern at apply
        assert 'tenantId' in str(e), e
    else:
        s.name = 'escape-wi'
        message = condition(s.wait_ready('False', 'InvalidSpec', timeout=30), 'Ready')['message']
        assert 'spec.credentials.workloadIdentity.tenantId' in message, message
    assert hr_emulator.stats()['token_requests'] == 0
    s.assert_running()


def test_a_secret_value_named_as_tenant_never_leaves_the_operator(cluster, namespace, hr_emulator, app, operators,
                                                                  log_dir):
    """Finding 2, at RUST_LOG=trace: `tenantIdKey` names the app secret's key. A password that is no
    tenant form is refused before use; one that is a valid domain reaches Entra ID, whose
    AADSTS90002 echoes it: the scrubber replaces it by where it came from. Neither value appears in
    status, either Events API or the log."""
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='echo')
    s.apply(csv_text(3), app_secret=PASSWORD, credentials={'secretRef': {'name': s.secret_name},
                                                            'tenantIdKey': 'appSecret'})
    op = s.start_operator(env={'RUST_LOG': 'trace'})
    s.run_now()
    first = s.wait_ready('False', 'InvalidCredentials', timeout=30)
    assert 'appSecret' in condition(first, 'Ready')['message']

    s.k.apply(s.secret(app_secret=DOMAIN_PASSWORD))
    s.run_now()
    second = s.wait_ready('False', 'AuthenticationFailed', timeout=30)
    message = condition(second, 'Ready')['message']
    assert 'AADSTS90002' in message and '<appSecret from Secret echo-app>' in message, message

    events = (s.k.run('get', 'events', '-n', namespace, '-o', 'json')
              + s.k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'json'))
    seen = json.dumps(first) + json.dumps(second) + events + op.log()
    for value in (PASSWORD, DOMAIN_PASSWORD):
        assert value not in seen
        assert re.sub(r'[^A-Za-z0-9]', '', value)[:12] not in seen
    s.assert_running()


def test_a_store_claiming_a_1_tib_error_body_does_not_take_the_operator_down(cluster, namespace, hr_emulator, app,
                                                                              operators, log_dir):
    """Finding 3: an (allowed) store has an object (HEAD) but answers its read with 404,
    `Content-Length: 1099511627776` and a few bytes; its STS answers 200 with 600 MiB. The
    operator stays up, stays small, and reports the jobs; a plain job still goes Ready. (Before the bound: `memory allocation of
    1099511627776 bytes failed`, exit 134, in the pre-flight of every recheck.)"""
    def huge(handler):
        if handler.command == 'HEAD':  # there is an object: the pre-flight goes on to read it
            handler.send_response(200)
            for k, v in (('Content-Length', '100'), ('ETag', '"0x1"'), ('x-ms-blob-type', 'BlockBlob'),
                         ('Last-Modified', 'Tue, 01 Dec 2026 10:00:00 GMT')):
                handler.send_header(k, v)
            handler.end_headers()
            return
        if handler.command == 'POST':  # STS: 200 claiming 600 MiB, and sending it until cut off
            handler.send_response(200)
            handler.send_header('Content-Length', str(600 * 1024 * 1024))
            handler.send_header('Content-Type', 'text/xml')
            handler.end_headers()
            handler.wfile.write(b'<AssumeRoleWithWebIdentityResponse>')
            try:
                for _ in range(600 * 16):
                    handler.wfile.write(b' ' * 65536)
            except OSError:
                pass  # the reader stopped at its bound
            handler.close_connection = True
            return
        handler.send_response(404)
        handler.send_header('Content-Length', '1099511627776')
        handler.send_header('Content-Type', 'application/xml')
        handler.end_headers()
        handler.wfile.write(b'<?xml version="1.0"?><Error><Code>BlobNotFound</Code>')
        handler.wfile.flush()
        # More than one read's worth, so a reader that trusts the length allocates it.
        for _ in range(16):
            handler.wfile.write(b' ' * 65536)
            handler.wfile.flush()
        handler.close_connection = True
    store = Recorder(huge)
    try:
        s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='plain')
        secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'store', 'namespace': namespace},
                  'type': 'Opaque', 'stringData': {'sasToken': 'sv=1&sig=x', 'accessKeyId': 'AKIA', 'secretAccessKey': 'k'}}
        account = {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'hr-reader', 'namespace': namespace}}
        s.k.apply(secret, account)
        for name, source in {
            'huge-sts': {'s3': {'bucket': 'hr-bucket', 'key': 'x.csv', 'region': 'us-east-1', 'endpoint': store.url,
                                'credentials': {'webIdentity': {'serviceAccountName': 'hr-reader',
                                                                'roleArn': 'arn:aws:iam::123456789012:role/r',
                                                                'stsEndpoint': store.url}}}},
            'huge-blob': {'azureBlob': {'accountUrl': f'{store.url}/devstoreaccount1', 'container': 'hr-exports',
                                        'blob': 'x.csv', 'credentials': {'secretRef': {'name': 'store'}}}},
            'huge-s3': {'s3': {'bucket': 'hr-bucket', 'key': 'x.csv', 'region': 'us-east-1', 'endpoint': store.url,
                               'credentials': {'secretRef': {'name': 'store'}}}},
        }.items():
            job = s.job(source=source)
            job['metadata']['name'] = name
            s.k.apply(job)
        op = s.start_operator(env={'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': f'{hr_emulator.url},{store.url}'},
                              extra_args=['--object-source-recheck-seconds', '1'])
        for name in ('huge-blob', 'huge-s3'):
            s.name = name
            # The pre-flight read the object and got the store's (cut) 404.
            s.wait_ready('False', 'SourceNotFound', timeout=30)
        # STS's answer is read to 1 MiB and refused: a credential problem of the job alone.
        s.name = 'huge-sts'
        message = condition(s.wait_ready('False', 'SourceAccessDenied', timeout=30), 'Ready')['message']
        assert 'larger than 1024 KiB' in message, message
        s.name = 'plain'
        s.apply(csv_text(5))
        s.run_now()
        s.wait_ready('True', 'Succeeded', timeout=30)
        assert store.requests, 'the store was asked'
        s.assert_running()
        peak_kib = int(re.search(r'VmHWM:\s+(\d+) kB', open(f'/proc/{op.process.pid}/status').read()).group(1))
        print(f'\noperator peak RSS (VmHWM) after the hostile stores: {peak_kib / 1024:.1f} MiB')
        assert peak_kib < 256 * 1024, f'peak RSS {peak_kib} KiB'
    finally:
        store.stop()
