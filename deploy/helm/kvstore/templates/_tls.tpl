{{- /*
TLS helpers (values tls.*; docs/deployment.md "TLS"). Every mode lays the
files out the same way for the node and kvctl: /tls/ca.crt, the node's pair,
and the admin pair kvctl uses in the probes and the preStop hook.
*/ -}}

{{/* Where the TLS files come from: off, generated, existing, certificate or csi. */}}
{{- define "kvstore.tlsMode" -}}
{{- if not .Values.tls.enabled -}}
off
{{- else if .Values.tls.certManager.issuer.name -}}
{{ .Values.tls.certManager.mode }}
{{- else if .Values.tls.existingSecret -}}
existing
{{- else -}}
generated
{{- end -}}
{{- end -}}

{{/* The Secret the pods mount in generated and existing mode. */}}
{{- define "kvstore.tlsSecret" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "kvstore.fullname" .)) -}}
{{- end -}}

{{/* Pod ordinals that get a key pair: tls.generatedOrdinals, at least replicaCount. */}}
{{- define "kvstore.tlsOrdinals" -}}
{{- max (int .Values.replicaCount) (int (.Values.tls.generatedOrdinals | default 0)) -}}
{{- end -}}

{{/*
The names on a pod's certificate (JSON list), for (dict "root" $ "pod" POD "ns" NS):
every form of its headless-Service name (--advertise uses the first),
the client Service's, localhost, and tls.extraDnsNames.
*/}}
{{- define "kvstore.podDnsNames" -}}
{{- $h := include "kvstore.headless" .root -}}
{{- $f := include "kvstore.fullname" .root -}}
{{- $d := .root.Values.clusterDomain -}}
{{- $names := list (printf "%s.%s.%s.svc.%s" .pod $h .ns $d) (printf "%s.%s.%s.svc" .pod $h .ns) (printf "%s.%s.%s" .pod $h .ns) (printf "%s.%s" .pod $h) -}}
{{- $names = concat $names (list (printf "%s.%s.svc.%s" $f .ns $d) (printf "%s.%s.svc" $f .ns) (printf "%s.%s" $f .ns) $f "localhost") -}}
{{- concat $names .root.Values.tls.extraDnsNames | toJson -}}
{{- end -}}

{{/* The IPs on a pod's certificate (JSON list): 127.0.0.1 for in-pod kvctl, and tls.extraIPs. */}}
{{- define "kvstore.podIPs" -}}
{{- concat (list "127.0.0.1") .Values.tls.extraIPs | toJson -}}
{{- end -}}

{{/* The node's --cert-file, --key-file and --trusted-ca-file (JSON list). */}}
{{- define "kvstore.nodeTlsFlags" -}}
{{- if eq (include "kvstore.tlsMode" .) "csi" -}}
{{- list "--cert-file=/tls/node.crt" "--key-file=/tls/node.key" "--trusted-ca-file=/tls/ca.crt" | toJson -}}
{{- else -}}
{{- list "--cert-file=/tls/$(POD_NAME).crt" "--key-file=/tls/$(POD_NAME).key" "--trusted-ca-file=/tls/ca.crt" | toJson -}}
{{- end -}}
{{- end -}}

{{/* kvctl's TLS flags with the admin certificate (JSON list; empty without TLS). */}}
{{- define "kvstore.kvctlTlsFlags" -}}
{{- $mode := include "kvstore.tlsMode" . -}}
{{- if eq $mode "off" -}}
[]
{{- else if eq $mode "csi" -}}
{{- list "--cacert=/tls/ca.crt" "--cert=/tls-admin/admin.crt" "--key=/tls-admin/admin.key" | toJson -}}
{{- else -}}
{{- list "--cacert=/tls/ca.crt" "--cert=/tls/admin.crt" "--key=/tls/admin.key" | toJson -}}
{{- end -}}
{{- end -}}

{{/* The --auth-file contents: the chart's admin, then tls.auth.principals. */}}
{{- define "kvstore.authFile" -}}
# kvstore --auth-file, rendered by the Helm chart (values tls.auth).
cn:admin admin
{{- range .Values.tls.auth.principals }}
{{- if hasPrefix "cn:admin " (trim .) }}
{{- fail "tls.auth.principals: cn:admin is the chart's admin certificate and is always in the auth file as admin; remove that line" }}
{{- end }}
{{ . }}
{{- end }}
{{- end -}}

{{/* The node's TLS flags (YAML list items), when TLS is on. */}}
{{- define "kvstore.tlsArgs" -}}
{{- range include "kvstore.nodeTlsFlags" . | fromJsonArray }}
- {{ . }}
{{- end }}
{{- if .Values.tls.clientCertAuth }}
- --client-cert-auth
{{- end }}
{{- if .Values.tls.auth.enabled }}
- --auth-file=/etc/kvstore/auth
{{- end }}
{{- end -}}

{{/* The container's TLS volumeMounts (YAML list items). */}}
{{- define "kvstore.tlsVolumeMounts" -}}
- name: tls
  mountPath: /tls
  readOnly: true
{{- if eq (include "kvstore.tlsMode" .) "csi" }}
- name: tls-admin
  mountPath: /tls-admin
  readOnly: true
{{- end }}
{{- if .Values.tls.auth.enabled }}
- name: auth
  mountPath: /etc/kvstore/auth
  subPath: auth
  readOnly: true
{{- end }}
{{- end -}}

