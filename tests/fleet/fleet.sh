#!/bin/bash
# fleet.sh — a lab of fake Raspberry Pi nodes on one Linux host, for pikube's SSH-driven tests.
#
# A node is not a VM or a container image: it is a set of namespaces (mount, uts, ipc, pid,
# cgroup, time, net) running the real systemd as PID 1 and the real sshd, on an overlayfs
# whose lower layers are shared by every node of every lab:
#     $CACHE/rootfs    Debian bookworm (debootstrap minbase + systemd + sshd + ...)
#     $CACHE/pilayer   the "Raspberry Pi OS" customisation (users, fake tools, masked units)
#     <lab>/nodes/N/upper   the node's own disk (identity, host keys, boot files)
# The Pi hardware is faked where a tool looks for it: device-tree model, /proc/cpuinfo,
# /proc/cmdline (rebuilt from the node's cmdline.txt at every boot), /proc/cgroups (memory off
# unless cgroup_enable=memory), /proc/meminfo + /proc/swaps (swap emulated), root PARTUUID link,
# thermal zone, vcgencmd.
#
# Usage (root; FLEET_LAB=<dir> and FLEET_ID=<1..200> required except for `rootfs`):
#   fleet.sh rootfs                    build/refresh the cached rootfs + Pi layer
#   fleet.sh up SPEC...                SPEC = NAME[:opt[,opt...]]; create, boot, wait for sshd
#        opts: os=bookworm|bullseye|ubuntu  storage=sd|emmc|usb|nvme  model=TEXT  mem=KIB  jump-only
#              memcg=broken (the kernel never enables the memory cgroup, whatever cmdline.txt says)
#              disk=SIZE (e.g. 32G: the node's disk is a tmpfs of that size, so what `df /` says
#              inside is the node's own and not the host's; it is memory and ends at `down`)
#              net=nm|dhcpcd (its address is NetworkManager's or dhcpcd's, which runs)
#   fleet.sh down [--purge]            stop every node and undo all host state; --purge: delete lab
#   fleet.sh poweroff|powercut|start|reboot|rekey|cut|heal|ip NAME
#   fleet.sh exec NAME CMD...          run CMD as root inside the node (nsenter, no ssh)
#   fleet.sh unroutable IP             the host can no longer reach IP (refused at once)
#   fleet.sh status
# Env: PIKUBE_FLEET_CACHE (default /var/cache/pikube-fleet)  FLEET_REBOOT_DELAY (default 1)
#      FLEET_WAIT (default 120 s)
#      FLEET_K3S_DOUBLE_BIN (at `up`): a host directory every node sees read-only at
#      /opt/k3s-double/bin (the real control-plane programs the k3s double runs)
# Client files: $FLEET_LAB/ssh_config, $FLEET_LAB/nodes.tsv, $FLEET_LAB/keys/id_ed25519.
set -u
set -o pipefail
export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CACHE=${PIKUBE_FLEET_CACHE:-/var/cache/pikube-fleet}
ROOTFS=$CACHE/rootfs
PILAYER=$CACHE/pilayer
SUITE=bookworm
# Bump when the rootfs recipe changes: a cache with another recipe line is rebuilt.
ROOTFS_RECIPE="pikube-fleet-rootfs v1 $SUITE minbase
include=openssh-server,sudo,iproute2,procps,kmod,iptables
inside=systemd systemd-sysv dbus libpam-systemd libnss-systemd nftables dphys-swapfile iputils-ping network-manager dhcpcd"
# Bump when the Pi layer changes in a way the code hash below would not see.
PILAYER_VERSION=1

die() { echo "fleet: $*" >&2; exit 1; }
log() { echo "fleet: $*" >&2; }

# ============================================================================ shared cache
# The mirror comes from the host's own apt configuration (never hard-coded here): the first
# URI whose suite list carries the plain suite ($SUITE), from one-line or deb822 sources.
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
      if ($(i+1)==s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: paragraphs separated by blank lines; want Types: deb and Suites containing $SUITE
    awk -v s="$SUITE" 'BEGIN{RS=""; FS="\n"} {
        uri=""; deb=0; suite=0
        for (i=1;i<=NF;i++) { if ($i ~ /^#/) continue
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb=1
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/) { n=split($i, a, /[ \t]+/); for (j=2;j<=n;j++) if (a[j]==s) suite=1 }
          if ($i ~ /^Enabled:[ \t]*no/) deb=0 }
        if (deb && suite && uri!="") { print uri; exit } }' "$f"
  done | head -n1
}

# Runs CMD... chrooted into DIR with /proc, /dev, /tmp and the host's resolv.conf, inside a
# private mount namespace so nothing leaks onto the host if we are interrupted.
chroot_run() { # DIR CMD...
  local dir=$1; shift
  unshare --mount --propagation private -- /bin/bash -ec '
    d=$1; shift
    mount -t proc proc "$d/proc"; mount --rbind /dev "$d/dev"; mount -t tmpfs tmpfs "$d/tmp"
    mount -t tmpfs tmpfs "$d/run"
    exec chroot "$d" "$@"' chroot_run "$dir" "$@" </dev/null
}

