#!/usr/bin/env bash
# Adds the Kubernetes project's apt repository (pkgs.k8s.io) for kubectl v1.32, the minor version
# the lab's API server reports: Debian has no kubectl package. Run as root; safe to run again.
# Then `apt-get update && apt-get install kubectl`. Used by .ci/run, scripts/provision.sh and the
# README's first lines, so the version lives here only.
set -euo pipefail

KUBERNETES_MINOR=v1.32
REPO="https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/"
KEY=/etc/apt/keyrings/kubernetes-apt-keyring.asc

if [[ $(id -u) -ne 0 ]]; then
  echo "apt-kubernetes.sh: must run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! command -v curl >/dev/null; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends ca-certificates curl
fi

install -d -m 0755 /etc/apt/keyrings
# apt reads an ASCII-armored key directly when the file ends in .asc (no gpg needed).
curl -fsSL "${REPO}Release.key" -o "$KEY.tmp"
mv "$KEY.tmp" "$KEY"
# A flat repository: the suite is the path itself and there are no components.
cat > /etc/apt/sources.list.d/kubernetes.sources <<EOF
Types: deb
URIs: ${REPO}
Suites: /
Signed-By: ${KEY}
EOF
