"""A Kubernetes API emulator for the end-to-end tests: kmock 0.8's ``KubernetesEmulator`` with the
fixes a kube-rs controller (and kubectl) needs.

kmock stores objects and serves discovery; this subclass takes over every request on a *declared*
resource and answers it the way a real API server does, as far as our operator can tell:

* a global, monotonically increasing ``metadata.resourceVersion`` stamped on every write, carried
  in watch events and in list ``metadata.resourceVersion``; watches resume from a given
  ``resourceVersion`` (kube-rs re-watches from the last version it saw) and honour
  ``timeoutSeconds``; ``resourceVersion`` preconditions on PUT/PATCH answer 409 ``Conflict``;
* ``404`` with a ``Status`` body and reason ``NotFound`` (kube-rs's ``get_opt`` and kubectl's
  ``apply`` both depend on it), ``409 AlreadyExists`` on a duplicate create;
* lists carry ``kind: <Kind>List`` and ``apiVersion``; watch streams are ``application/json``;
* ``PUT`` (replace), JSON merge patch, JSON patch, strategic merge patch (approximated as a merge
  patch: lists are replaced, not merged by key) and server-side apply, including create-on-apply
  and a field-ownership conflict check (409 ``Conflict`` when another manager owns a field with a
  different value and ``force`` is not set) - enough for lease-based leader election;
* the ``/status`` subresource is isolated from spec for resources that declare it: writes to the
  main resource keep the stored status, writes to ``/status`` change only status; ``status`` is
  dropped on create;
* ``metadata.generation`` (1 on create, +1 on every change outside metadata and status),
  ``uid``, ``creationTimestamp``, ``generateName``, ``deletionTimestamp`` with finalizers;
* equality label selectors and ``metadata.name``/``metadata.namespace`` field selectors;
* core discovery reports ``groupVersion: v1``; creating a ``CustomResourceDefinition`` registers
  its resource (as a real API server does), and CRD files can be pre-loaded at start-up.

What it still does not do is listed in ``README.md`` next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import datetime
import json
import os
import pathlib
import random
import string
import sys
import threading
import uuid
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import aiohttp.web_server
import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import parsing, rendering

import rbac_audit


def _parse_path(path: str) -> parsing.ParsedPath:
    """kmock's URL parser, fixed for the ``namespaces`` resource itself: ``/api/v1/namespaces``
    and ``/api/v1/namespaces/NAME[/status]`` are requests on namespaces, not inside one (kmock
    0.8 raises on the first and reads the second as a namespace with no resource)."""
    parts = [p for p in path.strip('/').split('/') if p]
    if len(parts) in (3, 4, 5) and parts[:3] == ['api', 'v1', 'namespaces'] \
            and (len(parts) < 5 or parts[4] in ('status', 'finalize')):
        return parsing.ParsedPath(group='', version='v1', plural='namespaces',
                                  name=parts[3] if len(parts) > 3 else None,
                                  subresource=parts[4] if len(parts) > 4 else None)
    return _original_parse_path(path)


_original_parse_path = parsing.parse_path
parsing.parse_path = _parse_path  # rendering.Request._parse looks it up on the module

JSON_CT = 'application/json'

# The resources the operator touches (besides its own CRD, which is read from crds/).
BUILTIN_RESOURCES: list[tuple[str, str, str, str, bool, tuple[str, ...]]] = [
    # group, version, plural, kind, namespaced, subresources
    ('', 'v1', 'namespaces', 'Namespace', False, ('status',)),
    ('', 'v1', 'configmaps', 'ConfigMap', True, ()),
    ('', 'v1', 'secrets', 'Secret', True, ()),
    ('', 'v1', 'serviceaccounts', 'ServiceAccount', True, ('token',)),
    ('', 'v1', 'events', 'Event', True, ()),
    ('', 'v1', 'pods', 'Pod', True, ('status', 'log')),
    ('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', True, ('status',)),
    ('events.k8s.io', 'v1', 'events', 'Event', True, ()),
    ('batch', 'v1', 'jobs', 'Job', True, ('status',)),
    ('coordination.k8s.io', 'v1', 'leases', 'Lease', True, ()),
    ('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', False, ('status',)),
]
SHORT_NAMES = {'namespaces': ('ns',), 'configmaps': ('cm',), 'pods': ('po',), 'events': ('ev',),
               'persistentvolumeclaims': ('pvc',), 'customresourcedefinitions': ('crd', 'crds')}
ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']


class ServiceAccountTokenIssuer:
    """The cluster's service account token issuer: RS256 JWTs with the claims a real API server
    puts in a TokenRequest token (``iss``, ``sub`` = ``system:serviceaccount:NS:NAME``, ``aud``,
    ``iat``, ``nbf``, ``exp``), signed with a key made for this emulator."""

    issuer = 'https://kubernetes.default.svc.cluster.local'

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Every token issued, for tests that check which one Entra ID received.
        self.issued: list[tuple[str, str, str]] = []  # (namespace, name, token)

    def public_key_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token_request(self, ns: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        spec = body.get('spec') or {}
        audiences = spec.get('audiences') or [self.issuer]
        seconds = int(spec.get('expirationSeconds') or 3600)
        now = int(datetime.datetime.now(tz=datetime.UTC).timestamp())
        claims = {'iss': self.issuer, 'sub': f'system:serviceaccount:{ns}:{name}', 'aud': audiences,
                  'iat': now, 'nbf': now, 'exp': now + seconds,
                  'kubernetes.io': {'namespace': ns, 'serviceaccount': {'name': name}}}

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b'=').decode()
        signing_input = '.'.join(b64(json.dumps(part, separators=(',', ':')).encode())
                                 for part in ({'alg': 'RS256', 'typ': 'JWT', 'kid': 'e2e'}, claims))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f'{signing_input}.{b64(signature)}'
        self.issued.append((ns, name, token))
        expires = datetime.datetime.fromtimestamp(now + seconds, tz=datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
        return {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'TokenRequest',
                'metadata': {'name': name, 'namespace': ns}, 'spec': spec,
                'status': {'token': token, 'expirationTimestamp': expires}}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _strategic_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, approximated: a merge patch that ignores the ``$patch``-style
    directives (lists are replaced as a whole, not merged by their merge keys)."""
    if isinstance(patch, dict):
        patch = {k: v for k, v in patch.items() if not k.startswith('$')}
    return _merge_patch(target, patch)


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a metadata-only request (``Accept: ...;as=PartialObjectMetadata``) sees it."""
    return {'apiVersion': 'meta.k8s.io/v1', 'kind': 'PartialObjectMetadata', 'metadata': obj['metadata']}


def _fold_string_data(obj: dict[str, Any]) -> None:
    """Secrets: ``stringData`` is write-only, the API server folds it into ``data``."""
    string_data = obj.pop('stringData', None)
    if string_data:
        data = obj.setdefault('data', {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj['data'] = data


def _leaves(obj: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """The leaf paths of a JSON object (lists count as leaves)."""
    if isinstance(obj, dict) and obj:
        out: dict[tuple[str, ...], Any] = {}
        for k, v in obj.items():
            out.update(_leaves(v, prefix + (k,)))
        return out
    return {prefix: obj}


def _get_path(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


_MISSING = object()
# Fields a manager never owns (the server sets them, or they identify the object).
_UNOWNED = {('apiVersion',), ('kind',), ('metadata', 'name'), ('metadata', 'namespace')}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


@attrs.define(kw_only=True)
class KubeApiEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with per-object resource versions, real error bodies, PUT,
    patch types, status isolation and CRD registration (see the module docstring)."""

    _rv: int = attrs.field(default=1000, init=False)
    # Per resource: every change as (resourceVersion, event), for watches that resume.
    _log: dict[Any, list[tuple[int, dict[str, Any]]]] = attrs.field(factory=dict, init=False)
    _changed: asyncio.Condition | None = attrs.field(default=None, init=False)
    # resourceVersion -> event-loop time of the write (for ``watch_delay``).
    _log_times: dict[int, float] = attrs.field(factory=dict, init=False)
    # (resource, namespace, name) -> {field path -> manager}
    _owners: dict[Any, dict[tuple[str, ...], str]] = attrs.field(factory=dict, init=False)
    # Every write request, for assertions: (method, path, subresource, content-type).
    writes: list[tuple[str, str, str | None, str]] = attrs.field(factory=list, init=False)
    # Every request the operator made (User-Agent ``hrconnector/...``), as RBAC sees it: what
    # rbac_audit.py checks against ``hrconnector rbac`` at the end of the suite.
    operator_requests: list['rbac_audit.ApiRequest'] = attrs.field(factory=list, init=False)
    # Watch events are held back this long before they are sent (0: none), as a real API
    # server's watch cache lags behind its writes; set by tests through ``watch_delay``.
    watch_delay: float = attrs.field(default=0.0, init=False)
    # Signs the tokens of ``POST serviceaccounts/NAME/token`` (the TokenRequest API), as a
    # cluster's service account issuer does; tests hand its issuer and public key to Entra ID.
    token_issuer: 'ServiceAccountTokenIssuer' = attrs.field(factory=lambda: ServiceAccountTokenIssuer(), init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for group, version, plural, kind, namespaced, subresources in BUILTIN_RESOURCES:
            self.register(group, version, plural, kind, namespaced, subresources,
                          shortnames=SHORT_NAMES.get(plural, ()) if group in ('', 'apiextensions.k8s.io') else ())

    # ----------------------------------------------------------------------------- registration
    def register(self, group: str, version: str, plural: str, kind: str, namespaced: bool,
                 subresources: tuple[str, ...] | list[str] = (), singular: str | None = None,
                 shortnames: tuple[str, ...] | list[str] = ()) -> None:
        self.resources[kmock.resource(group, version, plural)] = kmock.ResourceInfo(
            kind=kind, namespaced=namespaced, verbs=ALL_VERBS, subresources=set(subresources),
            singular=singular or kind.lower(), shortnames=set(shortnames))

    def register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get('spec', {})
        names = spec.get('names', {})
        for v in spec.get('versions', []):
            if not v.get('served', True):
                continue
            self.register(spec['group'], v['name'], names['plural'], names['kind'],
                          spec.get('scope', 'Namespaced') == 'Namespaced',
                          tuple(v.get('subresources', {}) or {}),
                          names.get('singular'), names.get('shortNames', ()))

    def load_crd_file(self, path: str | pathlib.Path) -> None:
        for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if doc and doc.get('kind') == 'CustomResourceDefinition':
                self.register_crd(doc)

    def _info(self, resource: Any) -> Any | None:
        for res in self.resources:
            if res == resource:
                return self.resources[res]
        return None

    # ----------------------------------------------------------------------------- discovery
    async def _serve_server_version(self, request: rendering.Request) -> rendering.Payload:
        return {'major': '1', 'minor': '32', 'gitVersion': 'v1.32.0-kmock', 'gitTreeState': 'clean',
                'platform': 'linux/amd64'}

    async def _serve_api(self, request: rendering.Request) -> rendering.Payload:
        return {'kind': 'APIVersions', 'apiVersion': 'v1', 'versions': ['v1'],
                'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1'}]}

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        assert request.resource is not None
        group, version = request.resource.group, request.resource.version
        resources = [r for r in self.resources if r.group == group and r.version == version]
        if not resources:
            raise kmock.KubernetesError(404, 'NotFound', 'the server could not find the requested resource')
        out = []
        for r in resources:
            info = self.resources[r]
            out.append({'name': r.plural, 'singularName': info.singular or '', 'kind': info.kind,
                        'namespaced': bool(info.namespaced), 'verbs': sorted(info.verbs),
                        'shortNames': sorted(info.shortnames)})
            for sub in sorted(info.subresources):
                out.append({'name': f'{r.plural}/{sub}', 'singularName': '', 'kind': info.kind,
                            'namespaced': bool(info.namespaced), 'verbs': ['get', 'patch', 'update']})
        return {'kind': 'APIResourceList', 'apiVersion': 'v1',
                'groupVersion': f'{group}/{version}' if group else version, 'resources': out}

    # ----------------------------------------------------------------------------- dispatch
    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if self._changed is None:
            self._changed = asyncio.Condition()
        res = request.resource
        if res is None or res.plural is None:
            return await super()._handle(request)  # discovery and non-Kubernetes paths
        self._record_operator_request(request, res)
        try:
            info = self._info(res)
            if info is None:
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
            return await self._serve_resource(request, res, info)
        except ApiError as e:
            return self._status(e.code, e.reason, e.message, e.details)
        except (ValueError, json.JSONDecodeError, yaml.YAMLError, jsonpatch.JsonPatchException) as e:
            return self._status(400, 'BadRequest', f'{type(e).__name__}: {e}')

    def _record_operator_request(self, request: rendering.Request, res: Any) -> None:
        if not request.headers.get('User-Agent', '').startswith(rbac_audit.OPERATOR_USER_AGENT):
            return
        method = request.method.value if hasattr(request.method, 'value') else str(request.method)
        watch = request.params.get('watch') in ('true', '1')
        self.operator_requests.append(rbac_audit.ApiRequest(
            verb=rbac_audit.verb_of(method, request.name is not None, watch), group=res.group or '',
            resource=res.plural, subresource=request.subresource, namespace=request.namespace))

    @staticmethod
    def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> aiohttp.web.Response:
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                'message': message, 'reason': reason, 'details': details or {}, 'code': code}
        return aiohttp.web.json_response(body, status=code)

    async def _serve_resource(self, request: rendering.Request, res: Any, info: Any) -> aiohttp.web.StreamResponse:
        method = request.method.value if hasattr(request.method, 'value') else str(request.method)
        params = request.params
        ns = request.namespace if info.namespaced else None
        name, sub = request.name, request.subresource
        if sub is not None and sub not in info.subresources:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        meta_only = 'as=PartialObjectMetadata' in request.headers.get('Accept', '')
        if method == 'GET' and params.get('watch') in ('true', '1'):
            return await self._watch(request, res, info, ns, name, meta_only)
        if method == 'GET' and name is None:
            listed = self._list(request, res, info, ns)
            if meta_only:
                listed = {'kind': 'PartialObjectMetadataList', 'apiVersion': 'meta.k8s.io/v1',
                          'metadata': listed['metadata'], 'items': [_partial(o) for o in listed['items']]}
            return aiohttp.web.json_response(listed)
        if method == 'GET':
            obj = self._get(res, info, ns, name)
            return aiohttp.web.json_response(_partial(obj) if meta_only else obj)
        self.writes.append((method, str(request.url.path), sub, request.headers.get('Content-Type', '')))
        if method == 'POST' and name is None:
            body = self._body(request)
            async with self._lock:
                created = await self._create(res, info, ns, body, params)
            return aiohttp.web.json_response(created, status=201)
        if method == 'PUT' and name is not None:
            body = self._body(request)
            return aiohttp.web.json_response(await self._replace(res, info, ns, name, sub, body, params))
        if method == 'PATCH' and name is not None:
            obj, created = await self._patch(request, res, info, ns, name, sub)
            return aiohttp.web.json_response(obj, status=201 if created else 200)
        if method == 'DELETE' and name is not None:
            return aiohttp.web.json_response(await self._delete(res, info, ns, name))
        if method == 'POST' and name is not None and res.plural == 'serviceaccounts' and sub == 'token':
            self._get(res, info, ns, name)  # 404 for a service account that does not exist
            return aiohttp.web.json_response(self.token_issuer.token_request(ns, name, self._body(request)),
                                             status=201)
        raise ApiError(405, 'MethodNotAllowed', f'{method} is not supported on {request.url.path}')

    @staticmethod
    def _body(request: rendering.Request) -> Any:
        text = request.body.decode('utf-8') if request.body else ''
        if not text.strip():
            raise ApiError(400, 'BadRequest', 'empty request body')
        return yaml.safe_load(text) if 'yaml' in request.headers.get('Content-Type', '') else json.loads(text)

    # ----------------------------------------------------------------------------- helpers
    def _not_found(self, res: Any, info: Any, name: str) -> ApiError:
        qualified = f'{res.plural}.{res.group}' if res.group else res.plural
        return ApiError(404, 'NotFound', f'{qualified} "{name}" not found',
                        {'name': name, 'group': res.group, 'kind': res.plural})

    def _current(self, res: Any, ns: str | None, name: str) -> dict[str, Any] | None:
        key = (res, ns, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    def _get(self, res: Any, info: Any, ns: str | None, name: str) -> dict[str, Any]:
        obj = self._current(res, ns, name)
        if obj is None:
            raise self._not_found(res, info, name)
        return obj

    @staticmethod
    def _selected(obj: dict[str, Any], params: dict[str, str]) -> bool:
        meta = obj.get('metadata', {})
        labels = meta.get('labels') or {}
        for term in filter(None, (params.get('labelSelector') or '').split(',')):
            if '!=' in term:
                k, v = term.split('!=', 1)
                if labels.get(k.strip()) == v.strip():
                    return False
            elif '=' in term:
                k, v = term.replace('==', '=').split('=', 1)
                if labels.get(k.strip()) != v.strip():
                    return False
            elif term.startswith('!'):
                if term[1:].strip() in labels:
                    return False
            elif term.strip() not in labels:
                return False
        for term in filter(None, (params.get('fieldSelector') or '').split(',')):
            k, v = term.replace('==', '=').split('=', 1)
            field = {'metadata.name': meta.get('name'), 'metadata.namespace': meta.get('namespace')}.get(k)
            if field is not None and field != v:
                return False
        return True

    def _api_version(self, res: Any) -> str:
        return f'{res.group}/{res.version}' if res.group else res.version

    def _list(self, request: rendering.Request, res: Any, info: Any, ns: str | None) -> dict[str, Any]:
        items = []
        for (r, o_ns, _), obj in self._objects.items():
            if r == res and not obj.deleted and (ns is None or o_ns == ns):
                raw = copy.deepcopy(obj.raw)
                if self._selected(raw, request.params):
                    items.append(raw)
        items.sort(key=lambda o: (o['metadata'].get('namespace') or '', o['metadata']['name']))
        return {'kind': f'{info.kind}List', 'apiVersion': self._api_version(res),
                'metadata': {'resourceVersion': str(self._rv)}, 'items': items}

    async def _commit(self, res: Any, ns: str | None, name: str, obj: dict[str, Any] | None,
                      event_type: str, last: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stores a new version (or a deletion) with a fresh resourceVersion and publishes it."""
        assert self._changed is not None
        self._rv += 1
        key = (res, ns, name)
        if obj is None:  # deletion
            assert last is not None
            shown = copy.deepcopy(last)
            shown['metadata']['resourceVersion'] = str(self._rv)
            self._objects[key].delete()
            self._owners.pop(key, None)
        else:
            obj['metadata']['resourceVersion'] = str(self._rv)
            if key in self._objects:
                self._objects[key].create(copy.deepcopy(obj))
            else:
                self._objects[key] = copy.deepcopy(obj)
            shown = obj
        self._log.setdefault(res, []).append((self._rv, {'type': event_type, 'object': copy.deepcopy(shown)}))
        self._log_times[self._rv] = asyncio.get_running_loop().time()
        async with self._changed:
            self._changed.notify_all()
        return copy.deepcopy(shown)

    def _prepare_new(self, res: Any, info: Any, ns: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, 'BadRequest', 'the body must be an object')
        obj = copy.deepcopy(body)
        meta = obj.setdefault('metadata', {})
        if not meta.get('name') and meta.get('generateName'):
            meta['name'] = meta['generateName'] + ''.join(random.choices(string.ascii_lowercase + string.digits, k=5))
        if not meta.get('name'):
            raise ApiError(422, 'Invalid', 'metadata.name: Required value: name or generateName is required')
        if info.namespaced:
            if meta.get('namespace') not in (None, ns):
                raise ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request')
            meta['namespace'] = ns
        else:
            meta.pop('namespace', None)
        obj['apiVersion'] = self._api_version(res)
        obj['kind'] = info.kind
        meta['uid'] = str(uuid.uuid4())
        meta['creationTimestamp'] = _now()
        for f in ('resourceVersion', 'deletionTimestamp', 'managedFields', 'selfLink'):
            meta.pop(f, None)
        if 'status' in info.subresources and res.group not in ('', 'batch', 'apiextensions.k8s.io'):
            obj.pop('status', None)  # CRDs with a status subresource drop status on create
        if self._tracks_generation(res):
            meta['generation'] = 1
        if res == kmock.resource('', 'v1', 'secrets'):
            _fold_string_data(obj)
        return obj

    @staticmethod
    def _tracks_generation(res: Any) -> bool:
        return res.group not in ('', 'coordination.k8s.io', 'events.k8s.io')

    async def _create(self, res: Any, info: Any, ns: str | None, body: Any, params: dict[str, str],
                      manager: str | None = None, applied: Any = None) -> dict[str, Any]:
        obj = self._prepare_new(res, info, ns, body)
        name = obj['metadata']['name']
        if self._current(res, ns, name) is not None:
            qualified = f'{res.plural}.{res.group}' if res.group else res.plural
            raise ApiError(409, 'AlreadyExists', f'{qualified} "{name}" already exists',
                           {'name': name, 'group': res.group, 'kind': res.plural})
        if params.get('dryRun'):
            return obj
        owners: dict[tuple[str, ...], str] = {}
        mgr = manager or params.get('fieldManager') or 'unknown'
        for path in _leaves(applied if applied is not None else obj):
            if path not in _UNOWNED and path[:2] != ('metadata', 'uid'):
                owners[path] = mgr
        self._owners[(res, ns, name)] = owners
        if res == kmock.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'):
            self.register_crd(obj)
        return await self._commit(res, ns, name, obj, 'ADDED')

    def _finish_update(self, res: Any, info: Any, old: dict[str, Any], new: dict[str, Any],
                       sub: str | None) -> dict[str, Any]:
        """Applies the subresource rules, immutable metadata and generation to an update."""
        if not isinstance(new, dict):
            raise ApiError(400, 'BadRequest', 'the result must be an object')
        has_status = 'status' in info.subresources
        if sub == 'status':
            result = copy.deepcopy(old)
            if 'status' in new:
                result['status'] = new['status']
            else:
                result.pop('status', None)
            new = result
        elif has_status:
            if 'status' in old:
                new['status'] = copy.deepcopy(old['status'])
            else:
                new.pop('status', None)
        meta = new.setdefault('metadata', {})
        for f in ('uid', 'creationTimestamp', 'name', 'namespace', 'generation', 'deletionTimestamp'):
            if f in old['metadata']:
                meta[f] = old['metadata'][f]
            else:
                meta.pop(f, None)
        new['apiVersion'] = old['apiVersion']
        new['kind'] = old['kind']
        if res == kmock.resource('', 'v1', 'secrets'):
            _fold_string_data(new)
        if self._tracks_generation(res):
            strip = lambda o: {k: v for k, v in o.items() if k not in ('metadata', 'status')}
            if strip(old) != strip(new):
                meta['generation'] = int(old['metadata'].get('generation', 1)) + 1
        return new

    def _check_precondition(self, old: dict[str, Any], body: Any) -> None:
        wanted = body.get('metadata', {}).get('resourceVersion') if isinstance(body, dict) else None
        if wanted and str(wanted) != old['metadata']['resourceVersion']:
            name = old['metadata']['name']
            raise ApiError(409, 'Conflict', f'Operation cannot be fulfilled on "{name}": the object has been modified; '
                                            'please apply your changes to the latest version and try again')

    def _take_ownership(self, key: Any, old: dict[str, Any], new: dict[str, Any], manager: str) -> None:
        owners = self._owners.setdefault(key, {})
        old_leaves, new_leaves = _leaves(old), _leaves(new)
        for path, value in new_leaves.items():
            if path[0] == 'metadata' and path[1] in ('resourceVersion', 'generation', 'uid', 'creationTimestamp'):
                continue
            if old_leaves.get(path, _MISSING) != value:
                owners[path] = manager
        for path in list(owners):
            if path not in new_leaves:
                del owners[path]

    async def _store_update(self, res: Any, info: Any, ns: str | None, name: str, old: dict[str, Any],
                            new: dict[str, Any], manager: str, params: dict[str, str]) -> dict[str, Any]:
        new['metadata']['resourceVersion'] = old['metadata']['resourceVersion']
        if new == old or params.get('dryRun'):
            return old  # a no-op write does not bump the resourceVersion (as in Kubernetes)
        self._take_ownership((res, ns, name), old, new, manager)
        meta = new['metadata']
        if meta.get('deletionTimestamp') and not meta.get('finalizers'):
            return await self._commit(res, ns, name, None, 'DELETED', last=new)
        return await self._commit(res, ns, name, new, 'MODIFIED')

    async def _replace(self, res: Any, info: Any, ns: str | None, name: str, sub: str | None,
                       body: Any, params: dict[str, str]) -> dict[str, Any]:
        async with self._lock:
            old = self._current(res, ns, name)
            if old is None:
                raise self._not_found(res, info, name)
            self._check_precondition(old, body)
            new = self._finish_update(res, info, old, copy.deepcopy(body), sub)
            return await self._store_update(res, info, ns, name, old, new, params.get('fieldManager') or 'unknown', params)

    async def _patch(self, request: rendering.Request, res: Any, info: Any, ns: str | None, name: str,
                     sub: str | None) -> tuple[dict[str, Any], bool]:
        ctype = request.headers.get('Content-Type', '').split(';')[0].strip()
        params = request.params
        manager = params.get('fieldManager') or 'unknown'
        force = params.get('force') in ('true', '1')
        body = self._body(request)
        async with self._lock:
            old = self._current(res, ns, name)
            if ctype == 'application/apply-patch+yaml':
                if not isinstance(body, dict):
                    raise ApiError(400, 'BadRequest', 'apply needs an object')
                if old is None:
                    if sub is not None:
                        raise self._not_found(res, info, name)
                    body.setdefault('metadata', {}).setdefault('name', name)
                    return await self._create(res, info, ns, body, params, manager, applied=body), True
                self._check_precondition(old, body)
                owners = self._owners.get((res, ns, name), {})
                conflicts = []
                for path, value in _leaves(body).items():
                    if path in _UNOWNED:
                        continue
                    owner = owners.get(path)
                    if owner is not None and owner != manager and _get_path(old, path) != value:
                        conflicts.append(f'conflict with "{owner}": .{".".join(path)}')
                if conflicts and not force:
                    raise ApiError(409, 'Conflict', f'Apply failed with {len(conflicts)} conflict(s): '
                                   + '; '.join(conflicts), {'causes': [{'reason': 'FieldManagerConflict',
                                                                        'message': c} for c in conflicts]})
                new = _merge_patch(old, body)
            else:
                if old is None:
                    raise self._not_found(res, info, name)
                if ctype == 'application/json-patch+json':
                    new = jsonpatch.apply_patch(old, body)
                elif ctype == 'application/merge-patch+json':
                    self._check_precondition(old, body)
                    new = _merge_patch(old, body)
                elif ctype == 'application/strategic-merge-patch+json':
                    self._check_precondition(old, body)
                    new = _strategic_patch(old, body)
                else:
                    raise ApiError(415, 'UnsupportedMediaType', f'the body of the request was in an unknown format: {ctype}')
            new = self._finish_update(res, info, old, new, sub)
            return await self._store_update(res, info, ns, name, old, new, manager, params), False

    async def _delete(self, res: Any, info: Any, ns: str | None, name: str) -> dict[str, Any]:
        async with self._lock:
            old = self._current(res, ns, name)
            if old is None:
                raise self._not_found(res, info, name)
            if old['metadata'].get('finalizers'):
                if old['metadata'].get('deletionTimestamp'):
                    return old
                new = copy.deepcopy(old)
                new['metadata']['deletionTimestamp'] = _now()
                return await self._commit(res, ns, name, new, 'MODIFIED')
            return await self._commit(res, ns, name, None, 'DELETED', last=old)

    # ----------------------------------------------------------------------------- watch
    async def _watch(self, request: rendering.Request, res: Any, info: Any, ns: str | None,
                     name: str | None, meta_only: bool = False) -> aiohttp.web.StreamResponse:
        assert self._changed is not None and request._raw_request is not None
        params = request.params
        since = params.get('resourceVersion') or '0'
        try:
            since_rv = int(since)
        except ValueError:
            raise ApiError(400, 'BadRequest', f'invalid resourceVersion {since!r}')
        timeout = float(params.get('timeoutSeconds') or 1800)
        bookmarks = params.get('allowWatchBookmarks') in ('true', '1')

        def wanted(obj: dict[str, Any]) -> bool:
            meta = obj.get('metadata', {})
            return ((ns is None or meta.get('namespace') == ns)
                    and (name is None or meta.get('name') == name)
                    and self._selected(obj, params))

        response = aiohttp.web.StreamResponse(status=200, headers={'Content-Type': JSON_CT})
        await response.prepare(request._raw_request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if since_rv == 0:  # "any": start with the current state as ADDED events
            async with self._lock:
                initial = self._list(request, res, info, ns)
                position = self._rv
            for item in initial['items']:
                if wanted(item):
                    shown = _partial(item) if meta_only else item
                    await response.write(json.dumps({'type': 'ADDED', 'object': shown}).encode() + b'\n')
        else:
            position = since_rv
        try:
            while True:
                log = self._log.get(res, [])
                for rv, event in [e for e in log if e[0] > position]:
                    lag = self._log_times.get(rv, 0.0) + self.watch_delay - loop.time()
                    if lag > 0:
                        await asyncio.sleep(lag)
                    position = rv
                    if wanted(event['object']):
                        if meta_only:
                            event = {'type': event['type'], 'object': _partial(event['object'])}
                        await response.write(json.dumps(event).encode() + b'\n')
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                async with self._changed:
                    if not [e for e in self._log.get(res, []) if e[0] > position]:
                        try:
                            await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 5.0))
                        except asyncio.TimeoutError:
                            pass
            if bookmarks:
                bookmark = {'type': 'BOOKMARK', 'object': {'kind': info.kind, 'apiVersion': self._api_version(res),
                                                           'metadata': {'resourceVersion': str(max(position, self._rv))}}}
                await response.write(json.dumps(bookmark).encode() + b'\n')
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response


# --------------------------------------------------------------------------------- running it
class _ServerWithApiBodyLimit(aiohttp.test_utils.RawTestServer):
    """aiohttp refuses request bodies over 1 MiB; the API server takes up to 3 MiB (a ConfigMap
    holds up to 1 MiB of data, which JSON encoding makes bigger)."""

    async def _make_runner(self, debug: bool = True, **kwargs: Any) -> aiohttp.web.ServerRunner:
        server = aiohttp.web_server.Server(self._handler, loop=self._loop, debug=debug, **kwargs)

        def factory(message, payload, protocol, writer, task):  # type: ignore[no-untyped-def]
            return aiohttp.web.BaseRequest(message, payload, protocol, writer, task, server._loop,
                                           client_max_size=3 * 1024 * 1024)

        server.request_factory = factory
        return aiohttp.web.ServerRunner(server, debug=debug, **kwargs)


def write_kubeconfig(path: str | pathlib.Path, server: str, namespace: str = 'default') -> None:
    config = {
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'kmock', 'preferences': {},
        'clusters': [{'name': 'kmock', 'cluster': {'server': server}}],
        'users': [{'name': 'kmock', 'user': {}}],
        'contexts': [{'name': 'kmock', 'context': {'cluster': 'kmock', 'user': 'kmock', 'namespace': namespace}}],
    }
    pathlib.Path(path).write_text(yaml.safe_dump(config))


class EmulatorThread:
    """Runs a ``KubeApiEmulator`` on 127.0.0.1 (a free port) in a background thread with its own
    event loop, so synchronous tests can use it."""

    def __init__(self, crd_files: list[str | pathlib.Path] = ()):
        self.crd_files = list(crd_files)
        self.emulator: KubeApiEmulator | None = None
        self.url = ''
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name='kube-api-emulator', daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported by start()
            self._error = e
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        emulator = KubeApiEmulator()
        for path in self.crd_files:
            emulator.load_crd_file(path)
        async with emulator, kmock.Server(emulator, server_cls=_ServerWithApiBodyLimit) as server:
            self.emulator = emulator
            self.url = f'http://127.0.0.1:{server.port}'
            self._ready.set()
            await self._stop.wait()

    def start(self) -> 'EmulatorThread':
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f'the Kubernetes API emulator did not start: {self._error!r}')
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description='Serve the Kubernetes API emulator on loopback.')
    parser.add_argument('--kubeconfig', help='write a kubeconfig for it here')
    parser.add_argument('--crd', action='append', default=[], help='CRD YAML to register at start-up')
    args = parser.parse_args()
    thread = EmulatorThread(args.crd).start()
    print(thread.url, flush=True)
    if args.kubeconfig:
        write_kubeconfig(args.kubeconfig, thread.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        thread.stop()


if __name__ == '__main__':
    sys.exit(main())
