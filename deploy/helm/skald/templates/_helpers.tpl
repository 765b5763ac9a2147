{{/* Names, labels and the config every Skald pod reads. */}}

{{- define "skald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "skald.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "skald.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "skald.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "skald.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "skald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "skald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "skald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "skald.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "skald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "skald.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The config file: loki.config (a template) merged with loki.structuredConfig. */}}
{{- define "skald.config" -}}
{{- $base := tpl .Values.loki.config . | fromYaml -}}
{{- $merged := mergeOverwrite $base (deepCopy .Values.loki.structuredConfig) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Stream copies: loki.replicationFactor, or 3 with at least 3 ingesters, else 1. */}}
{{- define "skald.replicationFactor" -}}
{{- $ingesters := ternary .Values.singleBinary.replicas .Values.ingester.replicas (eq .Values.deploymentMode "SingleBinary") | int -}}
{{- $rf := .Values.loki.replicationFactor | default (ternary 3 1 (ge $ingesters 3)) | int -}}
{{- if gt $rf $ingesters -}}
{{- fail (printf "loki.replicationFactor %d needs at least %d ingesters, the chart runs %d" $rf $rf $ingesters) -}}
{{- end -}}
{{- $rf -}}
{{- end -}}

{{/* memcached_client.addresses: every memcached pod, through its headless Service. */}}
{{- define "skald.memcachedAddresses" -}}
{{- $name := printf "%s-memcached-chunks" (include "skald.fullname" .) -}}
{{- $out := list -}}
{{- range $i := until (int .Values.memcachedChunks.replicas) -}}
{{- $out = append $out (printf "%s-%d.%s-headless:11211" $name $i $name) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* affinity: a map, or a string rendered as a template (the loki-distributed chart's form). */}}
{{- define "skald.affinity" -}}
{{- if kindIs "string" .affinity -}}
{{- tpl .affinity .root -}}
{{- else -}}
{{- toYaml .affinity -}}
{{- end -}}
{{- end -}}