build_rootfs() {
  local mirror tmp old
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null >/dev/null || die "cannot install debootstrap"; }
  mirror=$(host_mirror)
  [ -n "$mirror" ] || die "no '$SUITE' Debian mirror found in the host's apt sources"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/rootfs.build.XXXXXX")
  log "debootstrap $SUITE from $mirror into $tmp (takes a few minutes)"
  debootstrap --variant=minbase --include=openssh-server,sudo,iproute2,procps,kmod,iptables \
      "$SUITE" "$tmp" "$mirror" </dev/null > "$tmp.log" 2>&1 \
    || { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log above)"; }
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  # policy-rc.d: no daemon may start inside the build chroot
  printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
  chroot_run "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive /bin/sh -ec '
      apt-get update -q
      apt-get install -y -q --no-install-recommends systemd systemd-sysv dbus libpam-systemd \
          libnss-systemd nftables dphys-swapfile iputils-ping network-manager dhcpcd
      apt-get clean; rm -rf /var/lib/apt/lists/*' >> "$tmp.log" 2>&1 \
    || { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp"; die "package install in rootfs failed (log above)"; }
  rm -f "$tmp/usr/sbin/policy-rc.d"
  # nothing listens on 127.0.0.53 in a node: DNS fails fast and never leaves the node
  echo 'nameserver 127.0.0.53' > "$tmp/etc/resolv.conf"
  mkdir -p "$tmp/usr/lib/pikube-fleet"
  printf '%s\n' "$ROOTFS_RECIPE" > "$tmp/usr/lib/pikube-fleet/rootfs.recipe"
  # swap in atomically: a reader sees either the old complete tree or the new complete tree
  old=
  [ -e "$ROOTFS" ] && { old=$CACHE/rootfs.old.$$; mv "$ROOTFS" "$old"; }
  mv "$tmp" "$ROOTFS"
  rm -f "$tmp.log"
  [ -n "$old" ] && rm -rf "$old"
  true
}

rootfs_current() { [ "$(cat "$ROOTFS/usr/lib/pikube-fleet/rootfs.recipe" 2>/dev/null)" = "$ROOTFS_RECIPE" ]; }

# Ensures rootfs and Pi layer are current. Serialised by a lock so two labs starting at the
# same time build the cache once.
cmd_rootfs() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"
  flock 8
  rm -rf "$CACHE"/rootfs.build.* "$CACHE"/rootfs.old.* "$CACHE"/pilayer.build.* "$CACHE"/pilayer.old.*
  if ! rootfs_current; then
    local t0=$SECONDS; build_rootfs; log "rootfs built in $((SECONDS - t0)) s"
  fi
  pilayer_current || { local t1=$SECONDS; build_pilayer; log "Pi layer built in $((SECONDS - t1)) s"; }
  flock -u 8; exec 8>&-
}


# ---------------------------------------------------------------------------- Pi layer
# Everything every fake Pi shares, whatever its OS layout: users, sudo rules, fake tools.
# Per-node and per-layout files (hostname, keys, boot partition, os-release) live in the
# node's own upper dir instead. This function runs chrooted in the build overlay; its
# source text is part of the layer's recipe, so editing it rebuilds the layer.
pilayer_inside() {
  set -e
  export DEBIAN_FRONTEND=noninteractive

  # --- users, as on Raspberry Pi OS: pi has passwordless sudo; pwsudo needs its password
  for g in gpio i2c spi input render netdev; do getent group $g >/dev/null || groupadd -r $g; done
  useradd -m -u 1000 -s /bin/bash \
    -G adm,dialout,cdrom,sudo,audio,video,plugdev,games,users,input,render,netdev,gpio,i2c,spi pi
  useradd -m -u 1001 -s /bin/bash -G sudo pwsudo
  printf 'pi:raspberry\npwsudo:pikube-test-sudo\n' | chpasswd
  echo 'pi ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/010_pi-nopasswd
  chmod 440 /etc/sudoers.d/010_pi-nopasswd
  # root and both users get their authorized_keys per node (the client key is per lab)

  # --- sshd: every node generates its own host keys, so none may be shared
  rm -f /etc/ssh/ssh_host_*
  printf 'UseDNS no\nMaxStartups 100:30:200\n' > /etc/ssh/sshd_config.d/10-pikube-fleet.conf

  # --- identity: machine-id is per node; the hostname is per node
  : > /etc/machine-id

  # --- swap. Pi OS enables dphys-swapfile (a /var/swap of CONF_SWAPSIZE MiB); the nodes also
  # carry a /swapfile fstab line. Both files are sparse with a real swap header, because the
  # emulated swapon checks the header like the real one.
  printf '# /etc/dphys-swapfile - pikube fleet node\nCONF_SWAPSIZE=100\n' > /etc/dphys-swapfile
  for s in /var/swap /swapfile; do
    truncate -s 100M $s; chmod 600 $s; mkswap $s >/dev/null
  done
  # enabled per node, by OS layout (Ubuntu has no dphys-swapfile)
  rm -f /etc/systemd/system/multi-user.target.wants/dphys-swapfile.service

  # --- swapon/swapoff would act on the host's kernel: replace them with emulations that only
  # edit the node's private /proc/swaps and /proc/meminfo (plain files bind-mounted at boot)
  for b in /sbin/swapon /sbin/swapoff; do
    dpkg-divert --quiet --local --rename --divert $b.distrib --add $b
  done
  cat > /sbin/swapon <<'SWAPON'
#!/bin/bash
# pikube fleet: emulated swapon(8). This node shares the host's kernel, so real swap is never
# touched: activation appends to this node's own /proc/swaps and updates /proc/meminfo.
SWAPS=/proc/swaps
active() { awk -v f="$1" 'NR>1 && $1==f {hit=1} END {exit !hit}' $SWAPS; }
sync_meminfo() {
  local t u m
  read -r t u < <(awk 'NR>1 {t+=$3; u+=$4} END {print t+0, u+0}' $SWAPS)
  m=$(awk -v t="$t" -v f="$((t - u))" '
      /^SwapTotal:/ {printf "SwapTotal:      %8d kB\n", t; next}
      /^SwapFree:/  {printf "SwapFree:       %8d kB\n", f; next} {print}' /proc/meminfo)
  printf '%s\n' "$m" > /proc/meminfo
}
activate() {
  local f=$1 quiet=$2
  if [ ! -e "$f" ]; then [ "$quiet" = 1 ] && return 0
    echo "swapon: cannot open $f: No such file or directory" >&2; return 4; fi
  if active "$f"; then [ "$quiet" = 1 ] && return 0
    echo "swapon: $f: swapon failed: Device or resource busy" >&2; return 4; fi
  if [ "$(dd if="$f" bs=1 skip=4086 count=10 2>/dev/null)" != SWAPSPACE2 ]; then
    echo "swapon: $f: read swap header failed" >&2; return 4; fi
  printf '%-40s%s\t\t%d\t\t0\t\t-2\n' "$f" file $(( $(stat -c %s "$f") / 1024 - 4 )) >> $SWAPS
  sync_meminfo
}
show() { # COLUMNS HEADINGS(0|1)
  local cols=${1:-NAME,TYPE,SIZE,USED,PRIO}
  [ "$(wc -l < $SWAPS)" -le 1 ] && return 0
  awk -v cols="$cols" -v head="$2" 'function h(k) { return k<1024 ? k "K" : (k<1048576 ? int(k/1024+.5) "M" : sprintf("%.1fG", k/1048576)) }
    BEGIN { n=split(toupper(cols), c, ","); if (head) { for (i=1;i<=n;i++) printf "%s%s", c[i], (i<n?" ":"\n") } }
    NR>1 { for (i=1;i<=n;i++) { v=""
        if (c[i]=="NAME") v=$1; else if (c[i]=="TYPE") v=$2; else if (c[i]=="SIZE") v=h($3)
        else if (c[i]=="USED") v=($4==0 ? "0B" : h($4)); else if (c[i]=="PRIO") v=$5
        printf "%s%s", v, (i<n?" ":"\n") } }' $SWAPS
}
all=0 mode=usage cols= head=1 quiet=0 files=()
while [ $# -gt 0 ]; do
  case $1 in
    -a|--all) all=1 ;;
    -s|--summary) mode=summary ;;
    --show) mode=show ;;
    --show=*) mode=show; cols=${1#--show=} ;;
    --noheadings) head=0 ;;
    -e|--ifexists) quiet=1 ;;
    -p|--priority|-o|--options) shift ;;
    -*) ;;
    *) files+=("$1") ;;
  esac
  shift
done
if [ $all = 0 ] && [ ${#files[@]} = 0 ]; then
  case $mode in
    summary) [ "$(wc -l < $SWAPS)" -gt 1 ] && cat $SWAPS ;;
    show) show "$cols" $head ;;
    *) echo "Usage: swapon [options] [<spec>]" >&2; exit 2 ;;
  esac
  exit 0
fi
rc=0
if [ $all = 1 ]; then
  while read -r dev _ type opts _; do
    case $dev in ''|\#*) continue ;; esac
    [ "$type" = swap ] || continue
    case ",$opts," in *,noauto,*) continue ;; esac
    activate "$dev" 1 || rc=$?
  done < /etc/fstab
fi
for f in "${files[@]}"; do activate "$f" $quiet || rc=$?; done
exit $rc
SWAPON
  cat > /sbin/swapoff <<'SWAPOFF'
#!/bin/bash
# pikube fleet: emulated swapoff(8): removes entries from this node's own /proc/swaps.
SWAPS=/proc/swaps
all=0 rc=0 files=()
for a; do case $a in -a|--all) all=1 ;; -*) ;; *) files+=("$a") ;; esac; done
[ $all = 1 ] && mapfile -t -O ${#files[@]} files < <(awk 'NR>1 {print $1}' $SWAPS)
for f in "${files[@]}"; do
  if awk -v f="$f" 'NR>1 && $1==f {hit=1} END {exit !hit}' $SWAPS; then
    t=$(awk -v f="$f" 'NR==1 || $1!=f' $SWAPS); printf '%s\n' "$t" > $SWAPS
  elif [ $all = 0 ]; then
    echo "swapoff: $f: swapoff failed: Invalid argument" >&2; rc=4
  fi
done
read -r t u < <(awk 'NR>1 {t+=$3; u+=$4} END {print t+0, u+0}' $SWAPS)
m=$(awk -v t="$t" -v f="$((t - u))" '
    /^SwapTotal:/ {printf "SwapTotal:      %8d kB\n", t; next}
    /^SwapFree:/  {printf "SwapFree:       %8d kB\n", f; next} {print}' /proc/meminfo)
printf '%s\n' "$m" > /proc/meminfo
exit $rc
SWAPOFF
  chmod 755 /sbin/swapon /sbin/swapoff

  # --- vcgencmd, the firmware query tool of Pi OS
  cat > /usr/bin/vcgencmd <<'VCGENCMD'
#!/bin/sh
# pikube fleet: fake vcgencmd. get_throttled reads /etc/fleet/throttled (default 0x0);
# measure_temp reads the fake thermal zone.
case "$1" in
  get_throttled) echo "throttled=$(cat /etc/fleet/throttled 2>/dev/null || echo 0x0)" ;;
  measure_temp)
    t=$(cat /sys/class/thermal/thermal_zone0/temp 2>/dev/null || echo 48312)
    echo "temp=$((t / 1000)).$(( (t % 1000) / 100 ))'C" ;;
  measure_volts) echo "volt=0.8500V" ;;
  get_mem) echo "$2=$( [ "$2" = gpu ] && echo 76M || echo 948M)" ;;
  version) printf 'Oct 17 2024 15:15:15 \nCopyright (c) 2012 Broadcom\nversion 2808975b80149bbfe86844655fe45c7de66fc078 (clean) (release) (start)\n' ;;
  commands) echo 'commands="get_throttled, measure_temp, measure_volts, get_mem, version, commands"' ;;
  *) echo "error=2 error_msg=\"Command not registered\""; exit 2 ;;
esac
VCGENCMD
  chmod 755 /usr/bin/vcgencmd
  mkdir -p /etc/fleet

  # --- modprobe: a node has no kernel modules of its own. Declare the ones K3s asks for as
  # built in, so `modprobe br_netfilter` succeeds (and loads nothing on the host).
  mkdir -p /lib/modules/$KVER
  : > /lib/modules/$KVER/modules.order
  printf 'kernel/%s.ko\n' net/bridge/br_netfilter fs/overlayfs/overlay net/netfilter/nf_conntrack \
    net/ipv4/netfilter/ip_tables net/ipv4/netfilter/iptable_nat net/ipv4/netfilter/iptable_filter \
    net/netfilter/xt_conntrack drivers/net/vxlan/vxlan net/ipv4/ip_vs net/ipv6/ip6_tables \
    > /lib/modules/$KVER/modules.builtin
  depmod $KVER 2>/dev/null || true

  # --- systemd in a namespace: units that would touch hardware, the host or real partitions
  for u in getty@tty1.service console-getty.service serial-getty@ttyS0.service \
           systemd-remount-fs.service boot-firmware.mount boot.mount \
           proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount systemd-binfmt.service \
           apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
           e2scrub_reap.service fstrim.timer systemd-pstore.service \
           systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
           systemd-udev-trigger.service systemd-udev-settle.service; do
    ln -sf /dev/null /etc/systemd/system/$u
  done
  # NetworkManager (Bookworm's network stack) runs only on nodes started with net=nm, dhcpcd
  # (Bullseye's) only on those with net=dhcpcd; the others keep the address the host gives
  # their eth0
  rm -f /etc/systemd/system/multi-user.target.wants/NetworkManager.service \
        /etc/systemd/system/network-online.target.wants/NetworkManager-wait-online.service \
        /etc/systemd/system/dbus-org.freedesktop.nm-dispatcher.service \
        /etc/systemd/system/multi-user.target.wants/dhcpcd.service
  # as on Raspberry Pi OS, where the netdev group's tools may edit it
  chown root:netdev /etc/dhcpcd.conf; chmod 664 /etc/dhcpcd.conf
  # keep the journal in RAM: less disk per node, faster boots
  mkdir -p /etc/systemd/journald.conf.d
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' > /etc/systemd/journald.conf.d/pikube-fleet.conf
}

pilayer_recipe() {
  { echo "pilayer v$PILAYER_VERSION kernel $(uname -r)"; echo "$ROOTFS_RECIPE"; declare -f pilayer_inside; } | sha256sum | cut -d' ' -f1
}
pilayer_current() { [ "$(cat "$PILAYER/usr/lib/pikube-fleet/pilayer.recipe" 2>/dev/null)" = "$(pilayer_recipe)" ]; }

build_pilayer() {
  local b
  b=$(mktemp -d "$CACHE/pilayer.build.XXXXXX")
  mkdir -p "$b/upper" "$b/work" "$b/mnt"
  unshare --mount --propagation private -- /bin/bash -ec '
    b=$1 rootfs=$2 kver=$3 code=$4
    mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$b/upper,workdir=$b/work" "$b/mnt"
    m=$b/mnt
    mount -t proc proc "$m/proc"; mount --rbind /dev "$m/dev"
    mount -t tmpfs tmpfs "$m/tmp"; mount -t tmpfs tmpfs "$m/run"
    chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin KVER="$kver" /bin/bash -ec "$code; pilayer_inside"
  ' build_pilayer "$b" "$ROOTFS" "$(uname -r)" "$(declare -f pilayer_inside)" </dev/null > "$b/log" 2>&1 \
    || { tail -n 30 "$b/log" >&2; rm -rf "$b"; die "Pi layer build failed (log above)"; }
  mkdir -p "$b/upper/usr/lib/pikube-fleet"
  pilayer_recipe > "$b/upper/usr/lib/pikube-fleet/pilayer.recipe"
  local old=
  [ -e "$PILAYER" ] && { old=$CACHE/pilayer.old.$$; mv "$PILAYER" "$old"; }
  mv "$b/upper" "$PILAYER"
  rm -rf "$b" ${old:+"$old"}
}

# ============================================================================ labs
# Everything host-side is named after the lab id, so two labs never share a name:
#   bridge pkf<ID> 10.99.<ID>.1/24 · node veth pk<ID>n<IDX> · netns pkf<ID>-<NAME>
#   cgroup <unified>/pikube-fleet-<ID>/<NAME> · nft tables inet+bridge pikube_fleet_<ID>
lab_init() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -n "${FLEET_LAB:-}" ] || die "FLEET_LAB (the lab directory) is required"
  [ -n "${FLEET_ID:-}" ] || die "FLEET_ID (1..200) is required"
  case $FLEET_ID in ''|*[!0-9]*) die "FLEET_ID must be a number 1..200";; esac
  # 201..254 are allowed too (the project's own Rust tests use 250), 1..200 for everyone else
  [ "$FLEET_ID" -ge 1 ] && [ "$FLEET_ID" -le 254 ] || die "FLEET_ID must be 1..200 (got $FLEET_ID)"
  ID=$((10#$FLEET_ID))
  mkdir -p "$FLEET_LAB"
  LAB=$(readlink -f "$FLEET_LAB")
  export FLEET_LAB=$LAB FLEET_ID=$ID
  NODES=$LAB/nodes
  KEY=$LAB/keys/id_ed25519
  BR=pkf$ID
  NET=10.99.$ID
  NFT_TABLE=pikube_fleet_$ID
  # hybrid hosts (cgroup v1 controllers + v2 "unified"): systemd in a node wants cgroup2
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then CGROOT=/sys/fs/cgroup
  else CGROOT=/sys/fs/cgroup/unified; fi
  CG=$CGROOT/pikube-fleet-$ID
  HOSTSTATE=/run/pikube-fleet        # host-wide bookkeeping shared by all labs (tmpfs)
}

# Serialises commands that change a lab (fd 9). Never inherited by node supervisors.
lab_lock() { exec 9>"$LAB/.lock"; flock 9; }

# The rootfs has nft; the host may not. nft only talks netlink, so chroot is enough.
nft_() { chroot "$ROOTFS" /usr/sbin/nft "$@"; }

node_dir() { echo "$NODES/$1"; }
node_load() { # NAME -> NAME IDX IP OS STORAGE MODEL MEM JUMP PARTUUID
  local f; f=$(node_dir "$1")/node.env
  [ -f "$f" ] || die "no node '$1' in lab $LAB"
  # shellcheck disable=SC1090  # written by create_node
  . "$f"
}
# A node made with disk=SIZE has its whole directory on its own tmpfs: unmounted here, at
# `down`, once nothing of the node runs (its own namespaces hold private copies anyway).
release_disk() { # NODE_DIR
  if mountpoint -q "$1"; then umount "$1" || umount -l "$1"; fi
}
node_names() { # in creation order
  local f
  for f in "$NODES"/*/node.env; do [ -f "$f" ] && echo "$(sed -n 's/^IDX=//p' "$f") $(basename "$(dirname "$f")")"; done \
    | sort -n | cut -d' ' -f2
}
init_pid() { # host pid of the node's PID 1, if it runs
  local p; p=$(cat "$(node_dir "$1")/init.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
supervisor_alive() { local p; p=$(cat "$(node_dir "$1")/supervisor.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# ---------------------------------------------------------------------------- model table
# MODEL -> REVISION, device-tree "compatible", CPU part (for /proc/cpuinfo)
model_facts() {
  case $1 in
    *"Pi 5"*)                 echo "d04170 raspberrypi,5-model-b:brcm,bcm2712 0xd0b" ;;
    *"Compute Module 4"*)     echo "d03141 raspberrypi,4-compute-module:brcm,bcm2711 0xd08" ;;
    *"Pi 4"*)                 echo "c03114 raspberrypi,4-model-b:brcm,bcm2711 0xd08" ;;
    *"Pi 3"*|*"Zero 2"*)      echo "a02082 raspberrypi,3-model-b:brcm,bcm2837 0xd03" ;;
    *)                        echo "c03114 raspberrypi,4-model-b:brcm,bcm2711 0xd08" ;;
  esac
}

