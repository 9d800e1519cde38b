{{/*
The operator's permissions: exactly the table of `hrconnector rbac` (src/controller/rbac.rs).
scripts/check-deploy.sh fails when the rendered rules miss any of them or grant more.
Call with (dict "jobs" true "leases" true): "jobs" = everything used in the namespaces where
HrConnectorJobs live, "leases" = leader election (in the release namespace).
*/}}
{{- define "hrconnector.rbacRules" -}}
{{- if .jobs }}
# The controller watches the jobs it runs (single reads go through /status).
- apiGroups: ["hrconnector.io"]
  resources: ["hrconnectorjobs"]
  verbs: ["list", "watch"]
# Status carries verdicts, run outcomes and the upload checkpoint (status subresource only:
# the operator never changes a spec).
- apiGroups: ["hrconnector.io"]
  resources: ["hrconnectorjobs/status"]
  verbs: ["get", "patch"]
# HR data in ConfigMaps is read, and re-validated when it changes (read only).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
# Credentials and Secret-held HR data are read by name only: never listed or watched, so the
# operator cannot enumerate or stream the namespace's Secrets.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Run started, succeeded and failed, and validation errors, as Events (create; patch folds
# repeats into a count).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
{{- if .leases }}
# Leader election (server-side apply), so two replicas never both upload (no list/watch/delete).
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "patch"]
{{- end }}
{{- if .jobs }}
# PersistentVolumeClaim sources are uploaded by a batch Job the operator owns (it creates it
# and follows it; the garbage collector deletes it with its HrConnectorJob, or after its TTL).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "get"]
# An upload Job's result is read from its pod's termination message.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# workloadIdentity: the job's service account names the Entra ID app and tenant (annotations).
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get"]
# workloadIdentity: a TokenRequest token of that service account is the federated assertion
# (no Secret at all).
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
{{- end }}
{{- end }}

{{/*
The namespaces the operator watches, comma-separated; empty means every namespace (clusterWide).
Least privilege by default: without watchNamespaces (or the older watchNamespace) it is the
release namespace alone.
*/}}
{{- define "hrconnector.watchNamespaces" -}}
{{- if .Values.clusterWide -}}
{{- if or .Values.watchNamespaces .Values.watchNamespace -}}
{{- fail "clusterWide: true watches every namespace: leave watchNamespaces and watchNamespace empty" -}}
{{- end -}}
{{- else if .Values.watchNamespaces -}}
{{- if .Values.watchNamespace -}}
{{- fail "set watchNamespaces or the older watchNamespace, not both" -}}
{{- end -}}
{{- .Values.watchNamespaces | uniq | join "," -}}
{{- else -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}
{{- end -}}
