{{- /*
The container's probes (values metrics, probes.*; docs/deployment.md "Probes").
With metrics: httpGet on the metrics port: readiness /readyz (joined its
cluster and serving, 503 again while it drains), liveness and startup
/healthz. A cluster of one pod has no one to join (--discover finds nobody),
so there readiness is /healthz too. Without metrics, all three are what
readiness and liveness always were: the kubelet's grpc probe of the standard
grpc.health.v1 service in plaintext (SERVING while the node runs,
NOT_SERVING once it drains on SIGTERM) and, with TLS, which the kubelet's
grpc probes do not speak, kvctl ping over the pod's loopback (127.0.0.1 is
on every node certificate) as the admin certificate.
*/ -}}
{{- define "kvstore.probes" -}}
{{- $tls := include "kvstore.tlsMode" . -}}
{{- $local := printf "--addr=127.0.0.1:%d" (int .Values.port) -}}
{{- $kvctlTls := include "kvstore.kvctlTlsFlags" . | fromJsonArray -}}
{{- $ready := ternary "/readyz" "/healthz" (gt (int .Values.replicaCount) 1) -}}
{{- range $probe, $path := dict "startup" "/healthz" "readiness" $ready "liveness" "/healthz" }}
{{- $timing := get $.Values.probes $probe }}
{{ $probe }}Probe:
  {{- if $.Values.metrics.enabled }}
  httpGet:
    path: {{ $path }}
    port: metrics
  {{- else if eq $tls "off" }}
  grpc:
    port: {{ $.Values.port }}
  {{- else }}
  exec:
    command: {{ concat (list "kvctl" $local (printf "--timeout=%v" (dig "timeoutSeconds" 1 $timing))) $kvctlTls (list "ping") | toJson }}
  {{- end }}
  {{- toYaml $timing | nindent 2 }}
{{- end }}
{{- end -}}
