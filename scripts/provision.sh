#!/usr/bin/env bash
# Provisions the packet-path-lab VM (Debian 12, see the Vagrantfile): the tools the lab drives and
# the learner uses, Node 20, br_netfilter, the host-mode mark, and the project's npm dependencies.
#
# Runs as root INSIDE THE VM (`vagrant up` / `vagrant provision`); safe to run again. Do not run it
# on your own machine: it installs packages, adds an apt repository and masks nginx.
set -euo pipefail

REPO_DIR=${LAB_REPO_DIR:-/vagrant}
NODE_MAJOR=20

export DEBIAN_FRONTEND=noninteractive

log() { printf '==> provision: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "provision.sh: must run as root (Vagrant runs it with privileged: true)" >&2
  exit 1
fi

# --- Debian packages --------------------------------------------------------------------------
# What the lab and the learner's tools run (src/sys/packages.ts is the list; a unit test checks
# this line against it): iproute2 (ip, ip netns, bridge), iptables (nft backend: KUBE-* chains),
# nftables (nft: kube-proxy's nftables mode, `nft monitor`), busybox-static (the statically linked
# busybox the lab's images are built from, the apps' httpd; installing it removes Debian's busybox,
# which conflicts with it), runc (runs every container), containernetworking-plugins (the CNI plugins
# bridge, host-local, portmap, bandwidth, loopback that attach the pods), tcpdump, conntrack, nginx (the ingress, run by the lab in a pod),
# dnsutils (dig), sqlite3 (to read the API server's kine store), util-linux (nsenter, unshare),
# procps/kmod/hostname for the lab's checks, openssl (the API server's certificates), python3 (the
# terminal of `kubectl exec -it`, src/sys/ptyrelay.py) and kubectl
# (from the Kubernetes project's apt repository, which scripts/apt-kubernetes.sh adds: Debian has
# no kubectl package).
log "installing Debian packages"
"$REPO_DIR/scripts/apt-kubernetes.sh"
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ca-certificates curl \
  iproute2 iptables nftables busybox-static runc containernetworking-plugins tcpdump conntrack nginx dnsutils sqlite3 util-linux procps kmod hostname \
  openssl python3 kubectl

# The lab starts its own nginx inside the ingress pod's namespace, and host mode forwards
# 192.168.56.110:80 to it. The distro's nginx.service would sit on 0.0.0.0:80 of the VM instead, so
# stop it and mask it (masking also keeps package upgrades and reboots from starting it again).
# The nginx binary stays installed; only the service is off.
log "stopping the distro's nginx service (the lab runs nginx itself, in a pod)"
systemctl stop nginx.service 2>/dev/null || true
systemctl disable nginx.service 2>/dev/null || true
systemctl mask nginx.service

# --- br_netfilter -----------------------------------------------------------------------------
# kube-proxy's same-node Service path: a pod reaching a ClusterIP that DNATs to a pod on the same
# bridge (cni0) only passes through iptables if bridged traffic is handed to netfilter.
log "loading br_netfilter (and at every boot)"
modprobe br_netfilter
printf 'br_netfilter\n' > /etc/modules-load.d/packet-path-lab.conf

# --- host mode --------------------------------------------------------------------------------
# The mark that makes `lab up` run in host mode here: this VM's own network namespace is the node
# (cni0, the KUBE-* chains, ip_forward and route_localnet). The lab never picks host mode without
# it (or `--mode host`); src/node/mode.ts checks that this file exists, whatever it says.
log "marking this machine as the lab VM (/etc/packet-path-lab/host-mode)"
install -d -m 0755 /etc/packet-path-lab
cat > /etc/packet-path-lab/host-mode <<'EOF'
# packet-path-lab: this machine is the lab VM, so `lab up` runs in host mode here: the VM's own
# network namespace is the node (cni0, the KUBE-* chains, ip_forward and route_localnet, which
# `lab down` puts back). Written by scripts/provision.sh. Delete this file and `lab up` runs in
# sandbox mode (namespaces stand in for the VM) unless it is given --mode host.
EOF

# --- Node.js 20+ ------------------------------------------------------------------------------
# Debian 12's nodejs is 18; the lab needs 20 or newer. Install it from the NodeSource apt
# repository. This needs the VM's internet access (a real Vagrant VM has it through its NAT
# interface), like apt-get above.
node_major() {
  local v
  v=$(node --version 2>/dev/null) || { echo 0; return; }
  v=${v#v}
  echo "${v%%.*}"
}

if (( $(node_major) < NODE_MAJOR )); then
  log "installing Node.js ${NODE_MAJOR} from NodeSource"
  install -d -m 0755 /etc/apt/keyrings
  # apt reads an ASCII-armored key directly when the file ends in .asc (no gpg needed).
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key -o /etc/apt/keyrings/nodesource.asc
  cat > /etc/apt/sources.list.d/nodesource.sources <<EOF
Types: deb
URIs: https://deb.nodesource.com/node_${NODE_MAJOR}.x
Suites: nodistro
Components: main
Signed-By: /etc/apt/keyrings/nodesource.asc
EOF
  # Debian's own nodejs (18) and npm packages would conflict with NodeSource's (npm is bundled).
  apt-get remove -y -q npm 2>/dev/null || true
  apt-get update -q
  apt-get install -y -q nodejs
fi
log "node $(node --version), npm $(npm --version)"
if (( $(node_major) < NODE_MAJOR )); then
  echo "provision.sh: node $(node --version) is older than ${NODE_MAJOR}" >&2
  exit 1
fi

# --- npm dependencies -------------------------------------------------------------------------
# node_modules is built here, never copied from the laptop (the Vagrantfile excludes it). Install
# as the owner of the synced folder (vagrant with rsync) so `npm test` works without sudo too;
# fall back to root when that owner has no account in the VM (NFS maps the laptop's uid).
if [[ ! -f "$REPO_DIR/package-lock.json" ]]; then
  echo "provision.sh: $REPO_DIR/package-lock.json not found; is the repository synced to $REPO_DIR?" >&2
  exit 1
fi
cd "$REPO_DIR"
owner=$(stat -c %U .)
log "npm ci in $REPO_DIR (as $owner)"
if [[ $owner != root && $owner != UNKNOWN ]] && id -u "$owner" >/dev/null 2>&1; then
  runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" npm ci --no-audit --no-fund
else
  npm ci --no-audit --no-fund
fi

# `lab` on the PATH, so that `sudo lab get pods` works anywhere in the VM (npm ci above built it).
ln -sfn "$REPO_DIR/bin/lab.js" /usr/local/bin/lab

log "done: vagrant ssh -c 'cd /vagrant && sudo npm run lab'"
