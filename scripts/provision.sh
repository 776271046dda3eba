#!/usr/bin/env bash
# Provisions a packet-path-lab VM (Debian 12, see the Vagrantfile): the tools the lab drives and
# the learner uses, Node 20, br_netfilter, the host-mode mark, and the project's npm dependencies;
# then what its role needs:
#   provision.sh [server]
#       the server's VM labS (the single VM, or the first of LAB_NODES=2): the shared token goes
#       into lab/config.yaml.d/vagrant-token.yaml
#   provision.sh agent <server URL> <node name> <node IP>
#       an agent's VM (agent https://192.168.56.110:6443 labSW 192.168.56.111, eth1's address):
#       the token in /etc/packet-path-lab/token and lab-agent.service, which runs `lab agent`
#       joined to the server
# The token (the secret server and agents share, k3s's token) comes in the environment, LAB_TOKEN,
# which Vagrant hides from its output; optional for the server, which then joins agents with its
# node-token.
#
# Runs as root INSIDE THE VM (`vagrant up` / `vagrant provision`); safe to run again. Do not run it
# on your own machine: it installs packages, adds an apt repository, masks nginx and (agent)
# installs a systemd unit.
set -euo pipefail

REPO_DIR=${LAB_REPO_DIR:-/vagrant}
NODE_MAJOR=20
ROLE=${1:-server}

export DEBIAN_FRONTEND=noninteractive

log() { printf '==> provision: %s\n' "$*"; }

die() { printf 'provision.sh: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  die "must run as root (Vagrant runs it with privileged: true)"
fi

# Everything below goes into files and a unit: checked before anything is installed. The token
# is never printed (the Vagrantfile marks it sensitive, so Vagrant hides it too).
LAB_TOKEN=${LAB_TOKEN:-}
case $ROLE in
  server) [[ $# -le 1 ]] || die "usage: provision.sh [server] | provision.sh agent <server URL> <node name> <node IP>" ;;
  agent)
    [[ $# -eq 4 ]] || die "usage: provision.sh agent <server URL> <node name> <node IP>, such as: agent https://192.168.56.110:6443 labSW 192.168.56.111"
    LAB_SERVER=$2 LAB_NODE_NAME=$3 LAB_NODE_IP=$4
    [[ $LAB_SERVER =~ ^https://[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$ ]] || die "agent: the server URL must be its API, such as https://192.168.56.110:6443"
    [[ $LAB_NODE_NAME =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || die "agent: the node name must be a DNS label, such as labSW"
    [[ $LAB_NODE_IP =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "agent: the node IP must be this VM's address on eth1, such as 192.168.56.111"
    [[ -n $LAB_TOKEN ]] || die "agent: LAB_TOKEN (the token of the server's config) is needed to join"
    ;;
  *) die "unknown role ${ROLE@Q}: server or agent" ;;
esac
if [[ -n $LAB_TOKEN ]] && { [[ ! $LAB_TOKEN =~ ^[!-~]+$ ]] || [[ $LAB_TOKEN == K10* ]]; }; then
  die "LAB_TOKEN must be one word of printable ASCII, the bare secret (not a K10 token)"
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

# --- the role ---------------------------------------------------------------------------------
# The server: k3s's `token:` key, in a drop-in beside lab/config.yaml (the lab merges
# lab/config.yaml.d/*.yaml over it, as k3s merges config.yaml.d), so the committed file never holds
# it. The Vagrantfile keeps lab/config.yaml.d/ out of the rsync (a resync neither copies nor
# deletes it); .gitignore names the file for NFS, where it lands in the laptop's checkout.
provision_server() {
  local dropin="$REPO_DIR/lab/config.yaml.d/vagrant-token.yaml"
  if [[ -z $LAB_TOKEN ]]; then
    log "server: no LAB_TOKEN; agents join with the server's node-token"
    return
  fi
  log "server: the agents' token in lab/config.yaml.d/vagrant-token.yaml"
  install -d -m 0755 "$REPO_DIR/lab/config.yaml.d"
  # A YAML single-quoted scalar: every printable character but ' is itself, and '' is one '.
  local quoted=${LAB_TOKEN//\'/\'\'}
  (
    umask 077
    printf '%s\n' \
      "# Written by scripts/provision.sh: the secret this checkout's VMs share (k3s's token), kept by" \
      "# the Vagrantfile in .vagrant/lab-token. The agents' lab-agent.service joins with it." \
      "token: '${quoted}'" > "$dropin"
  )
}

# An agent, as k3s's installer sets up k3s-agent.service: the token in a root-only file (never on
# a command line, which `ps` shows), and a unit that runs `lab agent` for good (Restart=always:
# until the server's `lab up` runs, the agent fails to join and is started again every 5 s).
# KillMode=process as k3s's: stopping or restarting the agent leaves the pods running, and the
# next agent adopts them.
provision_agent() {
  log "agent ${LAB_NODE_NAME}: lab-agent.service, joining ${LAB_SERVER} as ${LAB_NODE_IP}"
  (umask 077 && printf '%s\n' "$LAB_TOKEN" > /etc/packet-path-lab/token)
  cat > /etc/systemd/system/lab-agent.service <<UNIT
[Unit]
Description=packet-path-lab agent: this VM as the node ${LAB_NODE_NAME} of ${LAB_SERVER} (as k3s-agent.service)
Documentation=file://${REPO_DIR}/docs/vagrant.md
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=exec
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStart=/usr/local/bin/lab agent --server ${LAB_SERVER} --token-file /etc/packet-path-lab/token --node-name ${LAB_NODE_NAME} --node-ip ${LAB_NODE_IP}
UNIT
  systemctl daemon-reload
  systemctl enable lab-agent.service
  # restart, not start: a re-provision's new token or address is taken.
  systemctl restart lab-agent.service
}

"provision_${ROLE}"

if [[ $ROLE == agent ]]; then
  log "done: ${LAB_NODE_NAME} joins once the server runs (vagrant ssh labS -c 'sudo lab up'); journalctl -u lab-agent -f follows it"
else
  log "done: vagrant ssh -c 'cd /vagrant && sudo npm run lab'"
fi
