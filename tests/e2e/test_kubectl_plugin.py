"""The kubectl plugin: the hrconnector binary as ``kubectl-hrconnector`` (and kubectl's completer
``kubectl_complete-hrconnector``), found by real kubectl's plugin discovery on PATH, run against the
API emulator and a real operator."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

import pytest
import yaml

from harness import BINARY, KUBECTL, condition, count_records
from test_operator import SAMPLE_CSV, Scenario, emails


@pytest.fixture
def plugin_path(tmp_path: pathlib.Path) -> dict[str, str]:
    """An environment whose PATH holds the two symlinks the README's install steps make."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('kubectl-hrconnector', 'kubectl_complete-hrconnector'):
        (bin_dir / name).symlink_to(BINARY.resolve())
    return {**os.environ, 'PATH': f'{bin_dir}{os.pathsep}{os.environ["PATH"]}'}


def kubectl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f'kubectl {" ".join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}')
    return proc


def plugin(env, s: Scenario, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``kubectl hrconnector ARGS -n NS --kubeconfig K``: kubectl refuses flags before a plugin's
    name, so the plugin takes kubectl's flags itself."""
    return kubectl(env, 'hrconnector', *args, '-n', s.ns, '--kubeconfig', s.cluster.kubeconfig, check=check)


def table(text: str) -> list[dict[str, str]]:
    """The status table as rows keyed by heading (columns start where their headings do)."""
    lines = text.splitlines()
    heading = lines[0]
    # Headings are three spaces apart; "LAST RUN" holds one.
    starts = [(m.start(), m.group()) for m in re.finditer(r'\S+(?: \S+)*', heading)]
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else None
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def test_kubectl_discovers_the_plugin_and_its_completer(plugin_path):
    listed = kubectl(plugin_path, 'plugin', 'list', check=False)
    assert 'kubectl-hrconnector' in listed.stdout, listed.stdout + listed.stderr
    assert 'warning' not in listed.stderr.lower(), listed.stderr
    help_text = kubectl(plugin_path, 'hrconnector', '--help').stdout
    for sub in ('status', 'run-now', 'suspend', 'resume', 'history', 'validate'):
        assert f'\n  {sub} ' in help_text, help_text
    # kubectl's own completion hands the plugin's words to kubectl_complete-hrconnector.
    completed = kubectl(plugin_path, '__complete', 'hrconnector', 'su').stdout
    assert [line.split('\t')[0] for line in completed.splitlines()] == ['suspend', ':4'], completed


def test_run_now_status_history_suspend_and_resume_through_kubectl(
        cluster, namespace, hr_emulator, app, operators, log_dir, plugin_path):
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='leavers')
    s.apply(SAMPLE_CSV)
    s.start_operator()
    s.wait('the first reconcile', lambda o: (o.get('status') or {}).get('nextScheduleTime'))

    # Completion of a JOB argument lists the namespace's jobs, from the cluster.
    completed = kubectl(plugin_path, '__complete', 'hrconnector', 'run-now', '-n', namespace,
                        '--kubeconfig', cluster.kubeconfig, 'lea').stdout
    assert completed.splitlines() == ['leavers', ':4'], completed

    out = plugin(plugin_path, s, 'run-now', 'leavers').stdout
    assert 'run requested' in out, out
    obj = s.wait('the run-now run to finish', lambda o: len((o.get('status') or {}).get('history') or []) == 1
                 and (o.get('status') or {}).get('currentRun') is None, timeout=60)
    sent = len(emails(hr_emulator.received(app['jobId'])))
    assert sent == count_records(SAMPLE_CSV), 'the run-now annotation started an upload of the file'

    rows = table(plugin(plugin_path, s, 'status').stdout)
    assert len(rows) == 1, rows
    row = rows[0]
    ready = condition(obj, 'Ready')
    assert (row['NAME'], row['READY'], row['REASON']) == ('leavers', ready['status'], ready['reason']), row
    assert row['RECORDS'] == str(sent), row
    assert row['LAST RUN'].endswith('ago (Succeeded)'), row
    assert row['NEXT RUN'].startswith('in '), row

    # One job by name: its conditions' own words follow the table.
    detail = plugin(plugin_path, s, 'status', 'leavers').stdout
    assert f"Ready ({ready['status']}): {ready['message']}" in detail, detail

    history = plugin(plugin_path, s, 'history', 'leavers').stdout.splitlines()
    assert history[0] == obj['status']['history'][0], history
    assert f'Succeeded, {sent} saved' in history[0], history

    # All namespaces: the namespace is a column.
    everywhere = table(kubectl(plugin_path, 'hrconnector', 'status', '-A', '--kubeconfig', cluster.kubeconfig).stdout)
    assert {'NAMESPACE': namespace, 'NAME': 'leavers'}.items() <= next(
        r for r in everywhere if r['NAMESPACE'] == namespace).items(), everywhere

    assert 'suspended' in plugin(plugin_path, s, 'suspend', 'leavers').stdout
    suspended = s.wait('the operator to see the suspension', lambda o: o['spec'].get('suspend') is True
                       and not (o.get('status') or {}).get('nextScheduleTime'))
    assert table(plugin(plugin_path, s, 'status').stdout)[0]['NEXT RUN'] == 'suspended'
    assert suspended['metadata']['annotations'] == obj['metadata']['annotations'], 'only spec.suspend changed'
    assert 'already suspended' in plugin(plugin_path, s, 'suspend', 'leavers').stdout

    assert 'resumed' in plugin(plugin_path, s, 'resume', 'leavers').stdout
    s.wait('the schedule to come back', lambda o: o['spec'].get('suspend') is False
           and (o.get('status') or {}).get('nextScheduleTime'))


