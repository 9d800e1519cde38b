"""Workload identity end to end: a job with ``spec.credentials.workloadIdentity`` uploads with no
Secret in its namespace. The operator asks the API emulator's TokenRequest API for a token of the
job's service account (signed by the emulator's own issuer key) and sends it to the Entra ID
emulator's v2 endpoint, which verifies it against the app's federated identity credentials."""
from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from harness import REPO, HrEmulator, Operator, allow_emulator, condition, count_records, wait_for

SAMPLE_CSV = (REPO / 'examples' / 'employee_termination_data.csv').read_text()
RUN_NOW = 'hrconnector.io/run-now'
SERVICE_ACCOUNT = 'hr-uploader'
AUDIENCE = 'api://AzureADTokenExchange'


def _objects(ns: str, app: dict[str, str], emu: HrEmulator) -> list[dict[str, Any]]:
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount',
         'metadata': {'name': SERVICE_ACCOUNT, 'namespace': ns,
                      'annotations': {'azure.workload.identity/client-id': app['appId'],
                                      'azure.workload.identity/tenant-id': app['tenantId']}}},
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'hr-data', 'namespace': ns},
         'data': {'data.csv': SAMPLE_CSV}},
        {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
         'metadata': {'name': 'terminations', 'namespace': ns},
         'spec': {'cloud': 'GCCHigh', 'jobId': app['jobId'],
                  'credentials': {'workloadIdentity': {'serviceAccountName': SERVICE_ACCOUNT}},
                  'source': {'configMap': {'name': 'hr-data', 'key': 'data.csv'}},
                  'schedule': '0 3 * * *',
                  'endpoints': {'authorityUrl': emu.url, 'ingestionUrl': emu.url}}},
    ]


