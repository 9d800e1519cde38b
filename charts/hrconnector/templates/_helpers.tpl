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

{{/* NetworkPolicy egress rule: DNS (any resolver: kube-dns, NodeLocal DNSCache). */}}
{{- define "hrconnector.dnsEgress" -}}
# DNS (any resolver: kube-dns, NodeLocal DNSCache).
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{/* The egress proxy's ports, as a JSON list: networkPolicy.proxy.ports, else the port of each
     of proxy.httpsProxy and proxy.httpProxy (explicit, else 80 for http://, 443 for https://). */}}
{{- define "hrconnector.proxyPorts" -}}
{{- $ports := list }}
{{- range (list .Values.proxy.httpsProxy .Values.proxy.httpProxy) }}
{{- if . }}
{{- $url := urlParse . }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $url.host) }}
{{- $ports = append $ports (int (default (ternary "443" "80" (eq $url.scheme "https")) $port)) }}
{{- end }}
{{- end }}
{{- with .Values.networkPolicy.proxy.ports }}
{{- $ports = . }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/*
NetworkPolicy egress rules to Entra ID and the ingestion service, for the operator and its upload
Jobs: with proxy.httpsProxy the egress proxy only (networkPolicy.proxy.cidrs, its port), instead
of 443 to networkPolicy.httpsCidrs; with proxy.httpProxy alone, both (HTTPS goes direct).
*/}}
{{- define "hrconnector.serviceEgress" -}}
{{- $np := .Values.networkPolicy }}
{{- if or .Values.proxy.httpsProxy .Values.proxy.httpProxy }}
{{- if not $np.proxy.cidrs }}
{{- fail "networkPolicy.enabled with proxy.httpsProxy or proxy.httpProxy: set networkPolicy.proxy.cidrs to the proxy's addresses, e.g. [\"10.20.0.5/32\"] (a NetworkPolicy cannot match host names)" }}
{{- end }}
# The egress proxy (proxy.httpsProxy, proxy.httpProxy): Entra ID and the ingestion service are
# reached through it.
- ports:
    {{- range (include "hrconnector.proxyPorts" . | fromJsonArray) }}
    - port: {{ int . }}
      protocol: TCP
    {{- end }}
  to:
    {{- range $np.proxy.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
{{- end }}
{{- if not .Values.proxy.httpsProxy }}
# HTTPS: Entra ID (token) and the HR connector ingestion service.
- ports:
    - port: 443
      protocol: TCP
  to:
    {{- range $np.httpsCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
{{- end }}
{{- end }}
