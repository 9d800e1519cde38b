"""Tests of the harness itself: the kmock-based API emulator behaves the way kube-rs and kubectl
need (each test names the kmock 0.8 gap it covers). They do not need the operator."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from harness import KUBECTL, REAL_CLUSTER, wait_for

pytestmark = pytest.mark.skipif(REAL_CLUSTER, reason='tests of the kmock API emulator; a real cluster needs none')

JOBS = '/apis/hrconnector.io/v1alpha1'


def call(cluster, method: str, path: str, body: Any = None, content_type: str = 'application/json',
         raw: bytes | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(cluster.thread.url + path, data=data, method=method,
                                 headers={'Content-Type': content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b'{}'), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'{}'), dict(e.headers)


def job(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
            'metadata': {'name': name, 'namespace': ns},
            'spec': {'cloud': 'GCC', 'jobId': 'j', 'credentials': {'secretRef': {'name': 's'}},
                     'source': {'configMap': {'name': 'c', 'key': 'data.csv'}}, 'schedule': '0 3 * * *', **spec},
            'status': {'recordsSaved': 99}}


def rv(obj: dict[str, Any]) -> int:
    return int(obj['metadata']['resourceVersion'])


def test_core_and_group_discovery(cluster):
    code, api, _ = call(cluster, 'GET', '/api')
    assert code == 200 and api['versions'] == ['v1']
    code, v1, _ = call(cluster, 'GET', '/api/v1')
    assert v1['groupVersion'] == 'v1'  # kmock 0.8 says "/v1"
    names = {r['name'] for r in v1['resources']}
    assert {'configmaps', 'secrets', 'events', 'pods', 'namespaces'} <= names
    code, group, _ = call(cluster, 'GET', JOBS)
    assert code == 200 and group['groupVersion'] == 'hrconnector.io/v1alpha1'
    assert {r['name'] for r in group['resources']} == {'hrconnectorjobs', 'hrconnectorjobs/status'}
    resources = cluster.kubectl.run('api-resources', '-o', 'name')
    for name in ('hrconnectorjobs.hrconnector.io', 'leases.coordination.k8s.io', 'events.events.k8s.io',
                 'jobs.batch', 'configmaps', 'secrets'):
        assert name in resources.split(), resources


def test_resource_versions_increase_on_every_write_and_lists_carry_kind(cluster, namespace):
    code, created, _ = call(cluster, 'POST', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs', job('a', namespace))
    assert code == 201
    meta = created['metadata']
    assert meta['generation'] == 1 and meta['uid'] and meta['creationTimestamp']
    assert 'status' not in created  # dropped on create: status is a subresource
    code, patched, _ = call(cluster, 'PATCH', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/a',
                            {'metadata': {'annotations': {'x': '1'}}}, 'application/merge-patch+json')
    assert code == 200 and rv(patched) > rv(created)
    code, status, _ = call(cluster, 'PATCH', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/a/status',
                           {'status': {'recordsSaved': 2}}, 'application/merge-patch+json')
    assert rv(status) > rv(patched) and status['status'] == {'recordsSaved': 2}
    code, listing, _ = call(cluster, 'GET', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs')
    assert listing['kind'] == 'HrConnectorJobList' and listing['apiVersion'] == 'hrconnector.io/v1alpha1'
    assert int(listing['metadata']['resourceVersion']) >= rv(status)
    assert [rv(i) for i in listing['items']] == [rv(status)]
    code, cms, _ = call(cluster, 'GET', f'/api/v1/namespaces/{namespace}/configmaps')
    assert cms['kind'] == 'ConfigMapList' and cms['apiVersion'] == 'v1'
    # A no-op patch does not bump the version.
    code, again, _ = call(cluster, 'PATCH', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/a/status',
                          {'status': {'recordsSaved': 2}}, 'application/merge-patch+json')
    assert rv(again) == rv(status)


def test_not_found_and_already_exists_are_kubernetes_statuses(cluster, namespace):
    code, body, _ = call(cluster, 'GET', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/missing')
    assert code == 404
    assert body['kind'] == 'Status' and body['reason'] == 'NotFound' and body['code'] == 404
    assert body['details']['name'] == 'missing'
    code, body, _ = call(cluster, 'GET', f'/api/v1/namespaces/{namespace}/configmaps/missing')
    assert (code, body['reason']) == (404, 'NotFound')
    call(cluster, 'POST', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs', job('dup', namespace))
    code, body, _ = call(cluster, 'POST', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs', job('dup', namespace))
    assert (code, body['reason']) == (409, 'AlreadyExists')
    code, body, _ = call(cluster, 'PATCH', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/missing/status',
                         {'status': {}}, 'application/merge-patch+json')
    assert (code, body['reason']) == (404, 'NotFound')


def test_status_subresource_is_isolated_and_generation_follows_spec(cluster, namespace):
    base = f'{JOBS}/namespaces/{namespace}/hrconnectorjobs/iso'
    call(cluster, 'POST', f'{JOBS}/namespaces/{namespace}/hrconnectorjobs', job('iso', namespace))
    call(cluster, 'PATCH', base + '/status', {'status': {'recordsSaved': 1}}, 'application/merge-patch+json')
    # Writing status through the main resource changes nothing.
    code, obj, _ = call(cluster, 'PATCH', base, {'status': {'recordsSaved': 7}}, 'application/merge-patch+json')
    assert obj['status'] == {'recordsSaved': 1} and obj['metadata']['generation'] == 1
    # Writing spec through /status changes nothing but status.
    code, obj, _ = call(cluster, 'PATCH', base + '/status', {'spec': {'suspend': True}, 'status': {'recordsSaved': 3}},
                        'application/merge-patch+json')
    assert 'suspend' not in obj['spec'] and obj['status'] == {'recordsSaved': 3}
    assert obj['metadata']['generation'] == 1
    # A spec change bumps the generation; a metadata change does not.
    code, obj, _ = call(cluster, 'PATCH', base, {'spec': {'suspend': True}}, 'application/merge-patch+json')
    assert obj['spec']['suspend'] is True and obj['metadata']['generation'] == 2
    code, obj, _ = call(cluster, 'PATCH', base, {'metadata': {'labels': {'a': 'b'}}}, 'application/merge-patch+json')
    assert obj['metadata']['generation'] == 2
    # JSON patch works on both.
    code, obj, _ = call(cluster, 'PATCH', base + '/status', [{'op': 'replace', 'path': '/status/recordsSaved', 'value': 4}],
                        'application/json-patch+json')
    assert obj['status'] == {'recordsSaved': 4}


def test_put_replaces_with_resource_version_precondition(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/configmaps'
    code, cm, _ = call(cluster, 'POST', base, {'metadata': {'name': 'put'}, 'data': {'a': '1'}})
    stale = json.loads(json.dumps(cm))
    cm['data'] = {'b': '2'}
    code, replaced, _ = call(cluster, 'PUT', f'{base}/put', cm)
    assert code == 200 and replaced['data'] == {'b': '2'} and rv(replaced) > rv(cm)
    stale['data'] = {'c': '3'}
    code, body, _ = call(cluster, 'PUT', f'{base}/put', stale)
    assert (code, body['reason']) == (409, 'Conflict')
    code, body, _ = call(cluster, 'PUT', f'{base}/nope', {'metadata': {'name': 'nope'}})
    assert (code, body['reason']) == (404, 'NotFound')


def test_server_side_apply_creates_and_detects_field_conflicts(cluster, namespace):
    """What kube-lease-manager relies on: apply creates a missing Lease; a second manager that
    applies a different holder gets 409 Conflict unless it forces."""
    path = f'/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/lock'
    apply = 'application/apply-patch+yaml'

    def hold(who: str, force: bool = False):
        return call(cluster, 'PATCH', f'{path}?fieldManager={who}' + ('&force=true' if force else ''),
                    {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': 'lock'},
                     'spec': {'holderIdentity': who, 'leaseDurationSeconds': 15}}, apply)

    code, lease, _ = hold('a')
    assert code == 201 and lease['spec']['holderIdentity'] == 'a'
    code, lease, _ = hold('a')
    assert code == 200
    code, body, _ = hold('b')
    assert (code, body['reason']) == (409, 'Conflict'), body
    code, lease, _ = hold('b', force=True)
    assert code == 200 and lease['spec']['holderIdentity'] == 'b'
    # A strategic merge patch that clears the holder releases ownership; then anyone may apply.
    call(cluster, 'PATCH', f'{path}?fieldManager=b', {'spec': {'holderIdentity': None}},
         'application/strategic-merge-patch+json')
    code, lease, _ = hold('c')
    assert code == 200 and lease['spec']['holderIdentity'] == 'c'


def _watch(cluster, path: str, stop_after: int, timeout: float = 10) -> tuple[list[dict[str, Any]], str]:
    req = urllib.request.Request(cluster.thread.url + path)
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        ctype = resp.headers.get('Content-Type', '')
        while len(events) < stop_after:
            line = resp.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events, ctype


def test_watch_streams_json_with_resource_versions_and_resumes(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/configmaps'
    code, first, _ = call(cluster, 'POST', base, {'metadata': {'name': 'w1'}, 'data': {'v': '1'}})
    # From "0": the current state as ADDED, then the changes.
    result: dict[str, Any] = {}

    def watcher():
        result['events'], result['ctype'] = _watch(cluster, f'{base}?watch=true&resourceVersion=0', 3)

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.3)
    code, second, _ = call(cluster, 'PATCH', f'{base}/w1', {'data': {'v': '2'}}, 'application/merge-patch+json')
    code, gone, _ = call(cluster, 'DELETE', f'{base}/w1')
    t.join(10)
    assert result['ctype'].startswith('application/json')  # kmock 0.8: application/octet-stream
    assert [e['type'] for e in result['events']] == ['ADDED', 'MODIFIED', 'DELETED']
    versions = [rv(e['object']) for e in result['events']]
    assert versions == sorted(versions) and len(set(versions)) == 3 and versions[0] == rv(first)
    # Resuming from a version replays only what came after it (what kube-rs does after a timeout).
    events, _ = _watch(cluster, f'{base}?watch=true&resourceVersion={rv(first)}&timeoutSeconds=1', 10)
    assert [e['type'] for e in events] == ['MODIFIED', 'DELETED']
    # timeoutSeconds ends the stream (with a bookmark when asked).
    started = time.monotonic()
    events, _ = _watch(cluster, f'{base}?watch=true&resourceVersion={versions[-1]}&timeoutSeconds=1&allowWatchBookmarks=true', 10)
    assert time.monotonic() - started < 5
    assert [e['type'] for e in events] == ['BOOKMARK']


def test_selectors_filter_lists(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/pods'
    call(cluster, 'POST', base, {'metadata': {'name': 'p1', 'labels': {'job-name': 'x'}}})
    call(cluster, 'POST', base, {'metadata': {'name': 'p2', 'labels': {'job-name': 'y'}}})
    code, listing, _ = call(cluster, 'GET', f'{base}?labelSelector=job-name%3Dx')
    assert [i['metadata']['name'] for i in listing['items']] == ['p1']
    code, listing, _ = call(cluster, 'GET', f'{base}?fieldSelector=metadata.name%3Dp2')
    assert [i['metadata']['name'] for i in listing['items']] == ['p2']


def test_kubectl_apply_get_annotate_round_trip(cluster, namespace):
    k = cluster.kubectl
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 's', 'namespace': namespace},
              'stringData': {'tenantId': 't'}}
    cm = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'c', 'namespace': namespace},
          'data': {'data.csv': 'a'}}
    out = k.apply(secret, cm, job('rt', namespace))
    assert 'created' in out
    assert k.get('secret', 's', namespace)['data'] == {'tenantId': 'dA=='}  # stringData folded in
    cm['data']['data.csv'] = 'b'
    assert 'configmap/c configured' in k.apply(cm)
    assert k.get('configmap', 'c', namespace)['data'] == {'data.csv': 'b'}
    assert 'unchanged' in k.apply(cm)
    k.annotate('hrconnectorjob', 'rt', namespace, 'hrconnector.io/run-now', 'one')
    obj = k.get('hrconnectorjobs.hrconnector.io', 'rt', namespace)
    assert obj['metadata']['annotations']['hrconnector.io/run-now'] == 'one'
    assert k.get('hrconnectorjob', 'nothere', namespace) is None
    k.delete('configmap', 'c', namespace)
    assert k.get('configmap', 'c', namespace) is None


def test_kubectl_get_watch_sees_changes(cluster, namespace):
    k = cluster.kubectl
    k.apply(job('watched', namespace))
    cmd = [KUBECTL, '--kubeconfig', cluster.kubeconfig, '-n', namespace, 'get', 'hrconnectorjobs', '--watch',
           '-o', 'jsonpath={.metadata.name}:{.metadata.annotations.n}{"\\n"}', '--request-timeout=8s']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        k.annotate('hrconnectorjob', 'watched', namespace, 'n', '2')
        lines: list[str] = []

        def read():
            for line in proc.stdout:
                lines.append(line.strip())
                if line.strip() == 'watched:2':
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(8)
        assert 'watched:2' in lines, (lines, proc.stderr.read() if proc.poll() is not None else '')
    finally:
        proc.kill()
        proc.wait()


def test_metadata_only_requests_get_partial_objects(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/configmaps'
    call(cluster, 'POST', base, {'metadata': {'name': 'm1'}, 'data': {'big': 'x' * 1000}})
    meta = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'
    req = urllib.request.Request(cluster.thread.url + base, headers={'Accept': meta})
    with urllib.request.urlopen(req, timeout=10) as resp:
        listed = json.loads(resp.read())
    assert listed['kind'] == 'PartialObjectMetadataList'
    assert [i['metadata']['name'] for i in listed['items']] == ['m1']
    assert 'data' not in listed['items'][0] and listed['items'][0]['kind'] == 'PartialObjectMetadata'
    code, full, _ = call(cluster, 'GET', f'{base}/m1')
    assert full['data']['big'] == 'x' * 1000  # an ordinary request still gets everything


def test_deletion_with_finalizers_sets_deletion_timestamp_until_they_are_removed(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/configmaps'
    call(cluster, 'POST', base, {'metadata': {'name': 'f1', 'finalizers': ['example.com/keep']}})
    code, deleting, _ = call(cluster, 'DELETE', f'{base}/f1')
    assert code == 200 and deleting['metadata'].get('deletionTimestamp')
    code, still, _ = call(cluster, 'GET', f'{base}/f1')
    assert code == 200 and still['metadata']['deletionTimestamp'] == deleting['metadata']['deletionTimestamp']
    call(cluster, 'PATCH', f'{base}/f1', {'metadata': {'finalizers': None}}, 'application/merge-patch+json')
    code, _, _ = call(cluster, 'GET', f'{base}/f1')
    assert code == 404


def test_watch_events_can_be_delayed_like_a_lagging_watch_cache(cluster, namespace):
    base = f'/api/v1/namespaces/{namespace}/configmaps'
    code, first, _ = call(cluster, 'POST', base, {'metadata': {'name': 'd1'}})
    cluster.api.watch_delay = 0.5
    try:
        result: dict[str, Any] = {}

        def watcher():
            result['events'], _ = _watch(cluster, f'{base}?watch=true&resourceVersion={rv(first)}', 1)
            result['at'] = time.monotonic()

        t = threading.Thread(target=watcher)
        t.start()
        time.sleep(0.2)
        written = time.monotonic()
        call(cluster, 'PATCH', f'{base}/d1', {'data': {'v': '2'}}, 'application/merge-patch+json')
        code, now, _ = call(cluster, 'GET', f'{base}/d1')
        assert now['data'] == {'v': '2'}  # reads are not delayed, only watch events
        t.join(10)
        assert [e['type'] for e in result['events']] == ['MODIFIED']
        assert result['at'] - written >= 0.5  # a lower bound: never flaky on a slow machine
    finally:
        cluster.api.watch_delay = 0.0
