"""Truthful outcomes in the operator: what Ready, Events, metrics and ``kubectl describe`` say when a
run sent nothing, dropped rows, or found its file unchanged; unchanged employee profiles are sent
again before the service deletes them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from harness import REPO, condition, csv_text, wait_for
from test_operator import SAMPLE_CSV, Scenario, emails

PROFILES_CSV = (REPO / 'tests' / 'fixtures' / 'csv' / 'employee_profile.csv').read_text()


def _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw) -> Scenario:
    return Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw)


def _status(obj: dict[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get('status') or {}


def _run_and_wait(s: Scenario, runs_before: int) -> dict[str, Any]:
    """Asks for a run and waits until its outcome is in status (history grew by one)."""
    s.run_now()
    return s.wait(f'run {runs_before + 1} to finish',
                  lambda o: len(_status(o).get('history') or []) == runs_before + 1
                  and _status(o).get('currentRun') is None,
                  timeout=60)


def _series(metrics: str, name: str, namespace: str, job: str) -> float | None:
    m = re.search(rf'^{name}{{namespace="{namespace}",name="{job}"}} (\S+)$', metrics, re.M)
    return float(m.group(1)) if m else None


def _job_series(op, namespace: str, job: str) -> tuple[float | None, float | None, float | None]:
    """The job's (last upload, last run, employee profiles) series, as the operator exports them."""
    metrics = op.metrics()
    return tuple(_series(metrics, f'hrconnector_{name}', namespace, job) for name in (
        'last_upload_timestamp_seconds', 'last_run_timestamp_seconds', 'job_employee_profiles'))


def _warning_events(s: Scenario, reason: str) -> list[dict[str, Any]]:
    events = json.loads(s.k.run('get', 'events.events.k8s.io', '-n', s.ns, '-o', 'json'))['items']
    return [e for e in events if (e.get('regarding') or {}).get('name') == s.name
            and e.get('reason') == reason and e.get('type') == 'Warning']


def test_an_employee_profile_job_sends_its_unchanged_file_again_once_older_than_the_setting(
        cluster, namespace, hr_emulator, app, operators, log_dir):
    """resendUnchangedAfter 1s, two runs a few seconds apart: both send the profiles, and both
    move the last-upload series."""
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='profiles')
    s.apply(PROFILES_CSV, scenario='EmployeeProfile', resendUnchangedAfter='1s')
    op = s.start_operator()
    first = _run_and_wait(s, 0)
    assert first['status']['lastRun']['result'] == 'Succeeded', first['status']
    assert len(emails(hr_emulator.received(app['jobId']))) == 2
    upload_1, run_1, profiles = _job_series(op, namespace, s.name)
    assert upload_1 is not None and run_1 is not None and profiles == 1, op.metrics()

    time.sleep(2)
    second = _run_and_wait(s, 1)
    assert second['status']['lastRun']['result'] == 'Succeeded', second['status']
    message = condition(second, 'Ready')['message']
    assert 'sent again' in message and 'older than 1s' in message, message
    assert len(emails(hr_emulator.received(app['jobId']))) == 4, 'the profiles were sent twice'
    upload_2, run_2, _ = _job_series(op, namespace, s.name)
    assert upload_2 > upload_1 and run_2 > run_1, (upload_1, upload_2, run_1, run_2)
    print(f'\nlast upload moved {upload_2 - upload_1:.1f} s with the resend')


def test_a_resignation_job_sends_an_unchanged_file_once(cluster, namespace, hr_emulator, app, operators,
                                                        log_dir):
    """No resend setting: the second run is Unchanged with the first upload's date; the last-run
    series moves, the last-upload series does not."""
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='leavers')
    s.apply(SAMPLE_CSV)
    op = s.start_operator()
    first = _run_and_wait(s, 0)
    assert first['status']['lastRun']['result'] == 'Succeeded', first['status']
    sent = len(emails(hr_emulator.received(app['jobId'])))
    upload_1, run_1, profiles = _job_series(op, namespace, s.name)
    assert upload_1 is not None and run_1 is not None and profiles == 0, op.metrics()

    time.sleep(1.1)
    second = _run_and_wait(s, 1)
    status = second['status']
    assert status['lastRun']['result'] == 'Unchanged', status
    uploaded = status['lastUploadTime']
    ready = condition(second, 'Ready')
    assert ready['reason'] == 'Unchanged'
    assert f'on {uploaded}' in ready['message'], (uploaded, ready['message'])
    assert len(emails(hr_emulator.received(app['jobId']))) == sent, 'sent once'
    upload_2, run_2, _ = _job_series(op, namespace, s.name)
    assert upload_2 == upload_1 and run_2 > run_1, (upload_1, upload_2, run_1, run_2)
    # A restarted operator exports the same last upload, read from status, before any run.
    op.stop()
    again = s.start_operator('operator-2')
    wait_for('the restarted operator to export the last upload',
             lambda: _job_series(again, namespace, s.name)[0] == upload_1, context=again.tail)