def test_a_workload_identity_job_uploads_with_no_secret_and_another_namespace_is_refused(
        cluster, namespace, app, operators, log_dir, tmp_path: pathlib.Path):
    if cluster.api is None:
        pytest.skip("needs the API emulator: the test hands its token issuer's key to the Entra ID emulator")
    issuer = cluster.api.token_issuer
    key_file = tmp_path / 'service-account-issuer.pem'
    key_file.write_text(issuer.public_key_pem())
    # The app trusts the cluster's issuer, and has a federated credential for one service account of
    # one namespace only: the other namespace's identically named account is not federated.
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']], extra_args=[
        '--trusted-issuer', f'{issuer.issuer}={key_file}',
        '--federated-credential', f'{issuer.issuer}|system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}|{AUDIENCE}'])
    other = f'{namespace}-other'
    k = cluster.kubectl
    try:
        k.apply({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': other}})
        for ns in (namespace, other):
            k.apply(*_objects(ns, app, emu))
            op = Operator(f'operator-{ns}', log_dir, cluster.kubeconfig, ns, env=allow_emulator(emu))
            operators.append(op)
            k.annotate('hrconnectorjobs.hrconnector.io', 'terminations', ns, RUN_NOW, 'wi-1')

        def job(ns: str) -> dict[str, Any] | None:
            return k.get('hrconnectorjobs.hrconnector.io', 'terminations', ns)

        def ready(ns: str, status: str, reason: str):
            def probe():
                obj = job(ns)
                c = condition(obj, 'Ready') if obj else None
                return obj if c and c.get('status') == status and c.get('reason') == reason else None
            return wait_for(f'{ns}: Ready={status} {reason}', probe, timeout=60,
                            context=lambda: f'{json.dumps((job(ns) or {}).get("status"))}\n'
                                            + '\n'.join(op.tail(30) for op in operators))

        expected = count_records(SAMPLE_CSV)
        obj = ready(namespace, 'True', 'Succeeded')
        assert obj['status']['recordsSaved'] == expected
        assert len(emu.received(app['jobId'])['records']) == expected
        # No Secret at all in the job's namespace: the credential is the service account.
        assert json.loads(k.run('get', 'secrets', '-n', namespace, '-o', 'json'))['items'] == []
        # What Entra ID accepted is a TokenRequest token of this namespace's service account.
        issued = [(ns, name) for ns, name, _ in issuer.issued]
        assert (namespace, SERVICE_ACCOUNT) in issued, issued

        # The other namespace's service account has no federated credential: AADSTS70021, nothing sent.
        refused = ready(other, 'False', 'AuthenticationFailed')
        message = condition(refused, 'Ready')['message']
        assert 'AADSTS70021' in message, message
        assert (other, SERVICE_ACCOUNT) in [(ns, name) for ns, name, _ in issuer.issued]
        assert emu.stats()['upload_requests'] == 1, 'only the federated namespace uploaded'
        # Neither the service account tokens nor the access tokens reach status, Events or logs.
        tokens = [t for _, _, t in issuer.issued] + emu.issued_tokens()
        events = k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'json')
        seen = json.dumps(obj) + json.dumps(refused) + events + ''.join(op.log() for op in operators)
        for token in tokens:
            assert token not in seen
    finally:
        emu.stop()


def test_no_federated_or_access_token_reaches_trace_logs_events_status(cluster, namespace, app, operators,
                                                                       log_dir, tmp_path: pathlib.Path):
    """The leak scenario for workload identity, with the operator at RUST_LOG=trace: a job whose
    service account is federated succeeds, one whose account is not is refused (AADSTS70021).
    No TokenRequest token and no access token appears in the operator's or the emulator's log,
    in Events (either API), or in the jobs' objects."""
    if cluster.api is None:
        pytest.skip("needs the API emulator: the test hands its token issuer's key to the Entra ID emulator")
    issuer = cluster.api.token_issuer
    key_file = tmp_path / 'service-account-issuer.pem'
    key_file.write_text(issuer.public_key_pem())
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']], extra_args=[
        '--trusted-issuer', f'{issuer.issuer}={key_file}',
        '--federated-credential', f'{issuer.issuer}|system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}|{AUDIENCE}'])
    k = cluster.kubectl
    try:
        k.apply(*_objects(namespace, app, emu))
        refused = _objects(namespace, app, emu)
        refused[0]['metadata']['name'] = 'not-federated'
        refused[2]['metadata']['name'] = 'refused'
        refused[2]['spec']['credentials']['workloadIdentity']['serviceAccountName'] = 'not-federated'
        k.apply(refused[0], refused[2])
        op = Operator('trace-operator', log_dir, cluster.kubeconfig, namespace,
                      env={'RUST_LOG': 'trace', **allow_emulator(emu)})
        operators.append(op)
        for name in ('terminations', 'refused'):
            k.annotate('hrconnectorjobs.hrconnector.io', name, namespace, RUN_NOW, 'leak-1')

        def ready(name: str, status: str, reason: str):
            def probe():
                obj = k.get('hrconnectorjobs.hrconnector.io', name, namespace)
                c = condition(obj, 'Ready') if obj else None
                return obj if c and c.get('status') == status and c.get('reason') == reason else None
            return wait_for(f'{name}: Ready={status} {reason}', probe, timeout=60, context=lambda: op.tail(30))

        good = ready('terminations', 'True', 'Succeeded')
        bad = ready('refused', 'False', 'AuthenticationFailed')
        assert 'AADSTS70021' in condition(bad, 'Ready')['message']
        service_account_tokens = [t for ns, _, t in issuer.issued if ns == namespace]
        assert len(service_account_tokens) >= 2, 'a TokenRequest token for each job'
        access_tokens = emu.issued_tokens()
        assert access_tokens, 'the federated job got an access token'
        outputs = {
            'operator log': op.log(),
            'emulator log': emu.log(),
            'events': k.run('get', 'events.events.k8s.io', '-n', namespace, '-o', 'yaml'),
            'core events': k.run('get', 'events', '-n', namespace, '-o', 'yaml'),
            'jobs': json.dumps(good) + json.dumps(bad),
        }
        assert 'TRACE' in outputs['operator log'], 'the operator really ran at trace level'
        for what, text in outputs.items():
            for i, token in enumerate(service_account_tokens):
                signature = token.rsplit('.', 1)[1]
                assert token not in text and signature not in text, f'service account token {i} leaked into the {what}'
            for i, token in enumerate(access_tokens):
                assert token not in text, f'access token {i} leaked into the {what}'
    finally:
        emu.stop()


