"""The RBAC check of the end-to-end suite: every Kubernetes API request the operator made (the API
emulator records them by the operator's User-Agent) must be allowed by ``hrconnector rbac``, and
every verb that table grants must have been used by at least one request.

A new permission is therefore two changes: a row in ``src/controller/rbac.rs`` and an e2e
scenario that makes the call. The check runs in ``conftest.py`` at the end of the session. Both
modes have the same rules: ``test_namespaces.py`` also checks an operator over two namespaces
against the Roles of ``hrconnector rbac --namespace a,b`` (no request outside them) and a
cluster-wide one against the ClusterRole."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Iterable, NamedTuple

import yaml

# The operator's User-Agent is ``hrconnector/VERSION`` (src/cli/controller.rs).
OPERATOR_USER_AGENT = 'hrconnector/'


class ApiRequest(NamedTuple):
    """One request as RBAC authorizes it."""
    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None

    @property
    def rbac_resource(self) -> str:
        return f'{self.resource}/{self.subresource}' if self.subresource else self.resource

    def __str__(self) -> str:
        group = self.group or 'core'
        where = f' in {self.namespace}' if self.namespace else ' (cluster-wide)'
        return f'{self.verb} {group}/{self.rbac_resource}{where}'


class Grant(NamedTuple):
    """One (group, resource, verb) of a rule."""
    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f'{self.verb} {self.group or "core"}/{self.resource}'


def verb_of(method: str, named: bool, watch: bool) -> str:
    """The RBAC verb of an HTTP request on a resource (Kubernetes' request-info rules)."""
    if method == 'GET':
        return 'watch' if watch else ('get' if named else 'list')
    return {'POST': 'create', 'PUT': 'update', 'PATCH': 'patch',
            'DELETE': 'delete' if named else 'deletecollection'}.get(method, method.lower())


def grants_from_yaml(text: str) -> list[Grant]:
    """The grants of every (Cluster)Role in ``hrconnector rbac``'s output."""
    grants = []
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get('kind') not in ('ClusterRole', 'Role'):
            continue
        for rule in doc.get('rules') or []:
            for group in rule.get('apiGroups') or []:
                for resource in rule.get('resources') or []:
                    for verb in rule.get('verbs') or []:
                        grants.append(Grant(group, resource, verb))
    return grants


def operator_grants(binary: pathlib.Path) -> list[Grant]:
    out = subprocess.run([str(binary), 'rbac'], check=True, capture_output=True, text=True).stdout
    return grants_from_yaml(out)


def allows(grant: Grant, request: ApiRequest) -> bool:
    return (grant.group in ('*', request.group) and grant.resource in ('*', request.rbac_resource)
            and grant.verb in ('*', request.verb))


def audit(requests: Iterable[ApiRequest], grants: list[Grant]) -> tuple[list[ApiRequest], list[Grant]]:
    """(requests no grant allows, grants no request used), each sorted and without repeats."""
    forbidden: set[ApiRequest] = set()
    used: set[Grant] = set()
    for request in requests:
        matching = [g for g in grants if allows(g, request)]
        if not matching:
            forbidden.add(request._replace(namespace='a namespace') if request.namespace else request)
        used.update(matching)
    return sorted(forbidden), sorted(set(grants) - used)


def report(forbidden: list[ApiRequest], unused: list[Grant], check_unused: bool) -> list[str]:
    """The lines to print; empty when the check passes."""
    lines = []
    if forbidden:
        lines.append('RBAC check: the operator made requests `hrconnector rbac` does not allow '
                     '(add them to src/controller/rbac.rs with their reason):')
        lines += [f'  {r}' for r in forbidden]
    if unused and check_unused:
        lines.append('RBAC check: `hrconnector rbac` grants what no request of the e2e suite used '
                     '(remove the grant, or add the scenario that needs it):')
        lines += [f'  {g}' for g in unused]
    return lines
