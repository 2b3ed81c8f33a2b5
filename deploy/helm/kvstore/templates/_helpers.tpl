{{- define "kvstore.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kvstore.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 54 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The headless Service that gives each pod its DNS name. */}}
{{- define "kvstore.headless" -}}
{{- printf "%s-headless" (include "kvstore.fullname" .) -}}
{{- end -}}

{{/* <headless>.<namespace>.svc.<domain>; $(POD_NAMESPACE) is expanded by the kubelet. */}}
{{- define "kvstore.headlessFQDN" -}}
{{- printf "%s.$(POD_NAMESPACE).svc.%s" (include "kvstore.headless" .) .Values.clusterDomain -}}
{{- end -}}

{{- define "kvstore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvstore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kvstore.labels" -}}
{{ include "kvstore.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* N as the cluster sees it: never more than the pods there are. */}}
{{- define "kvstore.effectiveN" -}}
{{- min (int .Values.replicationFactor) (int .Values.replicaCount) -}}
{{- end -}}

{{/* Pods that may be down at once while every key keeps floor(N/2)+1 replicas up. */}}
{{- define "kvstore.maxUnavailable" -}}
{{- if kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable -}}
{{- $n := int (include "kvstore.effectiveN" .) -}}
{{- sub $n (add (div $n 2) 1) -}}
{{- else -}}
{{- int .Values.podDisruptionBudget.maxUnavailable -}}
{{- end -}}
{{- end -}}
