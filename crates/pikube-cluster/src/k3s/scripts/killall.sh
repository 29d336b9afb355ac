#!/bin/sh
# Installed by pikube. Stops every k3s service and everything k3s started: container
# processes, mounts, CNI interfaces and the iptables rules of kube-proxy and flannel.
# Cluster data stays (see k3s-uninstall.sh for that).
set -x
# As root through sudo; K3S_DATA_DIR is handed on only when set, since a sudoers without
# SETENV refuses any variable given on sudo's command line (audit F16).
if [ "$(id -u)" -ne 0 ]; then
  if [ -n "${K3S_DATA_DIR:-}" ]; then exec sudo K3S_DATA_DIR="$K3S_DATA_DIR" "$0" "$@"; fi
  exec sudo "$0" "$@"
fi
K3S_DATA_DIR=${K3S_DATA_DIR:-/var/lib/rancher/k3s}

for bin in "$K3S_DATA_DIR"/data/*/bin "$K3S_DATA_DIR"/data/*/bin/aux; do
  [ -d "$bin" ] && PATH=$PATH:$bin
done

for unit in /etc/systemd/system/k3s*.service; do
  [ -s "$unit" ] && systemctl stop "$(basename "$unit")"
done

# Container shims outlive the k3s process (KillMode=process): end their whole trees.
pstree_of() {
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do pstree_of "$child"; done
  echo "$1"
}
for shim in $(pgrep -f "$K3S_DATA_DIR/data/[^/]*/bin/containerd-shim" 2>/dev/null); do
  # shellcheck disable=SC2046 # one pid per word, on purpose
  kill -9 $(pstree_of "$shim") 2>/dev/null
done

unmount_and_remove() {
  # Deepest first, so that nested mounts go before their parents. Only a mount point that
  # was unmounted is removed, and never the directory itself: rm -rf through a mount that
  # is still there (busy, a hung NFS, a hostPath bind) would delete the volume's data.
  awk -v path="$1" '$2 ~ ("^" path) { print $2 }' /proc/self/mounts | sort -r |
    while read -r mount; do umount -f "$mount" 2>/dev/null && rm -rf "$mount"; done
}
unmount_and_remove /run/k3s
unmount_and_remove /var/lib/kubelet/pods
unmount_and_remove /var/lib/kubelet/plugins
unmount_and_remove /run/netns/cni-

ip netns show 2>/dev/null | grep cni- | awk '{print $1}' | xargs -r -n1 ip netns delete
for link in $(ip -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link delete "$link"
done
for link in cni0 flannel.1 flannel-v6.1 kube-ipvs0 flannel-wg flannel-wg-v6; do
  ip link delete "$link" 2>/dev/null
done
command -v tailscale >/dev/null 2>&1 && tailscale set --advertise-routes=
rm -rf /var/lib/cni/
for tables in iptables ip6tables; do
  if command -v "$tables-save" >/dev/null 2>&1 && command -v "$tables-restore" >/dev/null 2>&1; then
    "$tables-save" | grep -v KUBE- | grep -v CNI- | grep -iv flannel | "$tables-restore"
  fi
done
exit 0
