"""An agency network end to end: the hr emulator serves HTTPS with a certificate of a CA the test
made (the agency's TLS-inspection CA), reachable only through a real HTTP CONNECT proxy
(tinyproxy). The operator runs with the arguments and environment the Helm chart renders for
``proxy.httpsProxy``/``proxy.httpProxy`` and ``trustedCA.configMap``: it trusts the CA only
through ``--ca-file``, sends its token and ingestion requests through the proxy, and never its
Kubernetes API requests. The upload Job of a PVC source gets the same proxy and CA."""
from __future__ import annotations

import json
import pathlib
import subprocess

import pytest
import yaml

from harness import REPO, HrEmulator, Operator, UploadJobKubelet, condition, count_records, csv_text, wait_for
from network import TestCa, Tinyproxy, wait_for_requests

SAMPLE_CSV = (REPO / 'examples' / 'employee_termination_data.csv').read_text()
RUN_NOW = 'hrconnector.io/run-now'
CA_MOUNT = '/etc/hrconnector/trusted-ca/'


def _chart_container(namespace: str, proxy_url: str) -> dict:
    """The controller container of `helm template` behind a proxy with an agency CA."""
    helm = next(iter(sorted((REPO / '.cache' / 'tools').glob('helm4-*/helm'))), None)
    assert helm is not None, 'no Helm in .cache/tools: run scripts/check-deploy.sh first (scripts/test.sh does)'
    rendered = subprocess.run(
        [str(helm), 'template', 'hr', str(REPO / 'charts' / 'hrconnector'), '--namespace', namespace,
         '--set', f'watchNamespace={namespace}', '--set', f'proxy.httpsProxy={proxy_url}',
         '--set', f'proxy.httpProxy={proxy_url}', '--set', 'trustedCA.configMap.name=agency-ca',
         '--set', 'trustedCA.configMap.key=ca.crt'],
        check=True, capture_output=True, text=True).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d.get('kind') == 'Deployment')
    return deployment['spec']['template']['spec']['containers'][0]


def _job(ns: str, name: str, app: dict[str, str], emu: HrEmulator, source: dict) -> dict:
    # Two names for the one emulator, so the token and the ingestion requests each need a tunnel.
    return {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
            'metadata': {'name': name, 'namespace': ns},
            'spec': {'cloud': 'GCC', 'jobId': app['jobId'], 'credentials': {'secretRef': {'name': 'hr-app'}},
                     'source': source, 'schedule': '0 3 * * *', 'recordsPerCall': 5,
                     'endpoints': {'authorityUrl': f'https://localhost:{emu.port}',
                                   'ingestionUrl': f'https://127.0.0.1:{emu.port}'}}}


