#!/bin/sh
# Prepares podman on a Debian 12 host for `make image` / `make image-test`:
#   - installs podman, runc and debootstrap when missing (apt-get, as root),
#   - sets `default_ulimits = []` in /etc/containers/containers.conf (the
#     default ulimits can exceed what a VM allows, and `podman run` fails),
#   - creates docker.io/library/debian:12 (and :12-slim) offline with
#     debootstrap when they are not in local storage, so an unchanged
#     `FROM debian:12` pulls nothing. The minbase bootstrap serves as both tags;
#     with a registry at hand, `podman pull debian:12-slim` gives the real one.
# Exit codes: 0 ready, 77 podman cannot be used here (message on stderr).
set -eu

# The Debian mirror this host's apt uses for bookworm (deb822 .sources or a
# one-line sources.list), so the offline base comes from where apt-get here
# already works; DEB_MIRROR overrides it.
host_mirror() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u != "" {print u; exit}' "$f"
  done | head -1
  grep -hs '^deb .* bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{print $2; exit}'
}
DEB_MIRROR=${DEB_MIRROR:-$(host_mirror | head -1)}
DEB_MIRROR=${DEB_MIRROR:-http://deb.debian.org/debian}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

need=""
command -v podman >/dev/null 2>&1 || need="$need podman"
command -v runc >/dev/null 2>&1 || need="$need runc"
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need="$need debootstrap"
if [ -n "$need" ]; then
  echo "podman-setup: installing$need"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         $SUDO apt-get install -y -qq --no-install-recommends $need uidmap fuse-overlayfs; } >/dev/null; then
    echo "podman-setup: SKIP: could not install$need" >&2; exit 77
  fi
fi

conf=/etc/containers/containers.conf
if ! grep -qs '^[[:space:]]*default_ulimits[[:space:]]*=' "$conf"; then
  echo "podman-setup: setting default_ulimits = [] in $conf"
  $SUDO mkdir -p /etc/containers
  if grep -qs '^\[containers\]' "$conf"; then
    $SUDO sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
  else
    printf '[containers]\ndefault_ulimits = []\n' | $SUDO tee -a "$conf" >/dev/null
  fi
fi

P="$SUDO podman --runtime runc"
if ! $P info >/dev/null 2>&1; then
  echo "podman-setup: SKIP: 'podman info' fails here:" >&2
  $P info 2>&1 | tail -3 >&2
  exit 77
fi

if ! $P image exists docker.io/library/debian:12; then
  dir=$(mktemp -d /tmp/kvstore-debootstrap.XXXXXX)
  trap '$SUDO rm -rf "$dir"' EXIT
  echo "podman-setup: debootstrap --variant=minbase bookworm (about 1-2 min)"
  if ! $SUDO debootstrap --variant=minbase bookworm "$dir" "$DEB_MIRROR" >"$dir.log" 2>&1; then
    echo "podman-setup: SKIP: debootstrap failed, see $dir.log" >&2; exit 77
  fi
  # Same apt sources as the official image; drop caches to keep it small.
  $SUDO rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  $SUDO tar -C "$dir" -c . | $P import - docker.io/library/debian:12 >/dev/null 2>&1
  rm -f "$dir.log"
fi
if ! $P image exists docker.io/library/debian:12-slim; then
  $P tag docker.io/library/debian:12 docker.io/library/debian:12-slim
fi
echo "podman-setup: podman ready, base images:"
$P images --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | grep 'library/debian' || true
