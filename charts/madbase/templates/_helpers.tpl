{{- define "madbase.fullname" -}}
{{- if contains "madbase" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-madbase" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "madbase.labels" -}}
app.kubernetes.io/name: madbase-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "madbase.selectorLabels" -}}
app.kubernetes.io/name: madbase-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "madbase.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "madbase.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "madbase.watchNamespace" -}}
{{- default .Release.Namespace .Values.rbac.watchNamespace -}}
{{- end -}}

{{- define "madbase.apiNamespace" -}}
{{- default .Release.Namespace .Values.controlPlane.namespace -}}
{{- end -}}

{{- define "madbase.leaseName" -}}
{{- default (include "madbase.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}
