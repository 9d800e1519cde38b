"""HR exports as they come, in the operator: ``spec.input`` converts a workbook kept in a
ConfigMap's ``binaryData`` (written by openpyxl, a real spreadsheet library) and a European Excel
CSV on the way; a wrong ``spec.input`` is InvalidSpec on apply."""

from __future__ import annotations

import base64
import datetime
import io
from typing import Any

from harness import condition
from test_operator import Scenario, emails


def _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw) -> Scenario:
    return Scenario(cluster, namespace, hr_emulator, app, operators, log_dir, **kw)


def _binary_config_map(s: Scenario, key: str, data: bytes) -> dict[str, Any]:
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': s.cm_name, 'namespace': s.ns},
            'binaryData': {key: base64.b64encode(data).decode()}}


def _workbook() -> bytes:
    import openpyxl
    book = openpyxl.Workbook()
    book.active.title = 'Notes'
    book.active['A1'] = 'not this sheet'
    sheet = book.create_sheet('Leavers')
    sheet.append(['Email', 'Termination Date', 'Last Day'])
    sheet.append(['ana@contoso.com', datetime.datetime(2026, 11, 30, 3, 0), datetime.datetime(2026, 11, 30, 17, 30)])
    sheet.append(['ben@contoso.com', datetime.datetime(2026, 10, 15, 9, 30), datetime.datetime(2026, 10, 16, 17, 0)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _instants(received: dict[str, Any]) -> list[str]:
    def utc(text: str) -> str:
        return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return [utc(r[1]) for r in received['records']]


def test_a_workbook_in_binary_data_is_converted_and_uploaded(cluster, namespace, hr_emulator, app, operators,
                                                              log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='workbook')
    job = s.job(source={'configMap': {'name': s.cm_name, 'key': 'leavers.xlsx'}},
                columns={'emailAddress': 'Email', 'terminationDate': 'Termination Date',
                         'lastWorkingDate': 'Last Day'},
                input={'sheet': 'Leavers', 'timeZone': 'America/New_York'})
    s.k.apply(s.secret(), _binary_config_map(s, 'leavers.xlsx', _workbook()), job)
    s.start_operator()
    s.run_now()
    obj = s.wait_ready('True', 'Succeeded', extra=lambda o: (o.get('status') or {}).get('recordsSaved') == 2)
    received = hr_emulator.received(app['jobId'])
    assert emails(received) == ['ana@contoso.com', 'ben@contoso.com']
    # Typed cells are New York local times: EST in November, EDT in October.
    assert _instants(received) == ['2026-11-30T08:00:00Z', '2026-10-15T13:30:00Z']
    assert obj['status']['lastRun']['result'] == 'Succeeded'


def test_a_european_export_and_a_wrong_input_spec(cluster, namespace, hr_emulator, app, operators, log_dir):
    s = _scenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='departs')
    export = ('EmailAddress;TerminationDate;LastWorkingDate;Motif\r\n'
              'ana@contoso.com;30.11.2026;30.11.2026;Départ volontaire\r\n').encode('cp1252')
    wrong = s.job(source={'configMap': {'name': s.cm_name, 'key': 'departs.csv'}},
                  input={'delimiter': ';', 'encoding': 'windows-1252',
                         'dateFormats': {'terminationDate': 'dd.mm.yyyy'}})
    s.k.apply(s.secret(), _binary_config_map(s, 'departs.csv', export), wrong)
    s.start_operator()
    obj = s.wait_ready('False', 'InvalidSpec')
    message = condition(obj, 'Ready')['message']
    assert 'spec.input.dateFormats.terminationDate' in message, message

    right = s.job(source={'configMap': {'name': s.cm_name, 'key': 'departs.csv'}},
                  input={'delimiter': ';', 'encoding': 'windows-1252',
                         'dateFormats': {'all': '%d.%m.%Y'}, 'timeZone': 'Europe/Paris'})
    s.k.apply(right)
    obj = s.wait_ready('Unknown', 'AwaitingFirstRun')
    # The check on apply shows what it converted.
    assert obj['status']['input'] == ("csv (windows-1252, ';'); TerminationDate: 1 values as %d.%m.%Y; "
                                      "LastWorkingDate: 1 values as %d.%m.%Y"), obj['status']
    s.run_now()
    s.wait_ready('True', 'Succeeded')
    received = hr_emulator.received(app['jobId'])
    assert _instants(received) == ['2026-11-29T23:00:00Z']
    assert received['records'][0][3] == 'Départ volontaire', 'other columns pass through, re-encoded'
