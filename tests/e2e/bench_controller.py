#!/usr/bin/env python3
"""Controller at scale (benchmark, not a test): N HrConnectorJobs sharing one schedule against the
Kubernetes API emulator (kmock) and the hrconnector emulator, with the real operator binary.

Prints, for a baseline of 1 job and then N jobs, the time from the schedule tick until every job
is Ready, the most uploads the ingestion emulator saw at once (it must never exceed
--max-concurrent-uploads), and the operator's peak RSS. The ratio compares N jobs with the ideal
"baseline x ceil(N / concurrency)" measured in the same run.

    tests/e2e/.venv/bin/python tests/e2e/bench_controller.py --jobs 500 --concurrency 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import pathlib
import sys
import tempfile
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from harness import CRD_FILE, REPO, HrEmulator, Kubectl, Operator, allow_emulator, condition, wait_for  # noqa: E402
from kube_emulator import EmulatorThread, write_kubeconfig  # noqa: E402

SAMPLE = (REPO / 'examples' / 'employee_termination_data.csv').read_text()


def peak_rss_mib(pid: int) -> float:
    for line in pathlib.Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def job(name: str, ns: str, job_id: str, emu_url: str, schedule: str) -> dict:
    return {'apiVersion': 'hrconnector.io/v1alpha1', 'kind': 'HrConnectorJob',
            'metadata': {'name': name, 'namespace': ns},
            'spec': {'cloud': 'GCC', 'jobId': job_id, 'credentials': {'secretRef': {'name': 'app'}},
                     'source': {'configMap': {'name': 'data', 'key': 'data.csv'}},
                     'schedule': schedule,
                     'endpoints': {'authorityUrl': emu_url, 'ingestionUrl': emu_url}}}


def unrelated_config_maps(api_url: str, ns: str, count: int, kib: int) -> None:
    """`count` ConfigMaps of `kib` KiB each that no job reads (what a big shared cluster holds):
    the operator's ConfigMap watch sees all of them."""
    import urllib.request
    payload = 'x' * (kib * 1024)
    for i in range(count):
        body = json.dumps({'metadata': {'name': f'unrelated-{i:04}'}, 'data': {'blob': payload}}).encode()
        req = urllib.request.Request(f'{api_url}/api/v1/namespaces/{ns}/configmaps', data=body, method='POST',
                                     headers={'Content-Type': 'application/json'})
        urllib.request.urlopen(req, timeout=30).read()