def test_a_job_with_both_workload_identity_and_a_secret_ref_is_refused_before_anything_is_sent(
        cluster, namespace, app, operators, log_dir, tmp_path: pathlib.Path):
    """A real API server refuses such a job with the CRD's CEL rule; an old one (or the API
    emulator, which evaluates no CEL) lets it through, and the operator's own check refuses it:
    Ready=False InvalidSpec naming both fields, no TokenRequest, no Entra ID request."""
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']])
    k = cluster.kubectl
    try:
        objects = _objects(namespace, app, emu)
        objects[2]['spec']['credentials']['secretRef'] = {'name': 'hr-app'}
        if cluster.api is None:
            pytest.skip("a real API server's CEL rule refuses the job before the operator sees it")
        issued_before = len(cluster.api.token_issuer.issued)
        k.apply(*objects)
        op = Operator('both-credentials', log_dir, cluster.kubeconfig, namespace, env=allow_emulator(emu))
        operators.append(op)
        k.annotate('hrconnectorjobs.hrconnector.io', 'terminations', namespace, RUN_NOW, 'both-1')

        def refused():
            obj = k.get('hrconnectorjobs.hrconnector.io', 'terminations', namespace)
            c = condition(obj, 'Ready') if obj else None
            return c if c and c['status'] == 'False' and c['reason'] == 'InvalidSpec' else None
        c = wait_for('Ready=False InvalidSpec', refused, timeout=30, context=lambda: op.tail(30))
        assert 'exactly one of secretRef or workloadIdentity' in c['message'], c['message']
        stats = emu.stats()
        assert stats['token_requests'] == stats['upload_requests'] == 0, stats
        assert len(cluster.api.token_issuer.issued) == issued_before, 'no TokenRequest for an invalid job'
    finally:
        emu.stop()


def test_a_token_audience_outside_the_allowed_list_is_refused_and_no_token_is_minted(
        cluster, namespace, app, operators, log_dir):
    """A job asking a token of its service account for the API server's own audience (which would
    be an API token of that account): Ready=False InvalidSpec naming the field and the allowed
    list (--allow-token-audience, default the two federation audiences); no TokenRequest is made."""
    if cluster.api is None:
        pytest.skip("needs the API emulator: it records every TokenRequest and every operator request")
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']])
    k = cluster.kubectl
    try:
        objects = _objects(namespace, app, emu)
        objects[2]['spec']['credentials']['workloadIdentity']['audience'] = 'https://kubernetes.default.svc'
        issued_before = len(cluster.api.token_issuer.issued)
        requests_before = len(cluster.api.operator_requests)
        k.apply(*objects)
        op = Operator('audience', log_dir, cluster.kubeconfig, namespace, env=allow_emulator(emu))
        operators.append(op)
        k.annotate('hrconnectorjobs.hrconnector.io', 'terminations', namespace, RUN_NOW, 'audience-1')

        def refused():
            obj = k.get('hrconnectorjobs.hrconnector.io', 'terminations', namespace)
            c = condition(obj, 'Ready') if obj else None
            return c if c and c['status'] == 'False' and c['reason'] == 'InvalidSpec' else None
        c = wait_for('Ready=False InvalidSpec', refused, timeout=30, context=lambda: op.tail(30))
        for part in ('spec.credentials.workloadIdentity.audience', 'https://kubernetes.default.svc',
                     'api://AzureADTokenExchange, sts.amazonaws.com', '--allow-token-audience'):
            assert part in c['message'], c['message']
        assert len(cluster.api.token_issuer.issued) == issued_before, 'no token was minted'
        token_requests = [r for r in cluster.api.operator_requests[requests_before:]
                          if r.rbac_resource == 'serviceaccounts/token']
        assert token_requests == [], token_requests
        stats = emu.stats()
        assert stats['token_requests'] == stats['upload_requests'] == 0, stats
    finally:
        emu.stop()
