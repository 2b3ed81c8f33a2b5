{{- define "kvstore.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The StatefulSet's name, and the stem of every other name. At most 52
characters: the StatefulSet labels each pod controller-revision-hash:
<name>-<hash of up to 10 characters>, and a label value may not be longer
than 63. Every suffix the chart adds stays within 63 too: -headless (61),
-tls-ca, -admin-tls, -<ordinal>-tls, -metrics, -test.
*/}}
{{- define "kvstore.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
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

{{/*
The pod template's labels: the chart's, plus podLabels. podLabels may add
labels but not change one of the chart's: the StatefulSet, the Services, the
PodDisruptionBudget and the NetworkPolicy select the pods by them.
*/}}
{{- define "kvstore.podLabels" -}}
{{- $labels := include "kvstore.labels" . | fromYaml -}}
{{- range $k, $v := $labels -}}
{{- if and (hasKey $.Values.podLabels $k) (ne (toString (get $.Values.podLabels $k)) (toString $v)) -}}
{{- fail (printf "podLabels: %s is the chart's own label (%s here): the StatefulSet, its Services and the PodDisruptionBudget select the pods by these. Remove it from podLabels." $k $v) -}}
{{- end -}}
{{- end -}}
{{- merge $labels .Values.podLabels | toYaml -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "kvstore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kvstore.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The labels of the helm test pod: the release's, but not the selector's (it is no member). */}}
{{- define "kvstore.testLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
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

{{/*
A NetworkPolicy `from` item (YAML list item) for (list PODSELECTOR
NAMESPACESELECTOR): null leaves that selector out, {} picks everything; both
null: nothing.
*/}}
{{- define "kvstore.networkPolicyPeer" -}}
{{- $peer := dict -}}
{{- if not (kindIs "invalid" (index . 0)) -}}
{{- $_ := set $peer "podSelector" (index . 0) -}}
{{- end -}}
{{- if not (kindIs "invalid" (index . 1)) -}}
{{- $_ := set $peer "namespaceSelector" (index . 1) -}}
{{- end -}}
{{- if $peer -}}
{{- list $peer | toYaml -}}
{{- end -}}
{{- end -}}

{{/* topologySpreadConstraints, each without a labelSelector given the chart's selector labels. */}}
{{- define "kvstore.topologySpread" -}}
{{- $out := list -}}
{{- range .Values.topologySpreadConstraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "kvstore.selectorLabels" $ | fromYaml)) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