# ---------------------------------------------------------------------------- node creation
# The node's disk: everything that differs between two nodes or two OS layouts goes here.
create_node() { # NAME IDX OS STORAGE MODEL MEM JUMP DISK
  local name=$1 idx=$2 os=$3 storage=$4 model=$5 mem=$6 jump=$7 disk=$8
  local d u partuuid ip t
  d=$(node_dir "$name"); u=$d/upper
  release_disk "$d"; rm -rf "$d"; mkdir -p "$d"
  if [ -n "$disk" ]; then
    mount -t tmpfs -o "size=$disk,mode=0755" pikube-fleet-disk "$d" || die "$name: cannot mount its $disk disk"
  fi
  mkdir -p "$u/etc/ssh" "$d/work" "$d/merged"
  ip=$NET.$((10 + idx))
  partuuid=$(printf '%s' "$ID/$name" | md5sum | cut -c1-8)
  {
    printf 'NAME=%q\nIDX=%s\nIP=%s\nOS=%s\nSTORAGE=%s\n' "$name" "$idx" "$ip" "$os" "$storage"
    printf 'MODEL=%q\nMEM=%s\nJUMP=%s\nPARTUUID=%s\n' "$model" "$mem" "$jump" "$partuuid"
  } > "$d/node.env.tmp"

  # a freshly flashed Pi is called raspberrypi, whatever the inventory calls it
  echo raspberrypi > "$u/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n' > "$u/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$u/etc/machine-id"; echo >> "$u/etc/machine-id"
  mkdir -p "$u/etc/fleet"

  # boot partition + os-release per layout
  local rootdev="PARTUUID=$partuuid-02" bootdev="PARTUUID=$partuuid-01" bootdir cmdline
  cmdline="console=serial0,115200 console=tty1 root=$rootdev rootfstype=ext4 fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles"
  case $os in
    bookworm)
      bootdir=/boot/firmware
      mkdir -p "$u/boot/firmware"
      for t in cmdline.txt config.txt; do
        printf 'DO NOT EDIT THIS FILE\n\nThe file you are looking for has moved to /boot/firmware/%s\n' $t > "$u/boot/$t"
      done
      echo "$cmdline cfg80211.ieee80211_regdom=GB" > "$u/boot/firmware/cmdline.txt"
      pi_config_txt > "$u/boot/firmware/config.txt"
      echo 'Raspberry Pi reference 2024-11-19' > "$u/etc/rpi-issue" ;;
    bullseye)
      bootdir=/boot
      mkdir -p "$u/boot" "$u/usr/lib"
      echo "$cmdline" > "$u/boot/cmdline.txt"
      pi_config_txt > "$u/boot/config.txt"
      echo 'Raspberry Pi reference 2023-05-03' > "$u/etc/rpi-issue"
      echo 11.11 > "$u/etc/debian_version"
      cat > "$u/usr/lib/os-release" <<'OSR'
PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
OSR
      ;;
    ubuntu)
      bootdir=/boot/firmware
      mkdir -p "$u/boot/firmware" "$u/usr/lib"
      echo "console=serial0,115200 multipath=off dwc_otg.lpm_enable=0 console=tty1 root=$rootdev rootfstype=ext4 rootwait fixrtc quiet splash" > "$u/boot/firmware/cmdline.txt"
      printf '[all]\nkernel=vmlinuz\ncmdline=cmdline.txt\ninitramfs initrd.img followkernel\n\n[pi4]\nmax_framebuffers=2\narm_boost=1\n\n[all]\ndtparam=audio=on\ndtparam=i2c_arm=on\ndtparam=spi=on\ndisable_overscan=1\ndtoverlay=vc4-kms-v3d\narm_64bit=1\n' > "$u/boot/firmware/config.txt"
      echo 'trixie/sid' > "$u/etc/debian_version"
      cat > "$u/usr/lib/os-release" <<'OSR'
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
OSR
      printf 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\nDISTRIB_CODENAME=noble\nDISTRIB_DESCRIPTION="Ubuntu 24.04.1 LTS"\n' > "$u/etc/lsb-release"
      # Ubuntu has no dphys-swapfile: hide it with overlayfs whiteouts (char device 0/0)
      mkdir -p "$u/usr/lib/systemd/system" "$u/usr/sbin" "$u/var" "$u/etc/init.d"
      for t in usr/lib/systemd/system/dphys-swapfile.service usr/sbin/dphys-swapfile etc/dphys-swapfile \
               etc/init.d/dphys-swapfile var/swap; do
        mknod "$u/$t" c 0 0
      done ;;
    *) die "node $name: unknown os=$os (bookworm|bullseye|ubuntu)" ;;
  esac
  # Pi OS layouts run dphys-swapfile at boot, like a fresh image
  if [ "$os" != ubuntu ]; then
    mkdir -p "$u/etc/systemd/system/multi-user.target.wants"
    ln -s /lib/systemd/system/dphys-swapfile.service "$u/etc/systemd/system/multi-user.target.wants/dphys-swapfile.service"
  fi

  {
    printf 'proc            /proc           proc    defaults          0       0\n'
    if [ "$os" = ubuntu ]; then
      printf 'LABEL=writable  /               ext4    discard,errors=remount-ro 0 1\n'
      printf 'LABEL=system-boot /boot/firmware vfat   defaults          0       1\n'
    else
      printf '%s  %-15s vfat    defaults          0       2\n' "$bootdev" "$bootdir"
      printf '%s  /               ext4    defaults,noatime  0       1\n' "$rootdev"
    fi
    printf '/swapfile       none            swap    sw                0       0\n'
  } > "$u/etc/fstab"

  # unique host keys; RSA is left out on purpose (3x the creation time)
  for t in ecdsa ed25519; do
    ssh-keygen -q -t $t -N '' -C root@raspberrypi -f "$u/etc/ssh/ssh_host_${t}_key" </dev/null || die "ssh-keygen $t failed"
  done

  # the lab's client key may log in as root, pi and pwsudo
  local user uid gid home
  for user in root pi pwsudo; do
    IFS=: read -r _ _ uid gid _ home _ < <(grep "^$user:" "$PILAYER/etc/passwd")
    # same mode as in the Pi layer: an upper dir's attributes win over the lower one's
    install -d -m "$(stat -c %a "$PILAYER$home" 2>/dev/null || stat -c %a "$ROOTFS$home")" -o "$uid" -g "$gid" "$u$home"
    install -d -m 700 -o "$uid" -g "$gid" "$u$home/.ssh"
    install -m 600 -o "$uid" -g "$gid" "$KEY.pub" "$u$home/.ssh/authorized_keys"
  done
  mv "$d/node.env.tmp" "$d/node.env"
}

# net=nm: the node's address is NetworkManager's, as on Raspberry Pi OS Bookworm set up with
# a fixed address (Imager's "preconfigured" profile, manual method); net=dhcpcd: dhcpcd's, as
# on Bullseye with a static block in dhcpcd.conf. A change of it made on the node then really
# goes through that program, and so does its rollback.
network_node() { # NAME STACK (created)
  local u; u=$(node_dir "$1")/upper
  ( node_load "$1"
    install -d -m 755 "$u/etc/systemd/system/multi-user.target.wants"
    case $2 in
      nm)
        ln -sf /lib/systemd/system/NetworkManager.service \
          "$u/etc/systemd/system/multi-user.target.wants/NetworkManager.service"
        install -d -m 700 "$u/etc/NetworkManager/system-connections"
        printf '[connection]\nid=preconfigured\nuuid=%s\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\nmethod=manual\naddress1=%s/24,%s.1\n\n[ipv6]\nmethod=disabled\n' \
          "$(cat /proc/sys/kernel/random/uuid)" "$IP" "$NET" > "$u/etc/NetworkManager/system-connections/preconfigured.nmconnection"
        chmod 600 "$u/etc/NetworkManager/system-connections/preconfigured.nmconnection" ;;
      dhcpcd)
        ln -sf /lib/systemd/system/dhcpcd.service \
          "$u/etc/systemd/system/multi-user.target.wants/dhcpcd.service"
        # nodev: without udev (masked here) dhcpcd would wait for it and find no interface
        { echo nodev; cat "$ROOTFS/etc/dhcpcd.conf"
          printf '\ninterface eth0\nstatic ip_address=%s/24\nstatic routers=%s.1\n' "$IP" "$NET"
        } > "$u/etc/dhcpcd.conf"
        # the node's netdev group, whatever the host's is
        chown "0:$(awk -F: '$1 == "netdev" { print $3; exit }' "$PILAYER/etc/group")" "$u/etc/dhcpcd.conf"
        chmod 664 "$u/etc/dhcpcd.conf" ;;
    esac )
  touch "$(node_dir "$1")/net-managed"
}

pi_config_txt() {
  cat <<'CFG'
# For more options and information see
# http://rptl.io/configtxt
# Some settings may impact device functionality. See link above for details

# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

# Automatically load overlays for detected DSI displays
display_auto_detect=1

# Automatically load initramfs files, if found
auto_initramfs=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

# Don't have the firmware create an initial video= setting in cmdline.txt.
# Use the kernel's default instead.
disable_fw_kms_setup=1

# Run in 64-bit mode
arm_64bit=1

# Disable compensation for displays with overscan
disable_overscan=1

# Run as fast as firmware / board allows
arm_boost=1

[cm4]
# Enable host mode on the 2711 built-in XHCI USB controller.
# This line should be removed if the legacy DWC2 controller is required
# (e.g. for USB device mode) or if USB support is not required.
otg_mode=1

[all]
CFG
}

# ---------------------------------------------------------------------------- host network
# One bridge per lab; the host is .1 on it. Host-side firewall, per lab:
#  inet  table: nodes may answer the host but never open a connection to it (input);
#               nothing is routed into or out of the lab (forward; with br_netfilter the
#               bridged node<->node traffic shows in=out=bridge and stays allowed);
#               the host cannot reach jump-only nodes (output, @hidden).
#  bridge table: `cut` = the node's veth in @cut, every frame to or from it silently dropped.
net_lab_up() {
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge
    echo 1 > "/proc/sys/net/ipv6/conf/$BR/disable_ipv6" 2>/dev/null || true
    ip addr add "$NET.1/24" dev "$BR"
    ip link set "$BR" up
  fi
  nft_ list table inet "$NFT_TABLE" >/dev/null 2>&1 && return 0
  nft_ -f - <<NFT || die "cannot install nft tables"
table inet $NFT_TABLE {
  set hidden { type ipv4_addr; }
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "$BR" ct state established,related accept
    iifname "$BR" drop
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "$BR" oifname != "$BR" drop
    oifname "$BR" iifname != "$BR" drop
  }
  chain output {
    type filter hook output priority -10; policy accept;
    oifname "$BR" ip daddr @hidden reject with icmp type host-unreachable
  }
}
table bridge $NFT_TABLE {
  set cut { type ifname; }
  chain forward { type filter hook forward priority -10; policy accept; iifname @cut drop; oifname @cut drop; }
  chain input   { type filter hook input   priority -10; policy accept; iifname @cut drop; }
  chain output  { type filter hook output  priority -10; policy accept; oifname @cut drop; }
}
NFT
}

net_lab_down() {
  nft_ delete table inet "$NFT_TABLE" 2>/dev/null
  nft_ delete table bridge "$NFT_TABLE" 2>/dev/null
  ip link del "$BR" 2>/dev/null
  true
}

# The node's network namespace outlives its boots, like a NIC outlives a reboot.
net_node_up() { # NAME (node_load'ed)
  local ns=pkf$ID-$NAME veth=pk${ID}n$IDX
  [ -e "/run/netns/$ns" ] && ip link show "$veth" >/dev/null 2>&1 && return 0
  ip netns del "$ns" 2>/dev/null; ip link del "$veth" 2>/dev/null
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  # Raspberry Pi Trading's OUI, so a MAC-sniffing tool sees a Pi
  ip -n "$ns" link set eth0 address "$(printf 'dc:a6:32:%02x:%02x:%02x' "$ID" $((IDX >> 8 & 255)) $((IDX & 255)))"
  ip link set "$veth" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$IP/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NET.1"
  if [ "$JUMP" = 1 ]; then nft_ add element inet "$NFT_TABLE" hidden "{ $IP }"; fi
}

