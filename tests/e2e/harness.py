"""Process and cluster helpers of the end-to-end suite: kubectl, the hrconnector emulator, the
operator process, bounded waits with useful failure messages."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get(
    'HRCONNECTOR_BIN', pathlib.Path(os.environ.get('CARGO_TARGET_DIR', REPO / 'target')) / 'debug' / 'hrconnector'))
CRD_FILE = REPO / 'crds' / 'hrconnector.io_hrconnectorjobs.yaml'
KUBECTL = os.environ.get('KUBECTL', 'kubectl')
REAL_CLUSTER = os.environ.get('HRCONNECTOR_E2E_REAL_CLUSTER') == '1'
# With HRCONNECTOR_E2E_CHART_ARGS=1 every operator runs with the arguments of the Deployment as
# the Helm chart renders it (default values), so the suite proves the chart's command line.
CHART_ARGS = os.environ.get('HRCONNECTOR_E2E_CHART_ARGS') == '1'
_chart_args: list[str] | None = None


def chart_controller_args() -> list[str]:
    """`helm template charts/hrconnector` → the controller container's args (Helm 4 from the
    cache scripts/check-deploy.sh fills), the listen address moved to a free loopback port."""
    global _chart_args
    if _chart_args is None:
        helm = next(iter(sorted((REPO / '.cache' / 'tools').glob('helm4-*/helm'))), None)
        if helm is None:
            raise RuntimeError('no Helm in .cache/tools: run scripts/check-deploy.sh first')
        rendered = subprocess.run([str(helm), 'template', 'hr', str(REPO / 'charts' / 'hrconnector')],
                                  check=True, capture_output=True, text=True).stdout
        deployment = next(d for d in yaml.safe_load_all(rendered) if d and d.get('kind') == 'Deployment')
        args = deployment['spec']['template']['spec']['containers'][0]['args']
        _chart_args = ['--metrics-bind-address=127.0.0.1:0' if a.startswith('--metrics-bind-address=') else a
                       for a in args]
    return list(_chart_args)
DEFAULT_TIMEOUT = float(os.environ.get('HRCONNECTOR_E2E_TIMEOUT', '30'))


class Kubectl:
    """kubectl bound to one kubeconfig. ``apply`` is client-side apply with ``--validate=false``
    (the emulator serves no OpenAPI document, and kubectl's validation needs one)."""

    def __init__(self, kubeconfig: str | None):
        self.kubeconfig = kubeconfig

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> str:
        cmd = [KUBECTL] + (['--kubeconfig', self.kubeconfig] if self.kubeconfig else []) + list(args)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f'{" ".join(cmd)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}')
        return proc.stdout

    def apply(self, *docs: dict[str, Any]) -> str:
        text = yaml.safe_dump_all(list(docs))
        return self.run('apply', '--server-side=false', '--validate=false', '-f', '-', input=text)

    def create(self, *docs: dict[str, Any]) -> str:
        """``kubectl create`` (no last-applied annotation: for objects near the size limits)."""
        return self.run('create', '--validate=false', '-f', '-', input=yaml.safe_dump_all(list(docs)))

    def replace(self, *docs: dict[str, Any]) -> str:
        return self.run('replace', '--validate=false', '-f', '-', input=yaml.safe_dump_all(list(docs)))

    def apply_file(self, path: str | pathlib.Path) -> str:
        return self.run('apply', '--server-side=false', '--validate=false', '-f', str(path))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        args = ['get', kind, name, '-o', 'json'] + (['-n', namespace] if namespace else [])
        cmd = [KUBECTL] + (['--kubeconfig', self.kubeconfig] if self.kubeconfig else []) + args
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            if 'NotFound' in proc.stderr or 'not found' in proc.stderr:
                return None
            raise AssertionError(f'{" ".join(cmd)} failed:\n{proc.stderr}')
        return json.loads(proc.stdout)

    def list(self, kind: str, namespace: str) -> dict[str, dict[str, Any]]:
        """Every object of ``kind`` in ``namespace`` by name, in one request (a probe that reads
        several objects sees them at one moment, and costs one kubectl start, not one each)."""
        items = json.loads(self.run('get', kind, '-n', namespace, '-o', 'json'))['items']
        return {item['metadata']['name']: item for item in items}

    def annotate(self, kind: str, name: str, namespace: str, key: str, value: str) -> None:
        self.run('annotate', '--overwrite', '-n', namespace, kind, name, f'{key}={value}')

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.run('delete', '--ignore-not-found', '--wait=false', kind, name,
                 *(['-n', namespace] if namespace else []))


