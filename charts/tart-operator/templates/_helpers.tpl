{{/* The chart name, or nameOverride. */}}
{{- define "tart-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, else the release name when it already
contains the chart name, else <release>-<chart>.
*/}}
{{- define "tart-operator.fullname" -}}
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

{{- define "tart-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "tart-operator.labels" -}}
helm.sh/chart: {{ include "tart-operator.chart" . }}
{{ include "tart-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tart-infra
{{- end }}

{{/* The labels that select the operator's Pods. */}}
{{- define "tart-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tart-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "tart-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tart-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "tart-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* files/rbac.yaml, the one source of the operator's and its users' RBAC rules. */}}
{{- define "tart-operator.rbacRules" -}}
{{- $rules := .Files.Get "files/rbac.yaml" | fromYaml }}
{{- if or (hasKey $rules "Error") (not $rules.cluster) }}
{{- fail (printf "files/rbac.yaml is missing or invalid: %v" (get $rules "Error")) }}
{{- end }}
{{- toYaml $rules }}
{{- end }}
