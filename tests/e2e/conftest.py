"""Fixtures of the end-to-end suite.

By default every session runs against ``KubeApiEmulator`` (kmock) on a free loopback port; with
``HRCONNECTOR_E2E_REAL_CLUSTER=1`` it runs against the cluster of the user's ``KUBECONFIG``
instead (the operator still runs locally, as a child process)."""

from __future__ import annotations

import os
import pathlib
import sys
import uuid
from typing import Iterator

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import harness  # noqa: E402
import rbac_audit  # noqa: E402
from harness import CRD_FILE, REAL_CLUSTER, HrEmulator, Kubectl, Operator  # noqa: E402

# The API emulator of this session (kept after its fixture stops it: the RBAC check reads its
# record of the operator's requests at the very end), and how many tests were deselected.
_session_api = None
_deselected = 0


class Cluster:
    def __init__(self, kubeconfig: str | None, emulator_thread=None):
        self.kubeconfig = kubeconfig
        self.kubectl = Kubectl(kubeconfig)
        self.thread = emulator_thread  # None on a real cluster

    @property
    def api(self):
        """The ``KubeApiEmulator`` (kmock) instance, or None on a real cluster."""
        return self.thread.emulator if self.thread else None


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f'rep_{rep.when}', rep)


@pytest.fixture(scope='session')
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    if not harness.BINARY.exists():
        pytest.fail(f'{harness.BINARY} is missing: run `cargo build` (scripts/e2e.sh does)')
    if REAL_CLUSTER:
        cluster = Cluster(os.environ.get('KUBECONFIG'))
        cluster.kubectl.apply_file(CRD_FILE)
        harness.wait_for('the HrConnectorJob CRD to be established', lambda: 'True' in cluster.kubectl.run(
            'get', 'crd', 'hrconnectorjobs.hrconnector.io', '-o',
            'jsonpath={.status.conditions[?(@.type=="Established")].status}', check=False))
        yield cluster
        return
    from kube_emulator import EmulatorThread, write_kubeconfig
    thread = EmulatorThread().start()
    kubeconfig = tmp_path_factory.mktemp('kube') / 'kubeconfig'
    write_kubeconfig(kubeconfig, thread.url)
    cluster = Cluster(str(kubeconfig), thread)
    global _session_api
    _session_api = thread.emulator
    # As on a real cluster: the CRD is applied, which registers the resource in the emulator.
    cluster.kubectl.apply_file(CRD_FILE)
    try:
        yield cluster
    finally:
        thread.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f'e2e-{uuid.uuid4().hex[:8]}'
    cluster.kubectl.apply({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name}})
    yield name
    if REAL_CLUSTER:
        cluster.kubectl.delete('namespace', name)


@pytest.fixture
def log_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / 'logs'
    d.mkdir()
    return d


@pytest.fixture
def app() -> dict[str, str]:
    """The Entra ID app and connector job the emulator knows."""
    return {'tenantId': str(uuid.uuid4()), 'appId': str(uuid.uuid4()),
            'appSecret': 'e2e-' + uuid.uuid4().hex, 'jobId': str(uuid.uuid4())}


@pytest.fixture
def hr_emulator(log_dir, app, request) -> Iterator[HrEmulator]:
    emu = HrEmulator(log_dir, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']])
    yield emu
    emu.stop()
    _report_logs(request, [emu.process])


@pytest.fixture
def operators(cluster, namespace, log_dir, request) -> Iterator[list[Operator]]:
    """Start operators with ``start_operator(operators, ...)``; all are killed at teardown and
    their logs printed when the test failed."""
    started: list[Operator] = []
    yield started
    for op in started:
        op.stop()
    _report_logs(request, [op.process for op in started])


def _report_logs(request, processes) -> None:
    rep = getattr(request.node, 'rep_call', None)
    if rep is not None and rep.failed:
        for p in processes:
            sys.stderr.write(f'\n===== {p.name}: {p.log_path} (last 60 lines) =====\n{p.tail(60)}\n')


def pytest_deselected(items) -> None:
    global _deselected
    _deselected += len(items)


def pytest_sessionfinish(session, exitstatus) -> None:
    """The RBAC check (rbac_audit.py): a request `hrconnector rbac` does not allow fails the
    session always; a grant no request used fails it only when the whole suite ran and passed
    (a subset, or a test that stopped early, need not reach every call)."""
    if _session_api is None or not _session_api.operator_requests:
        return
    forbidden, unused = rbac_audit.audit(_session_api.operator_requests, rbac_audit.operator_grants(harness.BINARY))
    whole_suite = (_deselected == 0 and not session.config.option.keyword and not session.config.option.markexpr
                   and session.testsfailed == 0 and not session.shouldstop and not session.shouldfail
                   and all(pathlib.Path(a.split('::')[0]).resolve() == pathlib.Path(__file__).parent.resolve()
                           for a in session.config.args))
    lines = rbac_audit.report(forbidden, unused, check_unused=whole_suite)
    terminal = session.config.pluginmanager.get_plugin('terminalreporter')
    write = terminal.write_line if terminal else print
    summary = (f'RBAC check: {len(_session_api.operator_requests)} operator requests, '
               f'{len(forbidden)} not allowed, {len(unused)} grants unused'
               + ('' if whole_suite else ' (unused grants not checked: not the whole suite)'))
    write(summary)
    for line in lines:
        write(line)
    if lines:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