def http_json(method: str, url: str, body: Any = None, timeout: float = 10, context: Any = None) -> Any:
    """``context``: the ``ssl.SSLContext`` of an https URL (the CA the test made)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={'Content-Type': 'application/json'} if data else {})
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        raw = resp.read()
        return json.loads(raw) if raw.strip() else None


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Process:
    """A child process whose stdout and stderr go to one log file."""

    def __init__(self, name: str, args: list[str], log_dir: pathlib.Path, env: dict[str, str] | None = None):
        self.name = name
        self.args = args
        self.log_path = log_dir / f'{name}.log'
        self._log = open(self.log_path, 'ab')
        self._log.write(f'$ {" ".join(args)}\n'.encode())
        self._log.flush()
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        if not self._log.closed:  # read after stop() too: a failed test's teardown prints it
            self._log.flush()
        return self.log_path.read_text(errors='replace')

    def tail(self, lines: int = 40) -> str:
        return '\n'.join(self.log().splitlines()[-lines:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)  # this process only (never a name or a group)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self._log.close()


def wait_for(what: str, probe: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, interval: float = 0.2,
             context: Callable[[], str] | None = None) -> Any:
    """Polls ``probe`` until it returns something truthy; fails after ``timeout`` seconds with
    ``context()`` (object status, operator log tail) in the message."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as e:  # a probe may fail while things start
            last_error = e
        time.sleep(interval)
    detail = context() if context else ''
    raise AssertionError(f'timed out after {timeout:.0f}s waiting for {what}'
                         + (f' (last probe error: {last_error!r})' if last_error else '') + f'\n{detail}')


class HrEmulator:
    """``hrconnector emulator`` on a free loopback port with one registered app and job id.
    With ``tls`` (a ``network.TestCa``) it serves HTTPS with that CA's server certificate."""

    def __init__(self, log_dir: pathlib.Path, tenant_id: str, app_id: str, app_secret: str, job_ids: list[str],
                 listen_host: str = '127.0.0.1', extra_args: list[str] = (), tls: Any = None):
        self.tenant_id, self.app_id, self.app_secret = tenant_id, app_id, app_secret
        self.ssl_context = tls.ssl_context() if tls else None
        args = [str(BINARY), 'emulator', '--listen', f'{listen_host}:0', '--tenant-id', tenant_id,
                '--app-id', app_id]
        if listen_host not in ('127.0.0.1', 'localhost', '::1'):
            args.append('--allow-non-loopback')
        for job in job_ids:
            args += ['--job-id', job]
        args += list(extra_args) + (tls.emulator_args() if tls else [])
        self.process = Process('hr-emulator', args, log_dir, env={'HRCONNECTOR_EMULATOR_APP_SECRET': app_secret})
        match = wait_for('the hrconnector emulator to print its URL',
                         lambda: re.search(r'listening on (https?://\S+)', self.process.log()),
                         timeout=30, context=self.process.tail)
        self.url = match.group(1).rstrip('/')
        self.port = int(self.url.rsplit(':', 1)[1])

    def stats(self) -> dict[str, int]:
        return http_json('GET', f'{self.url}/_emulator/stats', context=self.ssl_context)

    def received(self, job_id: str) -> dict[str, list[list[str]]]:
        return http_json('GET', f'{self.url}/_emulator/received?jobid={job_id}', timeout=60,
                         context=self.ssl_context)

    def issued_tokens(self) -> list[str]:
        return http_json('GET', f'{self.url}/_emulator/tokens', context=self.ssl_context)

    def log(self) -> str:
        return self.process.log()

    def set_upload_delay(self, ms: int) -> None:
        http_json('POST', f'{self.url}/_emulator/upload-delay', {'ms': ms}, context=self.ssl_context)

    def add_fault(self, fault: dict[str, Any]) -> None:
        http_json('POST', f'{self.url}/_emulator/faults', fault, context=self.ssl_context)

    def stop(self) -> None:
        self.process.stop()


def allow_emulator(emu: 'HrEmulator', *urls: str) -> dict[str, str]:
    """The operator's environment that lets jobs send to the hr emulator (and to `urls`: a store
    the test started): they are no published hosts, so, as an administrator would for a proxy,
    the test allows them explicitly (the egress policy refuses everything else)."""
    return {'HRCONNECTOR_ALLOW_ENDPOINT_PREFIX': ','.join([emu.url, *urls])}


