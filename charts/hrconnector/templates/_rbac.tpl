{{/*
The operator's permissions: exactly the table of `hrconnector rbac` (src/controller/rbac.rs).
scripts/check-deploy.sh fails when the rendered rules miss any of them or grant more.
Call with (dict "jobs" true "leases" true): "jobs" = everything used in the namespaces where
HrConnectorJobs live, "leases" = leader election (in the release namespace).
*/}}
{{- define "hrconnector.rbacRules" -}}
{{- if .jobs }}
# The controller watches the jobs it runs.
- apiGroups: ["hrconnector.io"]
  resources: ["hrconnectorjobs"]
  verbs: ["get", "list", "watch"]
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
# Leader election, so two replicas never both upload (no list/watch/delete).
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "patch", "update"]
{{- end }}
{{- if .jobs }}
# PersistentVolumeClaim sources are uploaded by a batch Job the operator owns (it creates it,
# follows it, and deletes it when the run is abandoned).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "get", "list", "watch", "delete"]
# An upload Job's result is read from its pod's termination message.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
{{- end }}
{{- end }}
