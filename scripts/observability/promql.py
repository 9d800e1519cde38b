"""The PromQL of the Grafana dashboard and of the PrometheusRule, for promtool and the e2e suite.

promtool has no "check this query" command, so every query becomes a recording rule of a rules
file that `promtool check rules` parses with Prometheus' own parser. Grafana's template variables
are replaced first ($__rate_interval by 5m, $namespace by .*, ...), and `label_values(SELECTOR,
LABEL)` (Grafana syntax, not PromQL) contributes its SELECTOR.

usage:
  promql.py dashboard DASHBOARD.json --rules OUT.rules.yaml --names OUT.txt
      every panel target (rows and nested panels too) and template variable query: a rules file
      for promtool, and the metric names they read, one a line. Fails on a query that names an
      undefined template variable, or a dashboard without queries.
  promql.py alerts RENDERED.yaml --rules OUT.rules.yaml [--names OUT.txt]
      the spec.groups of the PrometheusRule(s) of a rendered chart, as a Prometheus rules file.
  promql.py coverage RULES.yaml TEST.yaml...
      every alert of RULES has, in the promtool tests, a case where it fires (exp_alerts with
      labels) and one where it does not (exp_alerts empty); no test names an unknown alert.
  promql.py self-test
      the name extraction on tricky expressions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Iterator

# Grafana's built-in variables, replaced by values that keep the query valid PromQL.
BUILTINS = {
    '__rate_interval': '5m',
    '__interval': '5m',
    '__range': '1h',
    '__interval_ms': '300000',
    '__range_ms': '3600000',
    '__range_s': '3600',
}
# Synthesized by Prometheus for every target, not exported by the operator.
SCRAPE_SERIES = {'up', 'scrape_duration_seconds', 'scrape_samples_scraped',
                 'scrape_samples_post_metric_relabeling', 'scrape_series_added'}

_KEYWORDS = {'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
             'offset', 'bool', 'inf', 'nan', 'atan2'}
_VARIABLE = re.compile(r'\$(?:\{(\w+)(?::[\w-]+)?\}|(\w+)|\[\[(\w+)(?::[\w-]+)?\]\])')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')')
_LABEL_LIST = re.compile(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)', re.I)
_TOKEN = re.compile(
    r'(?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:[a-zA-Z]+\d*)*)'
    r'|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'|(?P<other>\S)')


def substitute(expr: str, variables: set[str]) -> tuple[str, set[str]]:
    """Grafana variables replaced (built-ins by durations, the dashboard's own by `.*`, which
    only fits inside a `=~` matcher: the dashboard uses them nowhere else); also returns the
    names used that the dashboard does not define."""
    unknown: set[str] = set()

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        if name not in variables:
            unknown.add(name)
        return '.*'
    return _VARIABLE.sub(value, expr), unknown


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions (followed
    by `(`), keywords, label names (inside `{...}` or by/on/... lists) or durations; plus
    `{__name__="..."}` matchers."""
    names = {m.group(1)[1:-1] for m in _NAME_MATCHER.finditer(expr)}
    text = _STRING.sub('""', expr)
    text = re.sub(r'\{[^{}]*\}', ' ', text)          # label matchers (strings already emptied)
    text = re.sub(r'\[[^\[\]]*\]', ' ', text)        # range and subquery durations
    text = _LABEL_LIST.sub(' ', text)                # grouping and matching label lists
    tokens = [(m.lastgroup, m.group(), m.end()) for m in _TOKEN.finditer(text)]
    for i, (kind, tok, end) in enumerate(tokens):
        if kind != 'ident' or tok.lower() in _KEYWORDS:
            continue
        if re.match(r'\s*\(', text[end:]):            # a function call
            continue
        prev = tokens[i - 1][1] if i else ''
        if prev.lower() == 'offset' or prev == '@':
            continue
        names.add(tok)
    return names


def selector_labels(expr: str) -> set[tuple[str, str]]:
    """(metric, label) of every label matcher written on a metric name: `m{a="x", b=~"y"}` gives
    (m, a) and (m, b)."""
    pairs = set()
    text = _STRING.sub('""', expr)
    for m in re.finditer(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}', text):
        for label in re.findall(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)', m.group(2)):
            if label != '__name__':
                pairs.add((m.group(1), label))
    return pairs


