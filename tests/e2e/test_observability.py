"""The Grafana dashboard and the PrometheusRule read only metrics the operator really exports: a
real operator runs one job that succeeds and one that fails, and its /metrics scrape must hold
every metric name (and every label the queries select on) of the dashboard's queries and of the
chart's alerts. The PromQL itself is checked by scripts/check-observability.sh (promtool)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from harness import REPO, wait_for
from test_operator import SAMPLE_CSV, Scenario

sys.path.insert(0, str(REPO / 'scripts' / 'observability'))
import promql  # noqa: E402

DASHBOARD = REPO / 'charts' / 'hrconnector' / 'dashboards' / 'hrconnector.json'
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s', re.M)


def _alert_exprs() -> dict[str, str]:
    """The alerts of the chart's PrometheusRule, rendered with Helm 4 from the cache
    scripts/check-deploy.sh fills (as harness.chart_controller_args does)."""
    helm = next(iter(sorted((REPO / '.cache' / 'tools').glob('helm4-*/helm'))), None)
    if helm is None:
        raise RuntimeError('no Helm in .cache/tools: run scripts/check-deploy.sh first')
    rendered = subprocess.run([str(helm), 'template', 'hrconnector', str(REPO / 'charts' / 'hrconnector'),
                               '-n', 'hrconnector-system', '--set', 'metrics.prometheusRule.enabled=true'],
                              check=True, capture_output=True, text=True).stdout
    return promql.alert_exprs(promql.prometheus_rule_groups(rendered))


def _queries() -> dict[str, str]:
    """Every query the dashboard and the alerts run (Grafana variables substituted)."""
    dash = json.loads(DASHBOARD.read_text())
    variables = promql.dashboard_variables(dash)
    queries = {f'dashboard {where}': promql.substitute(q, variables)[0] for where, q in promql.dashboard_queries(dash)}
    queries.update({f'alert {name}': str(expr) for name, expr in _alert_exprs().items()})
    return queries


def _scrape(text: str) -> dict[str, set[str]]:
    """Sample name (with its _total, _bucket... suffix) → the label names seen on it."""
    samples: dict[str, set[str]] = {}
    for m in _SAMPLE.finditer(text):
        labels = set(re.findall(r'([a-zA-Z_]\w*)="', m.group(2) or ''))
        samples.setdefault(m.group(1), set()).update(labels)
    return samples


def _provoke_a_conflict(cluster, s: Scenario, op) -> bool:
    """Reconcile errors are counted by reason only once one happens (prometheus-client exports no
    empty family): with the emulator's watch events 0.5 s late, two quick spec changes make the
    operator write status on the older version, which the API server refuses (409): a reconcile
    error of reason Conflict. Returns False on a real cluster (no watch delay to set)."""
    if cluster.api is None:
        return False
    series = 'hrconnector_reconcile_errors_by_reason_total{reason="Conflict"}'
    cluster.api.watch_delay = 0.5
    try:
        for i in range(10):
            s.k.apply(s.job(schedule=f'{i} 3 * * *'))
            time.sleep(0.1)
            s.k.apply(s.job(schedule=f'{i} 4 * * *'))
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if series in op.metrics():
                    return True
                time.sleep(0.2)
    finally:
        cluster.api.watch_delay = 0.0
    raise AssertionError(f'no {series} after 10 tries\n{op.tail()}')


def test_every_metric_the_dashboard_and_alerts_name_is_exported(cluster, namespace, hr_emulator, app, operators,
                                                               log_dir):
    good = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='daily')
    bad = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='wrong-secret')
    good.apply(SAMPLE_CSV)
    bad.apply(SAMPLE_CSV, app_secret='definitely-wrong')
    op = good.start_operator()
    good.run_now()
    good.wait_ready('True', 'Succeeded')
    bad.run_now()
    bad.wait_ready('False', 'AuthenticationFailed')
    # And a Kubernetes API error: a status write refused with 409 Conflict.
    conflict = _provoke_a_conflict(cluster, good, op)
    # The series of both outcomes and both jobs are there (status is written before the scrape
    # sees the per-job series: wait for them).
    wanted = ['hrconnector_upload_runs_total{result="Succeeded"}', 'hrconnector_upload_runs_total{result="Failed"}',
              'hrconnector_upload_failures_total{reason="AuthenticationFailed"}',
              f'hrconnector_last_upload_timestamp_seconds{{namespace="{namespace}",name="daily"}}',
              f'hrconnector_next_run_timestamp_seconds{{namespace="{namespace}",name="daily"}}',
              f'hrconnector_last_run_timestamp_seconds{{namespace="{namespace}",name="wrong-secret"}}',
              f'hrconnector_job_ready{{namespace="{namespace}",name="wrong-secret"}} 0']
    text = wait_for('the success and failure series in /metrics',
                    lambda: (lambda t: t if all(w in t for w in wanted) else None)(op.metrics()),
                    context=lambda: f'{op.metrics()}\n{op.tail()}')
    samples = _scrape(text)
    # On a real cluster (no conflict provoked) the family shows only once an API error happens.
    not_yet = set() if conflict else {'hrconnector_reconcile_errors_by_reason_total'}

    queries = _queries()
    assert any(q.startswith('alert ') for q in queries) and len(queries) > 10, queries
    used: dict[str, list[str]] = {}
    for where, expr in queries.items():
        for name in promql.metric_names(expr) - promql.SCRAPE_SERIES:
            used.setdefault(name, []).append(where)
    missing = {name: wheres for name, wheres in used.items() if name not in samples and name not in not_yet}
    assert not missing, ('metrics named by the dashboard or alerts that the operator does not export:\n'
                         + '\n'.join(f'  {n}: {w}' for n, w in sorted(missing.items()))
                         + f'\nexported: {sorted(samples)}')
    # The labels the queries select on are the metrics' own (namespace and name per job, not job).
    wrong_labels = sorted((m, label, where) for where, expr in queries.items()
                          for m, label in promql.selector_labels(expr)
                          if m in samples and label not in samples[m] and m not in promql.SCRAPE_SERIES)
    assert not wrong_labels, f'queries select on labels the metric does not have: {wrong_labels}'
    print(f'\n{len(used)} metric names in {len(queries)} queries, all exported'
          + (f'; not checked (no API error on this cluster): {sorted(not_yet)}' if not_yet else ''))