{{/* The pod's TLS volumes (YAML list items). */}}
{{- define "kvstore.tlsVolumes" -}}
{{- $mode := include "kvstore.tlsMode" . -}}
{{- $fullname := include "kvstore.fullname" . -}}
{{- if or (eq $mode "generated") (eq $mode "existing") }}
- name: tls
  secret:
    secretName: {{ include "kvstore.tlsSecret" . }}
    defaultMode: 0440
{{- else if eq $mode "certificate" }}
# Every ordinal's cert-manager Secret, laid out as in generated mode.
- name: tls
  projected:
    defaultMode: 0440
    sources:
      {{- range $i := until (int (include "kvstore.tlsOrdinals" .)) }}
      - secret:
          name: {{ $fullname }}-{{ $i }}-tls
          items:
            - {key: tls.crt, path: {{ $fullname }}-{{ $i }}.crt}
            - {key: tls.key, path: {{ $fullname }}-{{ $i }}.key}
      {{- end }}
      - secret:
          name: {{ $fullname }}-admin-tls
          items:
            - {key: ca.crt, path: ca.crt}
            - {key: tls.crt, path: admin.crt}
            - {key: tls.key, path: admin.key}
{{- else if eq $mode "csi" }}
{{- $cm := .Values.tls.certManager }}
{{- $dns := include "kvstore.podDnsNames" (dict "root" . "pod" "${POD_NAME}" "ns" "${POD_NAMESPACE}") | fromJsonArray }}
# cert-manager's csi-driver: a key made on the node for each new pod, kept
# across renewals while the pod lives (reuse-private-key). The driver
# expands ${POD_NAME} and ${POD_NAMESPACE}.
- name: tls
  csi:
    driver: csi.cert-manager.io
    readOnly: true
    volumeAttributes:
      {{- include "kvstore.csiIssuer" . | nindent 6 }}
      csi.cert-manager.io/common-name: node
      csi.cert-manager.io/dns-names: {{ join "," $dns | quote }}
      csi.cert-manager.io/ip-sans: {{ include "kvstore.podIPs" . | fromJsonArray | join "," | quote }}
      csi.cert-manager.io/key-usages: digital signature,key encipherment,server auth,client auth
      csi.cert-manager.io/reuse-private-key: "true"
      csi.cert-manager.io/certificate-file: node.crt
      csi.cert-manager.io/privatekey-file: node.key
      {{- with $cm.csiAttributes }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
- name: tls-admin
  {{- include "kvstore.csiAdminVolume" . | nindent 2 }}
{{- end }}
{{- if .Values.tls.auth.enabled }}
- name: auth
  secret:
    secretName: {{ $fullname }}-auth
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* csi.cert-manager.io attributes both CSI volumes share. */}}
{{- define "kvstore.csiIssuer" -}}
{{- $cm := .Values.tls.certManager -}}
csi.cert-manager.io/issuer-name: {{ $cm.issuer.name | quote }}
csi.cert-manager.io/issuer-kind: {{ $cm.issuer.kind | quote }}
csi.cert-manager.io/issuer-group: {{ $cm.issuer.group | quote }}
csi.cert-manager.io/duration: {{ $cm.duration | quote }}
csi.cert-manager.io/renew-before: {{ $cm.renewBefore | quote }}
csi.cert-manager.io/fs-group: "10001"
csi.cert-manager.io/ca-file: ca.crt
{{- end -}}

{{/* The CSI volume source of the admin pair and ca.crt (csi mode). */}}
{{- define "kvstore.csiAdminVolume" -}}
csi:
  driver: csi.cert-manager.io
  readOnly: true
  volumeAttributes:
    {{- include "kvstore.csiIssuer" . | nindent 4 }}
    csi.cert-manager.io/common-name: admin
    csi.cert-manager.io/key-usages: digital signature,key encipherment,client auth
    csi.cert-manager.io/certificate-file: admin.crt
    csi.cert-manager.io/privatekey-file: admin.key
{{- end -}}

{{/*
The helm test pod's volume `tls` (YAML list item): ca.crt, admin.crt and
admin.key only, in every mode, so kvctl there takes the flags of generated
mode and no node key is mounted.
*/}}
{{- define "kvstore.adminTlsVolume" -}}
{{- $mode := include "kvstore.tlsMode" . -}}
- name: tls
{{- if or (eq $mode "generated") (eq $mode "existing") }}
  secret:
    secretName: {{ include "kvstore.tlsSecret" . }}
    defaultMode: 0440
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: admin.crt, path: admin.crt}
      - {key: admin.key, path: admin.key}
{{- else if eq $mode "certificate" }}
  secret:
    secretName: {{ include "kvstore.fullname" . }}-admin-tls
    defaultMode: 0440
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: tls.crt, path: admin.crt}
      - {key: tls.key, path: admin.key}
{{- else if eq $mode "csi" }}
  {{- include "kvstore.csiAdminVolume" . | nindent 2 }}
{{- end }}
{{- end -}}
