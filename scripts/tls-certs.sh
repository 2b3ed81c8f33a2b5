#!/usr/bin/env bash
# Throwaway certificates for a TLS cluster (make run-tls, tests). Not for
# production: the CA key sits next to the certificates.
#
#   scripts/tls-certs.sh ca DIR
#       DIR/ca.key, DIR/ca.crt: a new CA (EC P-256, 10 years)
#   scripts/tls-certs.sh cert DIR NAME CN [SAN...]
#       DIR/NAME.key, DIR/NAME.crt signed by DIR/ca.*; SANs like IP:127.0.0.1
#       or DNS:kvstore-0.kvstore (default IP:127.0.0.1,DNS:localhost). Usable
#       as server and client certificate. An existing DIR/NAME.key is kept,
#       so running this again renews the certificate and keeps the node ID.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1 dir=$2
mkdir -p "$dir"
case "$cmd" in
  ca)
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=kvstore test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.crt"
    ;;
  cert)
    [[ $# -ge 4 ]] || usage
    name=$3 cn=$4
    shift 4
    sans=${*:-IP:127.0.0.1 DNS:localhost}
    sans=$(echo "$sans" | tr ' ' ',')
    [[ -f "$dir/ca.key" ]] || { echo "tls-certs.sh: no $dir/ca.key; run '$0 ca $dir' first" >&2; exit 2; }
    [[ -f "$dir/$name.key" ]] || openssl ecparam -name prime256v1 -genkey -noout |
      openssl pkcs8 -topk8 -nocrypt -out "$dir/$name.key"
    ext=$(mktemp)
    trap 'rm -f "$ext" "$dir/$name.csr"' EXIT
    printf '%s\n' "subjectAltName=$sans" "extendedKeyUsage=serverAuth,clientAuth" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "basicConstraints=CA:FALSE" >"$ext"
    openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 825 -sha256 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
    ;;
  *) usage ;;
esac