def scenario(n: int, concurrency: int, delay_ms: int, work: pathlib.Path, config_maps: int = 0,
             config_map_kib: int = 100) -> dict:
    thread = EmulatorThread().start()
    try:
        kubeconfig = work / f'kubeconfig-{n}-{config_maps}'
        write_kubeconfig(kubeconfig, thread.url)
        k = Kubectl(str(kubeconfig))
        k.apply_file(CRD_FILE)
        app = {'tenantId': str(uuid.uuid4()), 'appId': str(uuid.uuid4()), 'appSecret': uuid.uuid4().hex,
               'jobId': str(uuid.uuid4())}
        logs = work / f'logs-{n}-{config_maps}'
        logs.mkdir()
        emu = HrEmulator(logs, app['tenantId'], app['appId'], app['appSecret'], [app['jobId']])
        emu.set_upload_delay(delay_ms)
        ns = f'bench-{n}'
        k.apply({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}})
        if config_maps:  # in the jobs' namespace, which the operator watches
            unrelated_config_maps(thread.url, ns, config_maps, config_map_kib)
        k.apply({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'app', 'namespace': ns},
                 'stringData': {'tenantId': app['tenantId'], 'appId': app['appId'], 'appSecret': app['appSecret']}},
                {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'data', 'namespace': ns},
                 'data': {'data.csv': SAMPLE}})
        # One shared fire time, far enough ahead for the set-up; daily, so it fires once here.
        now = dt.datetime.now(dt.timezone.utc)
        tick = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=2 + n // 100)
        schedule = f'{tick.minute} {tick.hour} * * *'
        names = [f'job-{i:04}' for i in range(n)]
        for start in range(0, n, 100):
            k.apply(*[job(name, ns, app['jobId'], emu.url, schedule) for name in names[start:start + 100]])
        op = Operator('bench', logs, str(kubeconfig), ns,
                      ['--max-concurrent-uploads', str(concurrency), '--secret-source-recheck-seconds', '3600'],
                      env={'RUST_LOG': 'warn', **allow_emulator(emu)})
        try:
            def items() -> list[dict]:
                return json.loads(k.run('get', 'hrconnectorjobs.hrconnector.io', '-n', ns, '-o', 'json'))['items']

            wait_for(f'the operator to report on {n} jobs',
                     lambda: all(condition(o, 'Ready') for o in items()) and len(items()) == n, timeout=300,
                     context=op.tail)
            now = dt.datetime.now(dt.timezone.utc)
            if now >= tick:
                raise SystemExit(f'set-up of {n} jobs took past the tick {tick}: rerun')
            tick_text = tick.strftime('%Y-%m-%dT%H:%M:%SZ')

            def all_done() -> bool:
                objs = items()
                return all((o.get('status') or {}).get('lastScheduleTime') == tick_text
                           and (condition(o, 'Ready') or {}).get('status') == 'True'
                           and not (o.get('status') or {}).get('currentRun') for o in objs)

            requests_before = len(thread.emulator.operator_requests)
            wait_for(f'{n} jobs to run at {tick_text}', all_done,
                     timeout=(tick - now).total_seconds() + 600, interval=0.1, context=op.tail)
            elapsed = time.time() - tick.timestamp()
            time.sleep(2)  # the reconciles that follow each run's end belong to the run
            during = thread.emulator.operator_requests[requests_before:]
            stats = emu.stats()
            by_kind: dict[str, int] = {}
            for r in during:
                key = f'{r.verb} {r.rbac_resource}'
                by_kind[key] = by_kind.get(key, 0) + 1
            return {'jobs': n, 'seconds': elapsed, 'uploads': stats['upload_requests'],
                    'max_in_flight': stats['max_concurrent_uploads'], 'rss_mib': peak_rss_mib(op.process.proc.pid),
                    'api_requests': len(during), 'api_by_kind': by_kind, 'config_maps': config_maps}
        finally:
            op.stop()
            emu.stop()
    finally:
        thread.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--jobs', type=int, default=500)
    p.add_argument('--concurrency', type=int, default=4)
    p.add_argument('--upload-delay-ms', type=int, default=100, help='emulated service time of one upload')
    p.add_argument('--unrelated-configmaps', type=int, default=0,
                   help='also run 1 job with this many unrelated ConfigMaps in the cluster (peak RSS)')
    p.add_argument('--configmap-kib', type=int, default=100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        base = scenario(1, args.concurrency, args.upload_delay_ms, work)
        if args.unrelated_configmaps:
            crowded = scenario(1, args.concurrency, args.upload_delay_ms, work, args.unrelated_configmaps,
                               args.configmap_kib)
            print(f"controller: 1 job, peak RSS {base['rss_mib']:.1f} MiB; with {args.unrelated_configmaps} unrelated "
                  f"ConfigMaps of {args.configmap_kib} KiB ({args.unrelated_configmaps * args.configmap_kib / 1024:.0f} "
                  f"MiB of data): {crowded['rss_mib']:.1f} MiB ({crowded['rss_mib'] / base['rss_mib']:.2f}x)")
        if args.jobs <= 1:
            return
        full = scenario(args.jobs, args.concurrency, args.upload_delay_ms, work)
    ideal = base['seconds'] * math.ceil(args.jobs / args.concurrency)
    for r in (base, full):
        print(f"controller: {r['jobs']:>4} jobs: tick -> all Ready {r['seconds']:7.2f} s, uploads {r['uploads']}, "
              f"max uploads in flight {r['max_in_flight']} (limit {args.concurrency}), operator peak RSS "
              f"{r['rss_mib']:.1f} MiB")
    for r in (base, full):
        kinds = ', '.join(f'{k} {v / r["jobs"]:.2f}' for k, v in sorted(r['api_by_kind'].items()))
        print(f"controller: {r['jobs']:>4} jobs: {r['api_requests'] / r['jobs']:.2f} API requests per job run ({kinds})")
    print(f"controller: {args.jobs} jobs vs ideal (1-job time x ceil({args.jobs}/{args.concurrency}) = {ideal:.2f} s): "
          f"{full['seconds'] / ideal:.2f}x; bound held: {full['max_in_flight'] <= args.concurrency}")
    if full['max_in_flight'] > args.concurrency:
        sys.exit(1)


if __name__ == '__main__':
    main()