net_node_down() { # NAME (node_load'ed)
  nft_ delete element bridge "$NFT_TABLE" cut "{ pk${ID}n$IDX }" 2>/dev/null
  nft_ delete element inet "$NFT_TABLE" hidden "{ $IP }" 2>/dev/null
  ip link del "pk${ID}n$IDX" 2>/dev/null
  ip netns del "pkf$ID-$NAME" 2>/dev/null
  true
}

# ---------------------------------------------------------------------------- host-wide tunables
# Each systemd node uses ~5 inotify instances and all nodes are uid 0 on the host, so the
# default fs.inotify.max_user_instances (128) stops a fleet at ~24 nodes. Raised while any lab
# is up, restored to the value found before the first lab when the last lab goes down.
host_tunables_acquire() {
  mkdir -p "$HOSTSTATE/labs"
  ( flock 7
    [ -f "$HOSTSTATE/inotify.orig" ] || cat /proc/sys/fs/inotify/max_user_instances > "$HOSTSTATE/inotify.orig"
    echo "$LAB" > "$HOSTSTATE/labs/$ID"
    [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -ge 4096 ] || echo 4096 > /proc/sys/fs/inotify/max_user_instances
  ) 7>"$HOSTSTATE/.lock"
}
host_tunables_release() {
  [ -d "$HOSTSTATE" ] || return 0
  ( flock 7
    rm -f "$HOSTSTATE/labs/$ID"
    if [ -z "$(ls -A "$HOSTSTATE/labs" 2>/dev/null)" ] && [ -f "$HOSTSTATE/inotify.orig" ]; then
      cat "$HOSTSTATE/inotify.orig" > /proc/sys/fs/inotify/max_user_instances
      rm -f "$HOSTSTATE/inotify.orig"
    fi
  ) 7>"$HOSTSTATE/.lock"
}

# A lab id belongs to one lab dir at a time (recorded in $HOSTSTATE/labs/<ID>). If the owner
# still exists we refuse; if its dir is gone (a test killed before its cleanup ran) we reclaim
# the id: kill that lab's supervisors and nodes and remove its host objects.
lab_owner() { cat "$HOSTSTATE/labs/$ID" 2>/dev/null; }
claim_lab_id() {
  local owner p c ns
  owner=$(lab_owner)
  [ -z "$owner" ] || [ "$owner" = "$LAB" ] && return 0
  [ -d "$owner/nodes" ] && die "lab id $ID is in use by $owner (FLEET_LAB=$owner FLEET_ID=$ID $SELF down --purge)"
  log "lab id $ID: reclaiming it from vanished lab $owner"
  for p in $(pgrep -f "fleet.sh _supervise"); do
    grep -qsz "^FLEET_LAB=$owner\$" "/proc/$p/environ" && grep -qsz "^FLEET_ID=$ID\$" "/proc/$p/environ" && kill "$p" 2>/dev/null
  done
  for c in "$CG"/*/; do [ -d "$c" ] && cg_kill "$(basename "$c")"; done
  for c in "$CG"/*/; do [ -d "$c" ] && cg_remove "$(basename "$c")"; done
  rmdir "$CG" 2>/dev/null
  for ns in $(ip netns list 2>/dev/null | awk -v p="pkf$ID-" 'index($1, p) == 1 {print $1}'); do ip netns del "$ns"; done
  for c in $(ip -o link show 2>/dev/null | awk -F': ' -v p="pk${ID}n" '{split($2, a, "@")} index(a[1], p) == 1 {print a[1]}'); do ip link del "$c" 2>/dev/null; done
  net_lab_down
  echo "$LAB" > "$HOSTSTATE/labs/$ID"
}

# ---------------------------------------------------------------------------- cgroups
cg_prepare() { mkdir -p "$CG/$1"; }
cg_kill() { [ -e "$CG/$1/cgroup.kill" ] && echo 1 > "$CG/$1/cgroup.kill" 2>/dev/null; true; }
cg_remove() { # NAME: waits until empty, then removes the tree systemd built inside, deepest first
  [ -d "$CG/$1" ] || return 0
  for _ in $(seq 100); do grep -qs 'populated 1' "$CG/$1/cgroup.events" || break; sleep 0.05; done
  find "$CG/$1" -depth -type d -exec rmdir {} + 2>/dev/null
  true
}

# ---------------------------------------------------------------------------- power supervisor
# One per running node, on the host, detached with `setsid -f` (so signals keep their default
# disposition: a PID 1 that inherited an ignored SIGHUP/SIGINT could not be rebooted).
# When the node's systemd finishes a shutdown it calls reboot(2); inside a PID namespace the
# kernel turns that into killing the namespace's PID 1 with SIGHUP (reboot) or SIGINT
# (poweroff/halt), which we read back as exit status 129/130 of `unshare --fork`.
CAPS_DROPPED=-sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm,-block_suspend,-mac_admin,-mac_override,-sys_pacct

cmd__supervise() {
  lab_init; node_load "$1"
  local d rc t0 fast=0 off
  d=$(node_dir "$NAME")
  echo $$ > "$d/supervisor.pid"
  while [ ! -e "$d/stop" ]; do
    cg_prepare "$NAME"
    echo booting > "$d/state"
    t0=$SECONDS
    echo "[fleet $(date +%T)] $NAME: power on" >> "$d/console.log"
    (
      echo "$BASHPID" > "$CG/$NAME/cgroup.procs"
      # time namespace: the node's uptime starts near 0 at every boot, as after a real reboot
      off=$(( 1 - $(cut -d. -f1 /proc/uptime) ))
      exec nsenter --net="/run/netns/pkf$ID-$NAME" -- \
        unshare --mount --uts --ipc --pid --cgroup --time --boottime "$off" --monotonic "$off" \
                --fork --propagation private -- \
        setpriv --bounding-set "$CAPS_DROPPED" -- /bin/bash "$SELF" _boot "$NAME"
    ) >> "$d/console.log" 2>&1 </dev/null
    rc=$?
    rm -f "$d/init.pid"
    [ -s "$d/boot/console" ] && { echo "--- /dev/console of that boot:"; cat "$d/boot/console"; } >> "$d/console.log"
    echo "[fleet $(date +%T)] $NAME: PID 1 exited with status $rc" >> "$d/console.log"
    cg_kill "$NAME"; cg_remove "$NAME"
    [ -e "$d/stop" ] && break
    if [ "$rc" = 130 ]; then echo off > "$d/state"; break; fi
    # A power cut (see cmd_powercut) leaves the node off until it is started again.
    if [ -e "$d/powercut" ]; then rm -f "$d/powercut"; echo off > "$d/state"; break; fi
    # 129 = reboot; anything else is a crash, rebooted like a watchdog would, unless it loops
    if [ $((SECONDS - t0)) -lt 5 ]; then fast=$((fast + 1)); else fast=0; fi
    if [ $fast -ge 5 ]; then echo crashloop > "$d/state"; break; fi
    echo rebooting > "$d/state"
    sleep "${FLEET_REBOOT_DELAY:-1}"
  done
  [ -e "$d/stop" ] && echo stopped > "$d/state"
  rm -f "$d/supervisor.pid"
}

