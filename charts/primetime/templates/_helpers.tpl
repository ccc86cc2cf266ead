{{- define "primetime.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "primetime.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "primetime.selectorLabels" -}}
app.kubernetes.io/name: {{ include "primetime.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "primetime.labels" -}}
{{ include "primetime.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "primetime.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "primetime.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "primetime.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "primetime.tlsSecret" -}}
{{- printf "%s-tls" (include "primetime.fullname" .) -}}
{{- end -}}

{{/* "true" when the pre-delete restore Job runs: something of the
cluster's is written (a mode that writes, or placeholder pods). */}}
{{- define "primetime.restores" -}}
{{- if and .Values.restoreOnUninstall (or .Values.modes.hpaFloor .Values.modes.scale .Values.placeholders.enabled) -}}
true
{{- end -}}
{{- end -}}
