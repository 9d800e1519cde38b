{{/* Name of the chart, overridable. */}}
{{- define "hrconnector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "hrconnector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hrconnector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "hrconnector.labels" -}}
helm.sh/chart: {{ include "hrconnector.chart" . }}
{{ include "hrconnector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hrconnector
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods (never change them: selectors are immutable). */}}
{{- define "hrconnector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hrconnector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "hrconnector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hrconnector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, by digest when one is given, else by tag (default: the chart's appVersion, with
     the suffix -fips when fips.required). */}}
{{- define "hrconnector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- $defaultTag := ternary (printf "%s-fips" .Chart.AppVersion) .Chart.AppVersion .Values.fips.required }}
{{- printf "%s:%s" .Values.image.repository (default $defaultTag .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Leader election is on with more than one replica, or when asked for. */}}
{{- define "hrconnector.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{- define "hrconnector.leaseName" -}}
{{- default (printf "%s-leader" (include "hrconnector.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}