# ---------------------------------------------------------------------------- boot (PID 1, stage 0)
# Runs as PID 1 of the node's fresh namespaces, still seeing the host's filesystem: assembles
# the node's root, fakes the Pi hardware views for this boot, pivots and execs systemd.
cmd__boot() {
  set -e
  lab_init; node_load "$1"
  local d M B hostpid model_rev compat cpupart serial
  d=$(node_dir "$NAME"); M=$d/merged; B=$d/boot
  read -r hostpid _ < /proc/self/stat          # /proc is still the host's: our host pid
  echo "$hostpid" > "$d/init.pid"
  # A NIC comes up empty at boot: on a net=nm|dhcpcd node, that program gives eth0 its address
  # (from its profiles, as the last boot left them), not the host.
  if [ -e "$d/net-managed" ]; then ip addr flush dev eth0; ip route flush dev eth0; fi
  rm -rf "$B"; mkdir -p "$B"
  read -r model_rev compat cpupart < <(model_facts "$MODEL")
  serial=10000000$(printf '%s' "$ID/$NAME" | md5sum | cut -c1-8)

  mount -t overlay overlay -o "lowerdir=$PILAYER:$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$M"
  hostname "$(cat "$M/etc/hostname" 2>/dev/null || echo raspberrypi)"

  # ---- /proc, with this boot's "kernel" facts
  mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
  local cmdline_txt memon=0 f
  if [ "$OS" = bullseye ]; then cmdline_txt=$M/boot/cmdline.txt; else cmdline_txt=$M/boot/firmware/cmdline.txt; fi
  local cl; cl=$(head -n1 "$cmdline_txt" 2>/dev/null || true)
  # the firmware prepends its own arguments and rewrites serial0 to the real UART
  printf 'coherent_pool=1M 8250.nr_uarts=0 snd_bcm2835.enable_headphones=0 snd_bcm2835.enable_hdmi=1 bcm2708_fb.fbwidth=0 bcm2708_fb.fbheight=0 bcm2708_fb.fbswap=1 smsc95xx.macaddr=DC:A6:32:%02X:%02X:%02X vc_mem.mem_base=0x3ec00000 vc_mem.mem_size=0x40000000  %s\n' \
    "$ID" $((IDX >> 8 & 255)) $((IDX & 255)) "${cl//serial0/ttyS0}" > "$B/cmdline"
  # Pi kernels ship the memory cgroup controller disabled unless cgroup_enable=memory
  case " $cl " in *" cgroup_enable=memory "*) memon=1 ;; esac
  if [ -e "$d/memcg-broken" ]; then memon=0; fi
  awk -v on=$memon 'BEGIN {OFS="\t"} $1=="memory" {$4=on} {print}' /proc/cgroups > "$B/cgroups"
  echo "$memon" > "$B/memory_cgroup"
  {
    for f in 0 1 2 3; do
      printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' $f "$cpupart"
    done
    printf 'Hardware\t: BCM2835\nRevision\t: %s\nSerial\t\t: %s\nModel\t\t: %s\n' "$model_rev" "$serial" "$MODEL"
  } > "$B/cpuinfo"
  printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$B/swaps"
  awk -v t="$MEM" 'BEGIN {
    printf "MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n", t, t*0.85, t*0.92
    printf "Buffers:        %8d kB\nCached:         %8d kB\nSwapCached:            0 kB\n", t*0.005, t*0.07
    printf "Active:         %8d kB\nInactive:       %8d kB\n", t*0.05, t*0.06
    printf "SwapTotal:             0 kB\nSwapFree:              0 kB\n"
    printf "Dirty:                 0 kB\nWriteback:             0 kB\nAnonPages:      %8d kB\n", t*0.025
    printf "Mapped:         %8d kB\nShmem:          %8d kB\nSlab:           %8d kB\n", t*0.02, t*0.002, t*0.013
    printf "CommitLimit:    %8d kB\nCommitted_AS:   %8d kB\n", t/2, t*0.11 }' > "$B/meminfo"
  cat /proc/sys/kernel/random/uuid > "$B/boot_id"
  for f in cpuinfo meminfo swaps cgroups cmdline; do mount --bind "$B/$f" "$M/proc/$f"; done
  for f in cpuinfo cgroups cmdline; do mount -o remount,bind,ro "$M/proc/$f"; done
  # a node must not be able to reboot or crash the host through magic SysRq
  if [ -e "$M/proc/sysrq-trigger" ]; then
    mount --bind "$M/proc/sysrq-trigger" "$M/proc/sysrq-trigger"
    mount -o remount,bind,ro "$M/proc/sysrq-trigger"
  fi
  sysctl_snapshot "$B/sysctl" "$M/proc/sys"

  # ---- /sys: the host's, read-only (net/ shows the node's netns), plus fake Pi hardware
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
  mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k tmpfs "$M/sys/firmware"
  mkdir -p "$M/sys/firmware/devicetree/base"
  printf '%s\0' "$MODEL" > "$M/sys/firmware/devicetree/base/model"
  printf '%s\0' ${compat//:/ } > "$M/sys/firmware/devicetree/base/compatible"
  printf '%s\0' "$serial" > "$M/sys/firmware/devicetree/base/serial-number"
  mount -o remount,ro "$M/sys/firmware"
  # thermal zone: writable tmpfs, so a test can heat a node up (exec: echo 85000 > .../temp)
  mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k tmpfs "$M/sys/class/thermal"
  mkdir -p "$M/sys/class/thermal/thermal_zone0"
  echo "$(cat "$M/etc/fleet/temp" 2>/dev/null || echo 48312)" > "$M/sys/class/thermal/thermal_zone0/temp"
  echo cpu-thermal > "$M/sys/class/thermal/thermal_zone0/type"
  echo enabled > "$M/sys/class/thermal/thermal_zone0/mode"
  chmod 444 "$M/sys/class/thermal/thermal_zone0/type" "$M/sys/class/thermal/thermal_zone0/mode"
  fake_block_sysfs "$M"
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$M/sys/fs/cgroup"
  # cgroup v2 view of the same fact: what a Pi OS Bookworm kernel lists at the root (the host
  # may have none at all, e.g. hybrid v1/v2). Read by tools only: systemd in the node cannot
  # enable these, and copes.
  local ctl="cpuset cpu io pids"; [ $memon = 1 ] && ctl="cpuset cpu io memory pids"
  echo "$ctl" > "$B/cgroup.controllers"
  mount --bind "$B/cgroup.controllers" "$M/sys/fs/cgroup/cgroup.controllers"
  mount -o remount,bind,ro "$M/sys/fs/cgroup/cgroup.controllers"

  # ---- /dev: private and minimal, with the boot disk the cmdline names
  mount -t tmpfs -o nosuid,mode=755,size=4m tmpfs "$M/dev"
  mknod -m 666 "$M/dev/null" c 1 3; mknod -m 666 "$M/dev/zero" c 1 5; mknod -m 666 "$M/dev/full" c 1 7
  mknod -m 666 "$M/dev/random" c 1 8; mknod -m 666 "$M/dev/urandom" c 1 9; mknod -m 666 "$M/dev/tty" c 5 0
  mkdir -p "$M/dev/pts" "$M/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$M/dev/shm"
  ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
  ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
  fake_block_dev "$M"
  # systemd writes early messages to /dev/console: a plain file, appended to console.log later
  : > "$B/console"; touch "$M/dev/console"; mount --bind "$B/console" "$M/dev/console"
  mount -t tmpfs -o nosuid,nodev,mode=755,size=64m tmpfs "$M/run"

  # ---- /opt/k3s-double/bin: the real control-plane programs, shared read-only by every node
  if [ -s "$LAB/k3s-double-bin" ]; then
    mkdir -p "$M/opt/k3s-double/bin"
    mount --bind "$(cat "$LAB/k3s-double-bin")" "$M/opt/k3s-double/bin"
    mount -o remount,bind,ro "$M/opt/k3s-double/bin"
  fi

  cd "$M"; pivot_root . .; umount -l .; cd /
  # early boot activates fstab swap (emulated); dphys-swapfile adds /var/swap later
  /sbin/swapon -a 2>/dev/null || true
  exec env -i container=pikube-fleet TERM=dumb /lib/systemd/systemd systemd.show_status=0
}

# Private copies of the host-global sysctls (kernel, vm, fs, user) for this boot, so that
# `sysctl --system`, systemd-sysctl and `echo > /proc/sys/...` work as on a Pi but can never
# change the host. net.* is per network namespace already and stays live; abi, debug and dev
# are made read-only. A few kernel.* entries are per-namespace or live and are re-bound.
sysctl_snapshot() { # SNAPDIR PROCSYS
  local S=$1 P=$2 top f rel v e
  mkdir -p "$S"
  for top in kernel vm fs user; do
    while IFS= read -r -d '' f; do
      rel=${f#"$P"/}
      if [ -d "$f" ]; then mkdir -p "$S/$rel"; continue; fi
      v=; read -r -d "" v 2>/dev/null < "$f" || true
      printf '%s' "$v" > "$S/$rel"
    done < <(find "$P/$top" -print0 2>/dev/null)
  done
  # same permission bits as the real entries, one chmod per distinct mode
  (cd "$P" && find kernel vm fs user -type f -printf '%m %p\n' 2>/dev/null) |
    awk '{m[$1] = m[$1] " " $2} END {for (k in m) print k m[k]}' |
    while read -r mode files; do (cd "$S" && chmod "$mode" $files); done
  for e in kernel/hostname kernel/domainname kernel/ns_last_pid kernel/random/uuid kernel/random/entropy_avail; do
    [ -e "$P/$e" ] && mount --bind "$P/$e" "$S/$e"
  done
  cp "${S%/sysctl}/boot_id" "$S/kernel/random/boot_id"
  for top in kernel vm fs user; do mount --rbind "$S/$top" "$P/$top"; done
  mount --bind "$S/kernel/random/boot_id" "$P/kernel/random/boot_id"
  mount -o remount,bind,ro "$P/kernel/random/boot_id"
  for top in abi debug dev; do
    [ -d "$P/$top" ] && mount --bind "$P/$top" "$P/$top" && mount -o remount,bind,ro "$P/$top"
  done
  true
}

# STORAGE -> the boot disk as the kernel would name it
storage_disk() {
  case $STORAGE in
    usb) echo "sda sda1 sda2 8" ;;
    nvme) echo "nvme0n1 nvme0n1p1 nvme0n1p2 259" ;;
    *) echo "mmcblk0 mmcblk0p1 mmcblk0p2 179" ;;
  esac
}

fake_block_dev() { # MERGED
  local M=$1 disk p1 p2 major
  read -r disk p1 p2 major < <(storage_disk)
  mkdir -p "$M/dev/disk/by-partuuid"
  ln -s "../../$p1" "$M/dev/disk/by-partuuid/$PARTUUID-01"
  ln -s "../../$p2" "$M/dev/disk/by-partuuid/$PARTUUID-02"
  # Device nodes only when the host has no disk with that major number, so nothing in a
  # node can ever open one of the host's real disks through them.
  if ! awk -v m="$major" '$1==m {hit=1} END {exit !hit}' /proc/partitions; then
    mknod -m 660 "$M/dev/$disk" b "$major" 0
    mknod -m 660 "$M/dev/$p1" b "$major" 1
    mknod -m 660 "$M/dev/$p2" b "$major" 2
    chgrp 6 "$M/dev/$disk" "$M/dev/$p1" "$M/dev/$p2"   # group disk
  fi
}

