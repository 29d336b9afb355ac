#!/bin/sh
# Installed by pikube. Removes the @SERVICE@ service; when no other k3s service is left,
# also k3s itself and its data. /etc/rancher/node (the node password) stays, as with
# k3s' own uninstaller: delete the Node from the cluster before the machine joins again.
set -x
# As root through sudo; K3S_DATA_DIR is handed on only when set, since a sudoers without
# SETENV refuses any variable given on sudo's command line (audit F16).
if [ "$(id -u)" -ne 0 ]; then
  if [ -n "${K3S_DATA_DIR:-}" ]; then exec sudo K3S_DATA_DIR="$K3S_DATA_DIR" "$0" "$@"; fi
  exec sudo "$0" "$@"
fi
K3S_DATA_DIR=${K3S_DATA_DIR:-/var/lib/rancher/k3s}

/usr/local/bin/k3s-killall.sh
systemctl disable @SERVICE@
systemctl reset-failed @SERVICE@
rm -f /etc/systemd/system/@SERVICE@.service /etc/systemd/system/@SERVICE@.service.env
systemctl daemon-reload
trap 'rm -f "$0"' EXIT

for unit in /etc/systemd/system/k3s*.service; do
  if [ -e "$unit" ]; then
    echo "Additional k3s services installed, skipping uninstall of k3s"
    exit 0
  fi
done

for tool in kubectl crictl ctr; do
  [ -L "/usr/local/bin/$tool" ] && rm -f "/usr/local/bin/$tool"
done
rm -rf /etc/rancher/k3s /run/k3s /run/flannel /var/lib/kubelet
# Mounts under the data dir (container roots) were released by killall. Whatever is still
# mounted keeps its mount point, but its contents are deleted with the rest of the data
# dir (rm -rf crosses into it), as install.sh's uninstall does.
if [ -d "$K3S_DATA_DIR" ]; then
  if grep -q " $K3S_DATA_DIR" /proc/self/mounts; then
    find "$K3S_DATA_DIR" -xdev -depth -mindepth 1 -exec rm -rf {} + 2>/dev/null
  else
    rm -rf "$K3S_DATA_DIR"
  fi
fi
rm -f /usr/local/bin/k3s /usr/local/bin/k3s-killall.sh /usr/local/bin/k3s-*-uninstall.sh.pikube-*