def test_validate_checks_a_local_file_with_the_jobs_own_settings(cluster, namespace, hr_emulator, app, operators,
                                                                  log_dir, plugin_path, tmp_path):
    """A job that converts ';'-separated day-first dates: the same file passes with the job's
    settings; a wrong date fails naming its line, and nothing reaches the service."""
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='eu-export')
    converted = 'EmailAddress;TerminationDate;LastWorkingDate\nana@contoso.com;23.04.2026;29.04.2026\n'
    s.apply(converted, input={'delimiter': ';', 'dateFormats': {'all': '%d.%m.%Y'}})
    good = tmp_path / 'good.csv'
    good.write_text(converted + 'bo@contoso.com;24.04.2026;30.04.2026\n')
    ok = plugin(plugin_path, s, 'validate', 'eu-export', '--csv-file', str(good))
    assert '2 records, valid' in ok.stdout, ok.stdout

    bad = tmp_path / 'bad.csv'
    bad.write_text(converted + 'bo@contoso.com;2026-04-24;30.04.2026\n')
    failed = plugin(plugin_path, s, 'validate', 'eu-export', '--csv-file', str(bad), check=False)
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    assert 'line 3' in failed.stdout + failed.stderr, failed.stdout + failed.stderr
    assert hr_emulator.stats()['upload_requests'] == 0, hr_emulator.stats()


def test_flags_errors_and_contexts_read_as_kubectl_users_expect(cluster, namespace, hr_emulator, app, operators,
                                                                log_dir, plugin_path, tmp_path):
    s = Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='leavers')
    s.apply(SAMPLE_CSV)

    missing = plugin(plugin_path, s, 'run-now', 'no-such-job', check=False)
    assert missing.returncode == 1
    assert f'hrconnectorjob {namespace}/no-such-job not found' in missing.stderr, missing.stderr

    # A kubeconfig whose current context is unreachable: --context picks the working one.
    config = yaml.safe_load(pathlib.Path(cluster.kubeconfig).read_text())
    config['clusters'].append({'name': 'gone', 'cluster': {'server': 'http://127.0.0.1:9'}})
    config['contexts'].append({'name': 'gone', 'context': {'cluster': 'gone', 'user': 'kmock'}})
    working = config['current-context']
    config['current-context'] = 'gone'
    two = tmp_path / 'two-contexts'
    two.write_text(yaml.safe_dump(config))
    base = ['hrconnector', 'status', 'leavers', '-n', namespace, '--kubeconfig', str(two)]
    unreachable = kubectl(plugin_path, *base, check=False)
    assert unreachable.returncode == 1 and 'get hrconnectorjob' in unreachable.stderr, unreachable.stderr
    chosen = kubectl(plugin_path, *base, '--context', working)
    assert table(chosen.stdout)[0]['NAME'] == 'leavers', chosen.stdout
    # The context's own namespace is the default, as in kubectl.
    config['current-context'] = working
    next(c for c in config['contexts'] if c['name'] == working)['context']['namespace'] = namespace
    two.write_text(yaml.safe_dump(config))
    default_ns = kubectl(plugin_path, 'hrconnector', 'status', '--kubeconfig', str(two))
    assert [r['NAME'] for r in table(default_ns.stdout)] == ['leavers'], default_ns.stdout