# /sys/block and /sys/class/block show only the node's boot disk (sizes: a 32 GB card).
# mmcblk0/device/type tells SD from eMMC, as on a real Pi; an eMMC has its life_time too.
fake_block_sysfs() { # MERGED
  local M=$1 disk p1 p2 major n
  read -r disk p1 p2 major < <(storage_disk)
  mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k tmpfs "$M/sys/block"
  mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k tmpfs "$M/sys/class/block"
  local b=$M/sys/block/$disk
  mkdir -p "$b/device" "$b/queue" "$b/$p1" "$b/$p2"
  echo 62333952 > "$b/size"; echo 0 > "$b/ro"; echo 0 > "$b/queue/rotational"
  echo "$major:0" > "$b/dev"
  case $STORAGE in
    sd)   echo SD > "$b/device/type"; echo SN64G > "$b/device/name"; echo 1 > "$b/removable" ;;
    emmc) echo MMC > "$b/device/type"; echo BJTD4R > "$b/device/name"; echo 0 > "$b/removable"
          : > "$b/device/life_time" ;;   # bound to /etc/fleet/life_time below
    usb)  echo 0 > "$b/removable"; echo 'Samsung ' > "$b/device/vendor"; echo 'Portable SSD T7   ' > "$b/device/model" ;;
    nvme) echo 0 > "$b/removable"; echo 'KINGSTON SNV2S250G' > "$b/device/model" ;;
  esac
  echo 1 > "$b/$p1/partition"; echo 8192 > "$b/$p1/start"; echo 1048576 > "$b/$p1/size"; echo "$major:1" > "$b/$p1/dev"
  echo 2 > "$b/$p2/partition"; echo 1056768 > "$b/$p2/start"; echo 61277184 > "$b/$p2/size"; echo "$major:2" > "$b/$p2/dev"
  ln -s "../../block/$disk" "$M/sys/class/block/$disk"
  for n in "$p1" "$p2"; do ln -s "../../block/$disk/$n" "$M/sys/class/block/$n"; done
  mount -o remount,ro "$M/sys/block"; mount -o remount,ro "$M/sys/class/block"
  # An eMMC's wear estimates, kept in the node's /etc/fleet/life_time so a test can wear it
  # out (exec: echo '0x03 0x09' > /etc/fleet/life_time); new: up to 20 % used.
  if [ "$STORAGE" = emmc ]; then
    [ -f "$M/etc/fleet/life_time" ] || echo "0x01 0x02" > "$M/etc/fleet/life_time"
    mount --bind "$M/etc/fleet/life_time" "$b/device/life_time"
  fi
}

# ============================================================================ commands
parse_spec() { # SPEC -> S_NAME S_OS S_STORAGE S_MODEL S_MEM S_JUMP S_MEMCG_BROKEN S_DISK S_NET
  local spec=$1 opts o
  S_NAME=${spec%%:*}; opts=; [ "$S_NAME" != "$spec" ] && opts=${spec#*:}
  S_OS=bookworm S_STORAGE=sd S_MODEL="Raspberry Pi 4 Model B Rev 1.4" S_MEM=3882276 S_JUMP=0 S_MEMCG_BROKEN=0 S_DISK='' S_NET=''
  [[ $S_NAME =~ ^[a-zA-Z][a-zA-Z0-9-]{0,30}$ ]] || die "bad node name '$S_NAME' in '$spec' (letters, digits, '-')"
  local IFS=,
  for o in $opts; do
    case $o in
      os=bookworm|os=bullseye|os=ubuntu) S_OS=${o#os=} ;;
      storage=sd|storage=emmc|storage=usb|storage=nvme) S_STORAGE=${o#storage=} ;;
      model=*) S_MODEL=${o#model=} ;;
      mem=*) S_MEM=${o#mem=}; [[ $S_MEM =~ ^[0-9]+$ ]] || die "$S_NAME: mem= takes KiB, got '$S_MEM'" ;;
      jump-only) S_JUMP=1 ;;
      memcg=broken) S_MEMCG_BROKEN=1 ;;
      net=nm|net=dhcpcd) S_NET=${o#net=} ;;
      disk=*) S_DISK=${o#disk=}; [[ $S_DISK =~ ^[1-9][0-9]*[MG]$ ]] || die "$S_NAME: disk= takes a size like 32G or 512M, got '$S_DISK'" ;;
      '') ;;
      *) die "$S_NAME: unknown option '$o' (os=bookworm|bullseye|ubuntu storage=sd|emmc|usb|nvme model=... mem=KIB jump-only memcg=broken disk=SIZE net=nm|dhcpcd)" ;;
    esac
  done
}

ensure_client_key() {
  [ -f "$KEY" ] && return 0
  mkdir -p "$LAB/keys"; chmod 700 "$LAB/keys"
  ssh-keygen -q -t ed25519 -N '' -C "pikube-fleet-lab-$ID" -f "$KEY" </dev/null || die "cannot create client key"
}

