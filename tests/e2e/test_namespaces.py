"""The operator watching a list of namespaces (``--namespace a --namespace b``, what the chart's
``watchNamespaces`` renders): jobs in both go Ready, a job in a third namespace is never touched,
and every request the operator made is one a Role in a watched namespace allows (``hrconnector
rbac --namespace a,b``): nothing cluster-wide, nothing in another namespace."""
from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

import harness
import rbac_audit
from harness import REPO, Operator, allow_emulator, condition, count_records, wait_for

SAMPLE_CSV = (REPO / 'examples' / 'employee_termination_data.csv').read_text()
RUN_NOW = 'hrconnector.io/run-now'
JOBS = 'hrconnectorjobs.hrconnector.io'


def _objects(ns: str, app: dict[str, str], url: str) -> list[dict[str, Any]]:
    return [
        {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'hr-app', 'namespace': ns}, 'type': 'Opaque',
         'stringData': {'tenantId': app['tenantId'], 'appId': app['appId'], 'appSecret': app['appSecret']}},
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'hr-data', 'namespace': ns},
         'data': {'data.csv': SAMPLE_CSV}},
        {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
         'metadata': {'name': 'terminations', 'namespace': ns},
         'spec': {'cloud': 'GCC', 'jobId': app['jobId'], 'credentials': {'secretRef': {'name': 'hr-app'}},
                  'source': {'configMap': {'name': 'hr-data', 'key': 'data.csv'}}, 'schedule': '0 3 * * *',
                  'endpoints': {'authorityUrl': url, 'ingestionUrl': url}}},
    ]


def test_an_operator_watching_two_namespaces_runs_both_and_ignores_a_third_with_role_rules_only(
        cluster, namespace, hr_emulator, app, operators, log_dir):
    if cluster.api is None:
        pytest.skip("needs the API emulator: it records the operator's requests")
    k = cluster.kubectl
    second, unwatched = f'{namespace}-b', f'{namespace}-c'
    for ns in (second, unwatched):
        k.apply({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}})
    try:
        for ns in (namespace, second, unwatched):
            k.apply(*_objects(ns, app, hr_emulator.url))
        requests_before = len(cluster.api.operator_requests)
        op = Operator('two-namespaces', log_dir, cluster.kubeconfig, namespace, [f'--namespace={second}'],
                      env=allow_emulator(hr_emulator))
        operators.append(op)
        for ns in (namespace, second, unwatched):
            k.annotate(JOBS, 'terminations', ns, RUN_NOW, 'ns-1')

        expected = count_records(SAMPLE_CSV)
        for ns in (namespace, second):
            def ready(ns=ns):
                obj = k.get(JOBS, 'terminations', ns)
                c = condition(obj, 'Ready') if obj else None
                return obj if c and c.get('status') == 'True' and c.get('reason') == 'Succeeded' else None
            obj = wait_for(f'{ns}: Ready=True Succeeded', ready, timeout=60, context=lambda: op.tail(30))
            assert obj['status']['recordsSaved'] == expected
        assert hr_emulator.stats()['upload_requests'] == 2
        # The unwatched namespace's job: never reconciled (no status), its run-now ignored.
        time.sleep(1)
        assert not (k.get(JOBS, 'terminations', unwatched) or {}).get('status'), 'the third namespace was touched'
        assert op.alive()

        requests = cluster.api.operator_requests[requests_before:]
        outside = sorted({str(r) for r in requests if r.namespace not in (namespace, second)})
        assert outside == [], f'requests outside the watched namespaces (a Role could not allow them): {outside}'
        roles = subprocess.run([str(harness.BINARY), 'rbac', '--namespace', f'{namespace},{second}'],
                               check=True, capture_output=True, text=True).stdout
        forbidden, _ = rbac_audit.audit(requests, rbac_audit.grants_from_yaml(roles))
        assert forbidden == [], f'not allowed by the Roles: {forbidden}'
        watched = {(r.verb, r.rbac_resource, r.namespace) for r in requests}
        for ns in (namespace, second):
            assert ('watch', 'hrconnectorjobs', ns) in watched and ('watch', 'configmaps', ns) in watched, watched
    finally:
        for ns in (second, unwatched):
            if harness.REAL_CLUSTER:
                k.delete('namespace', ns)


def test_a_cluster_wide_operator_lists_and_watches_across_namespaces_within_the_cluster_role(
        cluster, namespace, hr_emulator, app, operators, log_dir):
    """The other mode (no --namespace, the chart's ``clusterWide``): jobs and ConfigMaps are listed
    and watched cluster-wide, and every request is one the ClusterRole of ``hrconnector rbac``
    allows. (Jobs left by earlier tests are seen too; only this test's job is looked at.)"""
    if cluster.api is None:
        pytest.skip("needs the API emulator: it records the operator's requests")
    k = cluster.kubectl
    k.apply(*_objects(namespace, app, hr_emulator.url))
    requests_before = len(cluster.api.operator_requests)
    op = Operator('cluster-wide', log_dir, cluster.kubeconfig, namespace, env=allow_emulator(hr_emulator),
                  exact_args=['controller', '--identity', 'cluster-wide', '--request-timeout-seconds', '30',
                              '--max-attempts', '3', '--metrics-bind-address', '127.0.0.1:0'])
    operators.append(op)
    k.annotate(JOBS, 'terminations', namespace, RUN_NOW, 'cw-1')

    def ready():
        obj = k.get(JOBS, 'terminations', namespace)
        c = condition(obj, 'Ready') if obj else None
        return obj if c and c.get('status') == 'True' and c.get('reason') == 'Succeeded' else None
    obj = wait_for('Ready=True Succeeded', ready, timeout=60, context=lambda: op.tail(30))
    assert obj['status']['recordsSaved'] == count_records(SAMPLE_CSV)
    op.stop()  # before it touches later tests' jobs

    requests = cluster.api.operator_requests[requests_before:]
    cluster_wide = {(r.verb, r.rbac_resource) for r in requests if r.namespace is None}
    assert {('list', 'hrconnectorjobs'), ('watch', 'hrconnectorjobs'),
            ('list', 'configmaps'), ('watch', 'configmaps')} <= cluster_wide, cluster_wide
    forbidden, _ = rbac_audit.audit(requests, rbac_audit.operator_grants(harness.BINARY))
    assert forbidden == [], f'not allowed by the ClusterRole: {forbidden}'