class Operator:
    """``hrconnector controller`` as a child process, KUBECONFIG set, output captured."""

    def __init__(self, name: str, log_dir: pathlib.Path, kubeconfig: str | None, namespace: str,
                 extra_args: list[str] = (), env: dict[str, str] | None = None,
                 exact_args: list[str] | None = None):
        # `exact_args` runs the binary with exactly these arguments (e.g. as the chart renders them).
        if exact_args is not None:
            args = [str(BINARY)] + exact_args
        elif CHART_ARGS:
            # The chart's arguments; what a pod gets from its environment is given here instead.
            # A flag the test sets itself replaces the chart's (clap refuses a flag given twice).
            overridden = {a.split('=', 1)[0] for a in extra_args if a.startswith('--')}
            chart = [a for a in chart_controller_args() if a.split('=', 1)[0] not in overridden]
            args = [str(BINARY)] + chart + ['--namespace', namespace, '--identity', name] + list(extra_args)
        else:
            args = [str(BINARY), 'controller', '--namespace', namespace, '--identity', name,
                    '--request-timeout-seconds', '30', '--max-attempts', '3',
                    '--metrics-bind-address', '127.0.0.1:0'] + list(extra_args)
        full_env = {'RUST_LOG': os.environ.get('HRCONNECTOR_E2E_RUST_LOG', 'info,hrconnector=debug'),
                    'RUST_BACKTRACE': '1', 'NO_COLOR': '1', **(env or {})}
        if kubeconfig:
            full_env['KUBECONFIG'] = kubeconfig
        self.process = Process(name, args, log_dir, env=full_env)
        self.name = name

    def tail(self, lines: int = 40) -> str:
        return f'--- {self.name} log tail ({self.process.log_path}) ---\n{self.process.tail(lines)}'

    def endpoint(self, path: str) -> tuple[int, str]:
        """``GET path`` (``/metrics``, ``/readyz``...) on the address the operator logged."""
        match = wait_for(f'{self.name} to log its metrics address',
                         lambda: re.search(r'serving /metrics.*?(127\.0\.0\.1:\d+)', self.log()), context=self.tail)
        try:
            with urllib.request.urlopen(f'http://{match.group(1)}{path}', timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> str:
        return self.endpoint('/metrics')[1]

    def log(self) -> str:
        return self.process.log()

    def alive(self) -> bool:
        return self.process.alive()

    def kill(self) -> None:
        self.process.kill(signal.SIGKILL)

    def terminate(self) -> int:
        """SIGTERM, as the kubelet sends it; waits (bounded) and returns the exit code."""
        self.process.proc.send_signal(signal.SIGTERM)
        return self.process.proc.wait(30)

    def stop(self) -> None:
        self.process.stop()


def csv_text(records: int, prefix: str = 'user') -> str:
    """A valid HR CSV with ``records`` data rows (the documentation's three columns), compact
    enough that 20,000 records fit a ConfigMap (1 MiB)."""
    lines = ['EmailAddress,TerminationDate,LastWorkingDate']
    for i in range(records):
        day = 1 + i % 28
        lines.append(f'{prefix}{i}@x.io,2024-01-{day:02}T12:00:00,2024-02-{day:02}T17:00:00')
    return '\n'.join(lines) + '\n'


def count_records(csv: str) -> int:
    import csv as csvmod
    import io
    return sum(1 for _ in csvmod.reader(io.StringIO(csv))) - 1


def new_id() -> str:
    return str(uuid.uuid4())


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get('status') or {}).get('conditions') or []:
        if c.get('type') == type_:
            return c
    return None