# ssh_config and nodes.tsv, rewritten from the node list. No known_hosts pinning on purpose:
# the tool under test keeps its own trust-on-first-use file.
write_client_files() {
  local n names=() cfg=$LAB/ssh_config.tmp tsv=$LAB/nodes.tsv.tmp
  mapfile -t names < <(node_names)
  : > "$cfg"; : > "$tsv"
  echo "# pikube fake fleet, lab $ID ($LAB). Generated by tests/fleet/fleet.sh." >> "$cfg"
  for n in "${names[@]}"; do
    ( node_load "$n"
      printf 'Host %s\n  HostName %s\n\n' "$NAME" "$IP" >> "$cfg"
      printf '%s\t%s\t%s\n' "$NAME" "$IP" "$JUMP" >> "$tsv" )
  done
  if [ ${#names[@]} -gt 0 ]; then
    printf 'Host %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  ConnectTimeout 5\n  LogLevel ERROR\n' \
      "${names[*]}" "$KEY" >> "$cfg"
  fi
  mv "$cfg" "$LAB/ssh_config"; mv "$tsv" "$LAB/nodes.tsv"
}

start_node() { # NAME: boots it unless it runs; does not wait
  local d; node_load "$1"; d=$(node_dir "$NAME")
  supervisor_alive "$NAME" && return 0
  net_node_up
  rm -f "$d/stop"; echo booting > "$d/state"
  # fds 8/9 hold the cache and lab locks: never let a supervisor inherit them
  setsid -f /bin/bash "$SELF" _supervise "$NAME" </dev/null >/dev/null 2>&1 8>&- 9>&-
}

# sshd greets with "SSH-2.0-": that is "up". Jump-only nodes are probed from inside their own
# network namespace since the host cannot reach them.
ssh_greets() { # NAME (node_load'ed)
  local probe="exec 3<>/dev/tcp/$IP/22 && head -c 7 <&3"
  if [ "$JUMP" = 1 ]; then
    [ "$(timeout 2 nsenter --net="/run/netns/pkf$ID-$NAME" /bin/bash -c "$probe" 2>/dev/null)" = SSH-2.0 ]
  else
    [ "$(timeout 2 /bin/bash -c "$probe" 2>/dev/null)" = SSH-2.0 ]
  fi
}

wait_ssh() { # NAME... : all in parallel, ${FLEET_WAIT:-120} s
  local deadline=$((SECONDS + ${FLEET_WAIT:-120})) pending=("$@") left n st d
  while [ ${#pending[@]} -gt 0 ]; do
    left=()
    for n in "${pending[@]}"; do
      d=$(node_dir "$n")
      if ( node_load "$n"; ssh_greets ); then continue; fi
      st=$(cat "$d/state" 2>/dev/null)
      case $st in off|stopped|crashloop)
        die "node $n: $st before sshd answered; see its console log $d/console.log" ;; esac
      left+=("$n")
    done
    pending=(${left[@]+"${left[@]}"})
    [ ${#pending[@]} = 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      for n in "${pending[@]}"; do
        log "node $n: sshd did not answer within ${FLEET_WAIT:-120} s (state: $(cat "$(node_dir "$n")/state" 2>/dev/null)); see its console log $(node_dir "$n")/console.log"
      done
      exit 1
    fi
    sleep 0.1
  done
}

cmd_up() {
  [ $# -gt 0 ] || die "usage: fleet.sh up NAME[:opt,...]..."
  lab_init
  cmd_rootfs
  lab_lock
  mkdir -p "$NODES"
  ensure_client_key
  claim_lab_id
  host_tunables_acquire
  net_lab_up
  local spec names=() idx next
  next=$(( $(for f in "$NODES"/*/node.env; do [ -f "$f" ] && sed -n 's/^IDX=//p' "$f"; done | sort -n | tail -n1) + 1 ))
  for spec in "$@"; do
    parse_spec "$spec"
    names+=("$S_NAME")
    if [ -f "$(node_dir "$S_NAME")/node.env" ]; then continue; fi   # idempotent: keep its disk
    idx=$next; next=$((next + 1))
    [ $idx -le 240 ] || die "a lab holds at most 240 nodes"
    create_node "$S_NAME" "$idx" "$S_OS" "$S_STORAGE" "$S_MODEL" "$S_MEM" "$S_JUMP" "$S_DISK"
    # A kernel that keeps the memory cgroup off whatever cmdline.txt says (the Pi 5 /
    # 6.x firmware case where cgroup_disable=memory lands after cmdline.txt).
    if [ "$S_MEMCG_BROKEN" = 1 ]; then touch "$(node_dir "$S_NAME")/memcg-broken"; fi
    if [ -n "$S_NET" ]; then network_node "$S_NAME" "$S_NET"; fi
  done
  if [ -n "${FLEET_K3S_DOUBLE_BIN:-}" ]; then
    [ -d "$FLEET_K3S_DOUBLE_BIN" ] || die "FLEET_K3S_DOUBLE_BIN=$FLEET_K3S_DOUBLE_BIN is not a directory"
    readlink -f "$FLEET_K3S_DOUBLE_BIN" > "$LAB/k3s-double-bin"
  fi
  write_client_files
  for spec in "${names[@]}"; do start_node "$spec"; done
  wait_ssh "${names[@]}"
}

cmd_start() {
  [ $# = 1 ] || die "usage: fleet.sh start NAME"
  lab_init; lab_lock; node_load "$1"
  claim_lab_id; host_tunables_acquire; net_lab_up
  start_node "$1"; wait_ssh "$1"
}

# Asks the node's own systemd to do it, like `sudo poweroff` would.
cmd_poweroff() {
  [ $# = 1 ] || die "usage: fleet.sh poweroff NAME"
  lab_init; node_load "$1"
  local d; d=$(node_dir "$NAME")
  supervisor_alive "$NAME" || { log "$NAME is already off"; return 0; }
  in_node "$NAME" systemctl poweroff >/dev/null 2>&1 || true
  for _ in $(seq 600); do supervisor_alive "$NAME" || return 0; sleep 0.1; done
  die "$NAME: still running 60 s after poweroff; see $d/console.log"
}

# Pulls the plug: the node's PID 1 (and with it everything in the node) is killed outright,
# with no shutdown and nothing stopped in order, and the node stays off until `start`.
cmd_powercut() {
  [ $# = 1 ] || die "usage: fleet.sh powercut NAME"
  lab_init; node_load "$1"
  local d p; d=$(node_dir "$NAME")
  supervisor_alive "$NAME" || { log "$NAME is already off"; return 0; }
  touch "$d/powercut"
  p=$(cat "$d/init.pid" 2>/dev/null) && kill -KILL "$p" 2>/dev/null
  for _ in $(seq 600); do supervisor_alive "$NAME" || return 0; sleep 0.1; done
  die "$NAME: still running 60 s after the power cut; see $d/console.log"
}

# Soft reboot through systemd; returns once the node is back with a new boot id and sshd.
cmd_reboot() {
  [ $# = 1 ] || die "usage: fleet.sh reboot NAME"
  lab_init; node_load "$1"
  local d old; d=$(node_dir "$NAME")
  init_pid "$NAME" >/dev/null || die "$NAME is not running"
  old=$(cat "$d/boot/boot_id")
  in_node "$NAME" systemctl reboot >/dev/null 2>&1 || true
  for _ in $(seq $(( (${FLEET_WAIT:-120} + ${FLEET_REBOOT_DELAY:-1}) * 10 ))); do
    [ "$(cat "$d/boot/boot_id" 2>/dev/null)" != "$old" ] && init_pid "$NAME" >/dev/null && break
    case $(cat "$d/state" 2>/dev/null) in off|stopped|crashloop) die "$NAME did not come back; see $d/console.log" ;; esac
    sleep 0.1
  done
  wait_ssh "$NAME"
}

# New host keys, as if the node had been reinstalled (or an impostor took its address).
cmd_rekey() {
  [ $# = 1 ] || die "usage: fleet.sh rekey NAME"
  lab_init; node_load "$1"
  in_node "$NAME" /bin/sh -ec '
    rm -f /etc/ssh/ssh_host_*
    for t in ecdsa ed25519; do ssh-keygen -q -t $t -N "" -C root@$(hostname) -f /etc/ssh/ssh_host_${t}_key; done
    systemctl restart ssh.service' </dev/null || die "$NAME: rekey failed"
  wait_ssh "$NAME"
}

cmd_cut()  { [ $# = 1 ] || die "usage: fleet.sh cut NAME";  lab_init; node_load "$1"; nft_ add element bridge "$NFT_TABLE" cut "{ pk${ID}n$IDX }"; }
cmd_heal() { [ $# = 1 ] || die "usage: fleet.sh heal NAME"; lab_init; node_load "$1"; nft_ delete element bridge "$NFT_TABLE" cut "{ pk${ID}n$IDX }" 2>/dev/null; true; }
cmd_ip()   { [ $# = 1 ] || die "usage: fleet.sh ip NAME";   lab_init; node_load "$1"; echo "$IP"; }
# An address of the lab the host may not reach (as one on a subnet the controller has no
# route to): connections to it are refused at once, whichever node holds it.
cmd_unroutable() {
  [ $# = 1 ] && [[ $1 =~ ^[0-9.]+$ ]] || die "usage: fleet.sh unroutable IP"
  lab_init; nft_ add element inet "$NFT_TABLE" hidden "{ $1 }"
}

# Runs a command as root inside the node: all its namespaces, its root, a clean environment.
in_node() { # NAME CMD...
  local p name=$1; shift
  p=$(init_pid "$name") || die "$name is not running"
  nsenter -t "$p" -m -u -i -n -p -C -T -r -w -- \
    /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 "$@"
}
cmd_exec() {
  [ $# -ge 2 ] || die "usage: fleet.sh exec NAME CMD..."
  lab_init; node_load "$1"; shift
  in_node "$NAME" "$@"
}

cmd_status() {
  lab_init
  local n st
  printf '%-12s %-14s %-9s %-8s %-5s %-10s %s\n' NAME IP OS STORAGE JUMP STATE PID
  for n in $(node_names); do
    ( node_load "$n"
      st=$(cat "$(node_dir "$n")/state" 2>/dev/null || echo new)
      [ "$st" = booting ] && init_pid "$n" >/dev/null && ssh_greets && st=running
      printf '%-12s %-14s %-9s %-8s %-5s %-10s %s\n' "$NAME" "$IP" "$OS" "$STORAGE" "$JUMP" "$st" "$(init_pid "$n" || echo -)" )
  done
}

cmd_down() {
  local purge=0 a n d p
  for a; do case $a in --purge) purge=1 ;; *) die "usage: fleet.sh down [--purge]" ;; esac; done
  lab_init; lab_lock
  local names=(); mapfile -t names < <(node_names)
  # stop: supervisors see the stop file; the whole cgroup (PID 1 included) is killed at once
  for n in "${names[@]}"; do
    d=$(node_dir "$n"); touch "$d/stop"
    cg_kill "$n"; p=$(init_pid "$n") && kill -KILL "$p" 2>/dev/null
  done
  for n in "${names[@]}"; do
    d=$(node_dir "$n")
    for _ in $(seq 100); do supervisor_alive "$n" || break; sleep 0.05; done
    supervisor_alive "$n" && kill "$(cat "$d/supervisor.pid")" 2>/dev/null
    rm -f "$d/supervisor.pid" "$d/init.pid"
    ( node_load "$n"; cg_remove "$n"; net_node_down )
    release_disk "$d"
  done
  # the lab-wide objects are shared by the id: leave them if another lab dir owns the id now
  local owner; owner=$(lab_owner)
  if [ -z "$owner" ] || [ "$owner" = "$LAB" ]; then
    rmdir "$CG" 2>/dev/null
    net_lab_down
    host_tunables_release
  fi
  if [ $purge = 1 ]; then
    rm -rf "$NODES" "$LAB/keys" "$LAB/ssh_config" "$LAB/nodes.tsv"
    rm -f "$LAB/.lock"; exec 9>&-
    rmdir "$LAB" 2>/dev/null
  fi
  [ -z "$owner" ] || [ "$owner" = "$LAB" ] && check_clean
  true
}

# Whatever `down` should have removed from the host: complain (and fail) if anything is left.
check_clean() {
  local left=()
  ip link show "$BR" >/dev/null 2>&1 && left+=("bridge $BR")
  ip -o link show 2>/dev/null | grep -q " pk${ID}n[0-9]*@" && left+=("veth pk${ID}n*")
  ip netns list 2>/dev/null | grep -q "^pkf$ID-" && left+=("netns pkf$ID-*")
  [ -d "$CG" ] && left+=("cgroup $CG")
  nft_ list tables 2>/dev/null | grep -q " $NFT_TABLE\$" && left+=("nft tables $NFT_TABLE")
  grep -q " $LAB/" /proc/self/mountinfo && left+=("mounts under $LAB")
  [ ${#left[@]} = 0 ] || die "down left behind: ${left[*]}"
}

usage() { sed -n '2,30p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; shift || true
case $cmd in
  rootfs|up|down|start|poweroff|powercut|reboot|rekey|cut|heal|exec|status|ip|unroutable|_supervise|_boot) "cmd_$cmd" "$@" ;;
  ""|-h|--help|help) usage ;;
  *) echo "fleet: unknown command '$cmd'" >&2; usage ;;
esac