def test_over_https_through_a_proxy_with_an_agency_ca_and_the_api_server_bypasses_it(
        cluster, namespace, app, operators, log_dir, tmp_path: pathlib.Path):
    ca = TestCa(tmp_path / 'pki')
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']], tls=ca)
    proxy = Tinyproxy(log_dir, connect_port=emu.port)
    k = cluster.kubectl
    try:
        assert emu.url.startswith('https://'), emu.url
        container = _chart_container(namespace, proxy.url)
        env = {e['name']: e['value'] for e in container.get('env', []) if 'value' in e}
        assert env['HTTPS_PROXY'] == env['HTTP_PROXY'] == proxy.url
        assert env['NO_PROXY'] == 'kubernetes.default.svc,.svc,.cluster.local', env['NO_PROXY']
        assert 'SSL_CERT_FILE' not in env
        # As rendered, but for what a pod gets from its volumes and the downward API.
        ca_args = [a for a in container['args'] if a.startswith('--ca-file=')]
        assert ca_args == [f'--ca-file={CA_MOUNT}ca.crt'], container['args']
        args = [f'--ca-file={ca.ca_file}' if a.startswith('--ca-file=')
                else '--metrics-bind-address=127.0.0.1:0' if a.startswith('--metrics-bind-address=') else a
                for a in container['args']]
        env.update({'POD_NAMESPACE': namespace, 'POD_NAME': 'agency-operator',
                    'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': f'https://localhost:{emu.port},https://127.0.0.1:{emu.port}'})
        op = Operator('agency-operator', log_dir, cluster.kubeconfig, namespace, env=env, exact_args=args)
        operators.append(op)

        k.apply({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'hr-app', 'namespace': namespace},
                 'type': 'Opaque', 'stringData': {'tenantId': app['tenantId'], 'appId': app['appId'],
                                                  'appSecret': app['appSecret']}},
                {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'hr-data', 'namespace': namespace},
                 'data': {'data.csv': SAMPLE_CSV}},
                _job(namespace, 'terminations', app, emu, {'configMap': {'name': 'hr-data', 'key': 'data.csv'}}))
        k.annotate('hrconnectorjobs.hrconnector.io', 'terminations', namespace, RUN_NOW, 'proxy-1')

        def ready(name: str, records: int):
            def probe():
                obj = k.get('hrconnectorjobs.hrconnector.io', name, namespace)
                c = condition(obj, 'Ready')
                return obj if c and c['status'] == 'True' and c['reason'] == 'Succeeded' \
                    and obj['status'].get('recordsSaved') == records else None
            return wait_for(f'{name}: Ready=True Succeeded', probe, timeout=60, context=lambda: json.dumps(
                (k.get('hrconnectorjobs.hrconnector.io', name, namespace) or {}).get('status')) + '\n'
                + op.tail(40) + '\n--- tinyproxy ---\n' + proxy.log()[-3000:])

        expected = count_records(SAMPLE_CSV)
        ready('terminations', expected)
        assert len(emu.received(app['jobId'])['records']) == expected
        operator_requests = wait_for_requests(proxy, 2)
        tunnels = {f'localhost:{emu.port}', f'127.0.0.1:{emu.port}'}
        # The token (localhost) and the ingestion requests (127.0.0.1) went through the proxy...
        assert set(proxy.connects()) == tunnels, proxy.requests()
        # ...and nothing else did: every request the proxy saw is a tunnel to the emulator. The
        # operator talked to the API server all along (it watched, patched status, wrote Events),
        # with HTTP_PROXY pointing at this proxy and the API server not in NO_PROXY.
        api = cluster.thread.url.split('://', 1)[1].rstrip('/') if cluster.thread else None
        assert all(r.startswith('CONNECT ') for r in operator_requests), operator_requests
        if api:
            assert api not in proxy.log(), f'an API server request went through the proxy:\n{proxy.log()}'

        # A PVC source: the operator's upload Job gets the same proxy and CA. The test plays the
        # Job controller and kubelet (see UploadJobKubelet); the Job's own env and mounts decide.
        if cluster.api is None:
            return
        before = len(proxy.connects())
        k.apply(_job(namespace, 'share', app, emu,
                     {'persistentVolumeClaim': {'claimName': 'hr-exports', 'path': 'hr.csv'}}))
        k.annotate('hrconnectorjobs.hrconnector.io', 'share', namespace, RUN_NOW, 'proxy-2')
        batch_job = wait_for('the upload Job', lambda: next(iter(json.loads(k.run(
            'get', 'jobs.batch', '-n', namespace, '-o', 'json'))['items']), None), context=op.tail)
        job_env = {e['name']: e.get('value') for e in batch_job['spec']['template']['spec']['containers'][0]['env']}
        assert job_env['HTTPS_PROXY'] == proxy.url and job_env['NO_PROXY'] == env['NO_PROXY'], job_env
        csv = csv_text(12, prefix='share')
        UploadJobKubelet(k, cluster.thread.url, namespace, tmp_path / 'kubelet').run(batch_job, {'hr.csv': csv},
                                                                                       log_dir)
        ready('share', 12)
        job_connects = proxy.connects()[before:]
        assert set(job_connects) == tunnels, proxy.requests()
        assert api not in proxy.log()
        # The Job trusted the CA through the operator's bundle only: the same bytes, mounted.
        annotation = batch_job['spec']['template']['metadata']['annotations']['hrconnector.io/trusted-ca']
        assert annotation == ca.ca_file.read_text()
    finally:
        proxy.stop()
        emu.stop()


def test_an_untrusted_certificate_fails_at_once_with_its_own_reason(cluster, namespace, app, operators, log_dir,
                                                                    tmp_path: pathlib.Path):
    """The same HTTPS emulator, but the operator has no --ca-file: UntrustedCertificate, naming the
    host and the fix, in seconds, with nothing sent."""
    ca = TestCa(tmp_path / 'pki')
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']], tls=ca)
    k = cluster.kubectl
    try:
        k.apply({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'hr-app', 'namespace': namespace},
                 'type': 'Opaque', 'stringData': {'tenantId': app['tenantId'], 'appId': app['appId'],
                                                  'appSecret': app['appSecret']}},
                {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'hr-data', 'namespace': namespace},
                 'data': {'data.csv': SAMPLE_CSV}},
                _job(namespace, 'terminations', app, emu, {'configMap': {'name': 'hr-data', 'key': 'data.csv'}}))
        op = Operator('no-ca-operator', log_dir, cluster.kubeconfig, namespace, env={
            'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': f'https://localhost:{emu.port},https://127.0.0.1:{emu.port}'})
        operators.append(op)
        k.annotate('hrconnectorjobs.hrconnector.io', 'terminations', namespace, RUN_NOW, 'untrusted-1')

        def failed():
            obj = k.get('hrconnectorjobs.hrconnector.io', 'terminations', namespace)
            c = condition(obj, 'Ready')
            return c if c and c['status'] == 'False' and c['reason'] == 'UntrustedCertificate' else None
        c = wait_for('Ready=False UntrustedCertificate', failed, timeout=30, context=op.tail)
        message = c['message']
        assert 'localhost' in message and 'not trusted' in message and '--ca-file' in message \
            and 'trustedCA' in message, message
        stats = emu.stats()
        assert stats['token_requests'] == stats['upload_requests'] == 0, stats
        assert 'retrying' not in op.log(), 'an untrusted certificate is not retried'
    finally:
        emu.stop()