def test_an_empty_file_is_nothing_to_upload_and_too_many_rejected_rows_fail(cluster, namespace, hr_emulator,
                                                                           app, operators, log_dir):
    """A header-only file: Ready stays True with reason NothingToUpload, SourceEmpty=True and a
    Warning Event, never Succeeded; minRecords 1 makes it TooFewRecords. With invalidRows Skip,
    3 bad rows of 10 fail TooManyRejected; nothing is ever sent."""
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='empty')
    header = 'EmailAddress,TerminationDate,LastWorkingDate\n'
    s.apply(header)
    s.start_operator()
    obj = _run_and_wait(s, 0)
    ready = condition(obj, 'Ready')
    assert (ready['status'], ready['reason']) == ('True', 'NothingToUpload'), ready
    empty = condition(obj, 'SourceEmpty')
    assert empty is not None and empty['status'] == 'True', _status(obj).get('conditions')
    assert 'lastUploadTime' not in obj['status'] and 'lastSuccessfulTime' not in obj['status']
    wait_for('a Warning Event NothingToUpload', lambda: _warning_events(s, 'NothingToUpload'), context=s.context)

    # The floor and the ceiling are checked when the job or its file changes, as invalid files
    # are: the verdict shows on apply, without waiting for a run.
    s.k.apply(s.job(minRecords=1))
    obj = s.wait_ready('False', 'TooFewRecords')
    assert 'fewer than the minimum of 1' in condition(obj, 'Ready')['message']
    assert condition(obj, 'Stalled')['status'] == 'True', 'a person must fix the export'

    rows = csv_text(7).splitlines() + [f'not-an-address-{i},2024-01-01T12:00:00,2024-02-01T17:00:00'
                                       for i in range(3)]
    s.k.apply(s.config_map('\n'.join(rows) + '\n'), s.job(invalidRows='Skip'))
    obj = s.wait_ready('False', 'TooManyRejected')
    message = condition(obj, 'Ready')['message']
    assert '3 of 10 records are invalid' in message and 'spec.maxRejected' in message, message
    # A run asked for anyway fails the same way, before the first chunk.
    obj = _run_and_wait(s, 1)
    assert obj['status']['lastRun']['reason'] == 'TooManyRejected', obj['status']
    assert condition(obj, 'SourceEmpty') is not None, 'a failed run leaves what the last empty file said'
    assert hr_emulator.stats()['upload_requests'] == 0, 'nothing was sent'

    s.k.apply(s.job(invalidRows='Skip', maxRejected='30%'))
    obj = _run_and_wait(s, 2)
    assert condition(obj, 'Ready')['reason'] == 'Succeeded'
    assert condition(obj, 'SourceEmpty') is None, 'the source has records again'
    assert len(emails(hr_emulator.received(app['jobId']))) == 7


def test_describe_after_ten_runs_fits_one_screen(cluster, namespace, hr_emulator, app, operators, log_dir):
    """Ten runs (new files and unchanged ones): ``kubectl describe`` fits 60 lines (one full-height terminal), and no run's
    message is repeated down the history."""
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='daily')
    s.apply(SAMPLE_CSV)
    s.start_operator()
    for i in range(10):
        if i % 3 == 2:  # a new file every third run
            s.k.apply(s.config_map(csv_text(5 + i)))
        _run_and_wait(s, i)
    obj = s.get()
    assert len(obj['status']['history']) == 10
    ready = condition(obj, 'Ready')
    assert all(ready['message'] not in line for line in obj['status']['history'])
    assert 'message' not in obj['status']['lastRun'], 'the message is the Ready condition\'s alone'
    describe = s.k.run('describe', 'hrconnectorjobs.hrconnector.io', s.name, '-n', namespace)
    lines = describe.rstrip('\n').split('\n')
    # The spec's endpoint overrides point the job at the emulator; a real job has none.
    start = lines.index('  Endpoints:')
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith('    '))
    typical = len(lines) - (end - start)
    print(f'\nkubectl describe after 10 runs: {len(lines)} lines, {typical} without the test\'s endpoint '
          f'overrides\n{describe}')
    assert typical <= 60, f'{typical} lines:\n{describe}'
    assert describe.count(ready['message']) == 1, 'one message per run'