def brief_status(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return 'object: <not found>'
    status = dict(obj.get('status') or {})
    status.pop('history', None)
    return 'status: ' + json.dumps(status, indent=1, sort_keys=True)[:4000]


class UploadJobKubelet:
    """Plays the Job controller and the kubelet for one upload Job, which the API emulator has
    no controllers for: runs the Job's container (the real ``hrconnector upload`` with the Job's
    own arguments) on this machine, with its mounts as local directories, then records a pod with
    the container's termination message and marks the Job Complete or Failed, as Kubernetes would.

    ``claim_files`` is the claim's content (path -> text); the Secret's keys are mounted as its
    volume's ``items`` say, a ``downwardAPI`` volume's annotations as its ``items`` say, and the
    container gets the Job's environment. Works against the emulator only (a real cluster runs
    its own pods)."""

    def __init__(self, kubectl: 'Kubectl', api_url: str, namespace: str, workdir: pathlib.Path):
        self.k, self.api_url, self.ns, self.workdir = kubectl, api_url, namespace, workdir

    def run(self, job: dict[str, Any], claim_files: dict[str, str], log_dir: pathlib.Path,
            claim_mtimes: dict[str, float] | None = None) -> dict[str, Any]:
        name = job['metadata']['name']
        pod_spec = job['spec']['template']['spec']
        container = pod_spec['containers'][0]
        mounts = {}
        for volume in pod_spec['volumes']:
            local = self.workdir / name / volume['name']
            local.mkdir(parents=True, exist_ok=True)
            if 'persistentVolumeClaim' in volume:
                for path, text in claim_files.items():
                    (local / path).parent.mkdir(parents=True, exist_ok=True)
                    (local / path).write_text(text)
                    if claim_mtimes and path in claim_mtimes:
                        os.utime(local / path, (claim_mtimes[path], claim_mtimes[path]))
            if 'secret' in volume:
                secret = self.k.get('secret', volume['secret']['secretName'], self.ns)
                import base64
                for item in volume['secret']['items']:
                    (local / item['path']).write_bytes(base64.b64decode(secret['data'][item['key']]))
            if 'downwardAPI' in volume:
                annotations = job['spec']['template']['metadata'].get('annotations') or {}
                for item in volume['downwardAPI']['items']:
                    field = re.fullmatch(r"metadata\.annotations\['(.+)'\]", item['fieldRef']['fieldPath'])
                    assert field, f'the kubelet here projects annotations only: {item}'
                    (local / item['path']).write_text(annotations[field.group(1)])
            mounts[volume['name']] = local
        paths = {m['mountPath']: mounts[m['name']] for m in container['volumeMounts']}
        termination_log = self.workdir / name / 'termination-log'

        def local_path(arg: str) -> str:
            if arg.startswith(container['terminationMessagePath']):
                return str(termination_log)
            for mount_path, local in sorted(paths.items(), key=lambda p: -len(p[0])):
                if arg == mount_path or arg.startswith(mount_path + '/'):
                    return str(local) + arg[len(mount_path):]
            return arg

        args = []
        for arg in container['args']:
            key, eq, value = arg.partition('=')
            args.append(f'{key}={local_path(value)}' if eq and key.startswith('--') else local_path(arg))
        env = {e['name']: e['value'] for e in container.get('env') or [] if 'value' in e}
        env.pop('HOME', None), env.pop('TMPDIR', None)  # /tmp of the pod: this machine's own
        proc = Process(f'upload-job-{name}', [str(BINARY)] + args, log_dir, env=env)
        exit_code = proc.proc.wait(120)
        message = termination_log.read_text() if termination_log.exists() else proc.tail(20)
        labels = {'job-name': name, **(job['spec']['template'].get('metadata', {}).get('labels') or {})}
        pod = {'apiVersion': 'v1', 'kind': 'Pod',
               'metadata': {'name': f'{name}-pod', 'namespace': self.ns, 'labels': labels},
               'spec': {'containers': [{'name': container['name'], 'image': container['image']}],
                        'restartPolicy': 'Never'},
               'status': {'phase': 'Succeeded' if exit_code == 0 else 'Failed',
                          'containerStatuses': [{'name': container['name'], 'ready': False, 'restartCount': 0,
                                                 'image': container['image'], 'imageID': '',
                                                 'state': {'terminated': {'exitCode': exit_code,
                                                                          'message': message,
                                                                          'finishedAt': '2026-01-01T00:00:00Z'}}}]}}
        self.k.create(pod)
        done = 'Complete' if exit_code == 0 else 'Failed'
        conditions = [{'type': done, 'status': 'True', 'reason': 'Completed' if exit_code == 0 else 'BackoffLimitExceeded'}]
        status = {'conditions': conditions, 'succeeded' if exit_code == 0 else 'failed': 1}
        req = urllib.request.Request(f'{self.api_url}/apis/batch/v1/namespaces/{self.ns}/jobs/{name}/status',
                                     data=json.dumps({'status': status}).encode(), method='PATCH',
                                     headers={'Content-Type': 'application/merge-patch+json'})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
