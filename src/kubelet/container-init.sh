#!/bin/sh
# Container init: the last step of starting a container, run by the kubelet as
#   ip netns exec <pod netns> unshare --uts -- sh container-init.sh ROOT LOWER UPPER WORK HOSTNAME ETC \
#      [SRC DST rw|ro]... -- COMMAND [ARG]...
# `ip netns exec` has already put us in the pod's network namespace and in a private mount
# namespace (mounts made here vanish with the container); `unshare --uts` gave us our own
# hostname. We assemble the container's root filesystem as an overlay (image layer below, a
# per-pod writable layer above, as containerd's overlayfs snapshotter does), mount the volumes,
# then exec the command chrooted, keeping this PID: the PID the kubelet recorded is the
# container's process.
# Every value arrives as a separate argument; nothing here is ever evaluated as shell code.
set -eu
root=$1 lower=$2 upper=$3 work=$4 podhostname=$5 etcdir=$6
shift 6
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mkdir -p "$root/proc" "$root/dev" "$root/etc" "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
# /etc/hosts, /etc/resolv.conf and /etc/hostname come from /etc/netns/<pod netns>/, the same
# files `ip netns exec` shows, so the container and a learner's `ip netns exec` agree.
for f in hosts resolv.conf hostname; do
  if [ -f "$etcdir/$f" ]; then
    [ -e "$root/etc/$f" ] || : > "$root/etc/$f"
    mount --bind "$etcdir/$f" "$root/etc/$f"
  fi
done
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  src=$1 dst=$2 mode=$3
  shift 3
  if [ -d "$src" ]; then mkdir -p "$root$dst"; else mkdir -p "$(dirname "$root$dst")"; [ -e "$root$dst" ] || : > "$root$dst"; fi
  mount --bind "$src" "$root$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$dst"; fi
done
shift
hostname "$podhostname"
exec chroot "$root" "$@"