def label_values_selector(query: str) -> str | None:
    """`label_values(SELECTOR, LABEL)` → SELECTOR; `label_values(LABEL)` → None;
    `query_result(EXPR)` → EXPR; anything else is taken as PromQL."""
    q = query.strip()
    m = re.fullmatch(r'label_values\s*\((.*),\s*[a-zA-Z_]\w*\s*\)', q, re.S)
    if m:
        return m.group(1).strip()
    if re.fullmatch(r'label_values\s*\(\s*[a-zA-Z_]\w*\s*\)', q) or re.fullmatch(r'metrics\s*\(.*\)', q, re.S):
        return None
    m = re.fullmatch(r'query_result\s*\((.*)\)', q, re.S)
    return m.group(1).strip() if m else q


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels or []:
        yield p
        yield from _panels(p.get('panels') or [])


def dashboard_queries(dash: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, raw query) of every Prometheus query of the dashboard."""
    for p in _panels(dash.get('panels') or []):
        for t in p.get('targets') or []:
            if t.get('expr'):
                yield f'panel {p.get("id")} "{p.get("title")}" target {t.get("refId")}', t['expr']
    for v in (dash.get('templating') or {}).get('list') or []:
        if v.get('type') != 'query':
            continue
        q = v.get('query')
        q = q.get('query') if isinstance(q, dict) else q
        if q:
            selector = label_values_selector(q)
            if selector:
                yield f'variable ${v["name"]}', selector


def dashboard_variables(dash: dict[str, Any]) -> set[str]:
    return {v['name'] for v in (dash.get('templating') or {}).get('list') or []}


def _dump_rules(groups: list[dict[str, Any]], path: str) -> None:
    import yaml
    with open(path, 'w') as f:
        yaml.safe_dump({'groups': groups}, f, sort_keys=False, width=1000)


def cmd_dashboard(args: argparse.Namespace) -> int:
    dash = json.load(open(args.dashboard))
    variables = dashboard_variables(dash)
    rules, names, problems = [], set(), []
    for i, (where, raw) in enumerate(dashboard_queries(dash)):
        expr, unknown = substitute(raw, variables)
        if unknown:
            problems.append(f'{where}: undefined variable(s) {sorted(unknown)} in {raw}')
        rules.append({'record': f'dashboard:query_{i}', 'expr': expr,
                      'labels': {'dashboard_query': where}})
        names |= metric_names(expr)
    if not rules:
        problems.append('no queries found')
    for p in problems:
        print(f'  FAIL {p}', file=sys.stderr)
    _dump_rules([{'name': 'dashboard-queries', 'rules': rules}], args.rules)
    with open(args.names, 'w') as f:
        f.writelines(f'{n}\n' for n in sorted(names))
    print(f'  {len(rules)} queries, metrics: {" ".join(sorted(names))}')
    return 1 if problems else 0


def prometheus_rule_groups(rendered: str) -> list[dict[str, Any]]:
    import yaml
    groups = []
    for doc in yaml.safe_load_all(rendered):
        if isinstance(doc, dict) and doc.get('kind') == 'PrometheusRule':
            groups += doc['spec']['groups']
    return groups


def alert_exprs(groups: list[dict[str, Any]]) -> dict[str, str]:
    return {r['alert']: r['expr'] for g in groups for r in g['rules'] if 'alert' in r}


def cmd_alerts(args: argparse.Namespace) -> int:
    groups = prometheus_rule_groups(open(args.rendered).read())
    if not groups:
        print(f'  FAIL no PrometheusRule in {args.rendered}', file=sys.stderr)
        return 1
    _dump_rules(groups, args.rules)
    exprs = alert_exprs(groups)
    names = set().union(*(metric_names(str(e)) for e in exprs.values()))
    if args.names:
        with open(args.names, 'w') as f:
            f.writelines(f'{n}\n' for n in sorted(names))
    print(f'  {len(exprs)} alerts ({" ".join(exprs)}), metrics: {" ".join(sorted(names))}')
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    import yaml
    alerts = set(alert_exprs(yaml.safe_load(open(args.rules))['groups']))
    fires: set[str] = set()
    quiet: set[str] = set()
    named: set[str] = set()
    for path in args.tests:
        for test in yaml.safe_load(open(path)).get('tests') or []:
            for case in test.get('alert_rule_test') or []:
                named.add(case['alertname'])
                exp = case.get('exp_alerts') or []
                if not exp:
                    quiet.add(case['alertname'])
                elif all(e.get('exp_labels') and e.get('exp_annotations') for e in exp):
                    fires.add(case['alertname'])
    problems = [f'{a}: no case where it fires (with exp_labels and exp_annotations)' for a in sorted(alerts - fires)]
    problems += [f'{a}: no case where it stays quiet' for a in sorted(alerts - quiet)]
    problems += [f'{a}: tested but not in the rules' for a in sorted(named - alerts)]
    for p in problems:
        print(f'  FAIL {p}', file=sys.stderr)
    print(f'  {len(alerts)} alerts, each with a firing and a quiet case: {"yes" if not problems else "no"}')
    return 1 if problems else 0


def cmd_self_test(_: argparse.Namespace) -> int:
    cases = {
        'time() - hrconnector_last_upload_timestamp_seconds > 129600': {'hrconnector_last_upload_timestamp_seconds'},
        '(time() - a_seconds > 1296000) and on (namespace, name) (b_profiles == 1)': {'a_seconds', 'b_profiles'},
        'sum by (le) (rate(x_bucket{controller="a(b)", name=~"$job"}[5m]))': {'x_bucket'},
        'histogram_quantile(0.99, sum without (pod) (rate(h_bucket[5m:1m] offset 1h)))': {'h_bucket'},
        'absent(up{job="hrconnector-metrics"} == 1)': {'up'},
        '{__name__="by_name_total", result="ok"} / ignoring(result) group_left(le) other:recorded': {
            'by_name_total', 'other:recorded'},
        'count(g == 0) or vector(0) + 1e3 + 0x1f + Inf': {'g'},
        'sum(increase(c_total[$__interval]))': {'c_total'},
    }
    failed = 0
    for expr, want in cases.items():
        got = metric_names(substitute(expr, {'job'})[0])
        if got != want:
            failed += 1
            print(f'  FAIL {expr}: {sorted(got)} != {sorted(want)}')
    if selector_labels('sum(rate(m_total{a="x,y}", b=~"$job"}[5m])) / n{c!="1"}') != {
            ('m_total', 'a'), ('m_total', 'b'), ('n', 'c')}:
        failed += 1
        print('  FAIL selector_labels')
    for q, want in {'label_values(m{namespace=~"$namespace"}, name)': 'm{namespace=~"$namespace"}',
                    'label_values(namespace)': None, 'query_result(sum(x))': 'sum(x)'}.items():
        if label_values_selector(q) != want:
            failed += 1
            print(f'  FAIL label_values_selector({q!r}) = {label_values_selector(q)!r}')
    if substitute('x{a=~"$nope", b=~"${job:regex}"}[$__rate_interval]', {'job'}) != (
            'x{a=~".*", b=~".*"}[5m]', {'nope'}):
        failed += 1
        print('  FAIL substitute')
    print(f'  self-test: {"ok" if not failed else f"{failed} failed"}')
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    d = sub.add_parser('dashboard')
    d.add_argument('dashboard')
    d.add_argument('--rules', required=True)
    d.add_argument('--names', required=True)
    d.set_defaults(func=cmd_dashboard)
    a = sub.add_parser('alerts')
    a.add_argument('rendered')
    a.add_argument('--rules', required=True)
    a.add_argument('--names')
    a.set_defaults(func=cmd_alerts)
    c = sub.add_parser('coverage')
    c.add_argument('rules')
    c.add_argument('tests', nargs='+')
    c.set_defaults(func=cmd_coverage)
    s = sub.add_parser('self-test')
    s.set_defaults(func=cmd_self_test)
    args = ap.parse_args()
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
