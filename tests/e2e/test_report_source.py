"""HrConnectorJobs whose CSV is a report at an HTTPS URL (spec.source.https), as Workday RaaS
serves one: the real operator downloads it from a report server started here over TLS, with a
CA the test made and basic authentication from a Secret; the egress policy refuses a report
host no prefix allows; a wrong password is named by its user, never echoed."""

from __future__ import annotations

import base64
import collections
import hashlib
import http.server
import json
import pathlib
import ssl
import threading
import time
from typing import Any, Iterator

import pytest

from harness import csv_text, free_port
from network import TestCa
from test_operator import Scenario, emails

USER = 'isu_hr_connector'
PASSWORD = 'e2e-report-password-4e1d'
REPORT_PATH = '/ccx/service/customreport2/agency/isu/terminations'


class ReportServer:
    """A Workday-like report endpoint over TLS: basic authentication, an ETag, a request count."""

    def __init__(self, ca: TestCa, csv: str):
        self.csv, self.requests, self.missing = csv.encode(), 0, False
        expected = 'Basic ' + base64.b64encode(f'{USER}:{PASSWORD}'.encode()).decode()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                server.requests += 1
                if self.path.split('?')[0] != REPORT_PATH or server.missing:
                    self.send_error(404)
                    return
                if self.headers.get('Authorization') != expected:
                    self.send_response(401)
                    self.send_header('WWW-Authenticate', 'Basic realm="reports"')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header('Content-Type', 'text/csv')
                self.send_header('ETag', '"report-e2e"')
                self.send_header('Content-Length', str(len(server.csv)))
                self.end_headers()
                self.wfile.write(server.csv)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(ca.cert_file), str(ca.key_file))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f'https://127.0.0.1:{self.port}'
        self.url = f'{self.origin}{REPORT_PATH}?format=csv'

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ca(tmp_path) -> TestCa:
    return TestCa(tmp_path / 'ca')


@pytest.fixture
def report(ca) -> Iterator[ReportServer]:
    server = ReportServer(ca, csv_text(1200, prefix='w'))
    yield server
    server.stop()


class ReportScenario(Scenario):
    """A job whose source is a report URL, with its basic credentials in a Secret."""

    def __init__(self, *args, url: str, allowed: list[str], password: str = PASSWORD, **kw):
        super().__init__(*args, **kw)
        self.url, self.allowed, self.password = url, allowed, password

    def allowed_urls(self) -> list[str]:
        return self.allowed

    def report_secret(self) -> dict[str, Any]:
        return {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': f'{self.name}-report', 'namespace': self.ns},
                'type': 'Opaque', 'stringData': {'username': USER, 'password': self.password}}

    def apply_report_job(self, **spec: Any) -> None:
        source = {'https': {'url': self.url, 'auth': {'basic': {'secretRef': {'name': f'{self.name}-report'}}}}}
        self.k.apply(self.secret(), self.report_secret(), self.job(source=source, **spec))


def status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get('status') or {}


def test_a_workday_report_job_goes_ready_and_uploads_every_record(cluster, namespace, hr_emulator, app, operators,
                                                                   log_dir, ca, report):
    s = ReportScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='raas', url=report.url,
                       allowed=[report.origin])
    s.apply_report_job(recordsPerCall=500)
    s.start_operator(extra_args=['--ca-file', str(ca.ca_file)])
    obj = s.wait('the checked report in status', lambda o: (status(o).get('source') or {}).get('sha256'))
    seen = status(obj)['source']
    assert seen['sha256'] == hashlib.sha256(report.csv).hexdigest(), seen
    assert seen['size'] == len(report.csv) and seen['etag'] == '"report-e2e"', seen
    checks = report.requests
    s.run_now()
    s.wait_ready('True', 'Succeeded', timeout=60, extra=lambda o: status(o).get('recordsSaved') == 1200)
    counts = collections.Counter(emails(hr_emulator.received(app['jobId'])))
    assert len(counts) == 1200 and set(counts.values()) == {1}
    assert report.requests == checks + 1, 'one download for the run: validation and sending read the same bytes'
    assert PASSWORD not in json.dumps(s.get())
    s.assert_running()


def test_a_wrong_password_is_named_by_its_user_and_an_unlisted_host_is_refused(cluster, namespace, hr_emulator, app,
                                                                                 operators, log_dir, ca, report):
    wrong = 'not-the-report-password'
    s = ReportScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='raaswrong', url=report.url,
                       allowed=[report.origin], password=wrong)
    s.apply_report_job()
    s.start_operator(extra_args=['--ca-file', str(ca.ca_file)])
    obj = s.wait_ready('False', 'SourceAccessDenied')
    message = next(c for c in status(obj)['conditions'] if c['type'] == 'Ready')['message']
    assert f'basic credentials of user "{USER}" were refused' in message and 'HTTP 401' in message, message
    assert wrong not in json.dumps(s.get()) and 'format=csv' not in message

    # The same report through a host no --allow-endpoint-prefix names: nothing is sent there.
    before = report.requests
    other = ReportScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='raasother',
                           url=report.url.replace('127.0.0.1', 'localhost'), allowed=[])
    other.apply_report_job()
    obj = other.wait_ready('False', 'EndpointNotAllowed')
    assert 'spec.source.https.url' in next(c for c in status(obj)['conditions'] if c['type'] == 'Ready')['message']
    assert report.requests == before
    s.assert_running()


def test_a_failed_check_is_tried_again_and_a_good_report_is_not_fetched_on_a_timer(
        cluster, namespace, hr_emulator, app, operators, log_dir, ca, report):
    report.missing = True
    s = ReportScenario(cluster, namespace, hr_emulator, app, operators, log_dir, name='raasrecheck',
                       url=report.url, allowed=[report.origin])
    s.apply_report_job()
    s.start_operator(extra_args=['--ca-file', str(ca.ca_file), '--object-source-recheck-seconds', '1'])
    s.wait_ready('False', 'SourceNotFound')
    # Runs wait for a good check: the report is published, and the next check finds it.
    report.missing = False
    s.wait('the checked report in status', lambda o: (status(o).get('source') or {}).get('sha256'), timeout=30)
    seen = report.requests
    time.sleep(3)
    assert report.requests == seen, 'a report that checked out is not downloaded again on a timer'
    s.assert_running()
