#!/bin/bash
# selftest.sh — end-to-end check of tests/fleet/fleet.sh on this host (root required).
#
# Boots a 3-node lab of mixed layouts (bookworm/sd, bullseye/emmc, jump-only ubuntu/nvme),
# drives it over real SSH the way pikube will, and checks that `down --purge` leaves the host
# clean. Prints one line per check and `N passed, M failed` last; exits non-zero on failure.
#   FLEET_ID   lab id to use (default 199)
#   KEEP=1     leave the lab up at the end (for poking around)
set -u
FLEET=$(readlink -f "$(dirname "${BASH_SOURCE[0]}")/fleet.sh")
export FLEET_ID=${FLEET_ID:-199}
export FLEET_LAB=${FLEET_LAB:-$(mktemp -d /tmp/pikube-fleet-selftest.XXXXXX)}
export FLEET_REBOOT_DELAY=${FLEET_REBOOT_DELAY:-1}
LAB=$FLEET_LAB
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check()    { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
check_no() { local what=$1; shift; if "$@" >/dev/null 2>&1; then bad "$what"; else ok "$what"; fi; }
finish() {
  echo "$pass passed, $fail failed"
  [ $fail = 0 ]; exit
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

# The test's own trust store (the harness deliberately pins nothing), in a config that
# includes the lab's: `ssh -J` hands -F (not -o) on to the jump connection.
KH=$(mktemp /tmp/pikube-fleet-selftest-kh.XXXXXX)
CFG=$(mktemp /tmp/pikube-fleet-selftest-cfg.XXXXXX)
trap 'rm -f "$KH" "$KH.old" "$CFG"' EXIT
printf 'Host *\n  UserKnownHostsFile %s\n  StrictHostKeyChecking accept-new\n  BatchMode yes\nInclude %s\n' "$KH" "$LAB/ssh_config" > "$CFG"
s()  { ssh -F "$CFG" "$@" </dev/null; }
eq() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'" >&2; return 1; }; }

echo "lab $FLEET_ID in $LAB"
t=$(now)
if ! "$FLEET" up alpha beta:os=bullseye,storage=emmc,model="Raspberry Pi 3 Model B Rev 1.2",mem=944180 \
     gamma:os=ubuntu,storage=nvme,jump-only </dev/null; then
  bad "up 3 nodes"; "$FLEET" down --purge </dev/null; finish
fi
ok "up 3 nodes ($(since "$t") s)"
t=$(now); "$FLEET" up alpha beta gamma </dev/null && ok "up again is a no-op ($(since "$t") s)" || bad "up again"

# ---- client files
check "nodes.tsv"                eq "$(cat "$LAB/nodes.tsv")" "$(printf 'alpha\t10.99.%s.11\t0\nbeta\t10.99.%s.12\t0\ngamma\t10.99.%s.13\t1' $FLEET_ID $FLEET_ID $FLEET_ID)"
check "ip gamma"                 eq "$("$FLEET" ip gamma)" "10.99.$FLEET_ID.13"
check_no "ssh_config pins no host keys" grep -Eiq 'UserKnownHostsFile|StrictHostKeyChecking' "$LAB/ssh_config"

# ---- logins and sudo
check "root key login"           s root@alpha true
check "pi: sudo without password" s pi@alpha 'sudo -n true'
check_no "pwsudo: sudo -n refused" s pwsudo@alpha 'sudo -n true'
check "pwsudo: sudo with password" eq "$(s pwsudo@beta 'echo pikube-test-sudo | sudo -S -p "" id -u')" 0

# ---- fake Pi identity
check "hostname is raspberrypi"  eq "$(s alpha hostname)" raspberrypi
check "device-tree model, NUL-terminated" eq "$(s alpha 'tail -c1 /sys/firmware/devicetree/base/model | od -An -tx1 | tr -d " "; tr -d "\0" < /sys/firmware/devicetree/base/model')" "$(printf '00\nRaspberry Pi 4 Model B Rev 1.4')"
check "model option"             eq "$(s beta 'tr -d "\0" < /sys/firmware/devicetree/base/model')" "Raspberry Pi 3 Model B Rev 1.2"
check "mem option"               eq "$(s beta 'awk "/MemTotal/ {print \$2}" /proc/meminfo')" 944180
check "cpuinfo Model line"       s alpha 'grep -q "^Model.*: Raspberry Pi 4 Model B Rev 1.4" /proc/cpuinfo'
check "bookworm boot layout"     s alpha 'grep -q "root=PARTUUID=" /boot/firmware/cmdline.txt && grep -q "moved to /boot/firmware/cmdline.txt" /boot/cmdline.txt'
check "bullseye layout"          s beta 'grep -q "root=PARTUUID=" /boot/cmdline.txt && [ ! -e /boot/firmware ] && grep -q "VERSION_CODENAME=bullseye" /etc/os-release && grep -q "VERSION_ID=\"11\"" /etc/os-release'
check "root device sd"           eq "$(s alpha 'readlink -f /dev/disk/by-partuuid/$(grep -o "root=PARTUUID=[^ ]*" /proc/cmdline | cut -d= -f3)')" /dev/mmcblk0p2
check "emmc type"                eq "$(s beta cat /sys/block/mmcblk0/device/type)" MMC
check "sd type"                  eq "$(s alpha cat /sys/block/mmcblk0/device/type)" SD
check "vcgencmd"                 eq "$(s alpha 'vcgencmd get_throttled; vcgencmd measure_temp' | tr '\n' ' ')" "throttled=0x0 temp=48.3'C "
check "thermal zone"             eq "$(s alpha cat /sys/class/thermal/thermal_zone0/temp)" 48312
check "swap active at boot"      s alpha 'grep -q "^/swapfile " /proc/swaps && grep -q "^/var/swap " /proc/swaps && systemctl is-enabled dphys-swapfile'
check "memory cgroup disabled"   s alpha 'awk "\$1==\"memory\" {exit \$4}" /proc/cgroups && ! grep -qw memory /sys/fs/cgroup/cgroup.controllers'
check "systemd running"          eq "$(s alpha systemctl is-system-running)" running
check "sysctl --system in a node" s pi@alpha 'sudo sysctl --system'

# ---- jump-only ubuntu node
check_no "gamma unreachable from host" s -o ConnectTimeout=3 gamma true
check "gamma via ssh -J alpha"   eq "$(s -J alpha gamma hostname)" raspberrypi
check "gamma is ubuntu, nvme"    eq "$(s -J alpha gamma '. /etc/os-release; echo $ID; readlink -f /dev/disk/by-partuuid/*-02')" "$(printf 'ubuntu\n/dev/nvme0n1p2')"
check "gamma: no dphys-swapfile, /swapfile in fstab" s -J alpha gamma '! systemctl cat dphys-swapfile && grep -q "^/swapfile" /etc/fstab'
check "exec (nsenter) on gamma"  eq "$("$FLEET" exec gamma cat /etc/hostname </dev/null)" raspberrypi
check_no "node cannot reach host" s alpha "timeout 3 bash -c 'exec 3<>/dev/tcp/10.99.$FLEET_ID.1/22'"
check "node reaches node"        s alpha "timeout 3 bash -c 'exec 3<>/dev/tcp/10.99.$FLEET_ID.12/22'"

# ---- reboot: new boot id, cmdline.txt applied, swap choice kept
old=$(s alpha cat /proc/sys/kernel/random/boot_id)
s pi@alpha 'sudo sed -i "1s/\$/ cgroup_memory=1 cgroup_enable=memory/" /boot/firmware/cmdline.txt
  sudo systemctl disable dphys-swapfile; sudo sed -i "/\sswap\s/d" /etc/fstab; sudo reboot' >/dev/null 2>&1
t=$(now)
for _ in $(seq 300); do
  b=$(s -o ConnectTimeout=1 alpha cat /proc/sys/kernel/random/boot_id 2>/dev/null) && [ -n "$b" ] && [ "$b" != "$old" ] && break
  sleep 0.2
done
ok "sudo reboot: back over ssh after $(since "$t") s"
check "boot id changed"          test "$(s alpha cat /proc/sys/kernel/random/boot_id)" != "$old"
check "uptime restarted"         s alpha '[ $(cut -d. -f1 /proc/uptime) -lt 30 ]'
check "cmdline applied"          s alpha 'grep -q cgroup_enable=memory /proc/cmdline'
check "memory cgroup enabled"    s alpha 'awk "\$1==\"memory\" {exit !\$4}" /proc/cgroups && grep -qw memory /sys/fs/cgroup/cgroup.controllers'
check "swap stays off"           eq "$(s alpha 'grep -c / /proc/swaps')" 0
old=$(s beta cat /proc/sys/kernel/random/boot_id)
t=$(now); "$FLEET" reboot beta </dev/null && ok "fleet.sh reboot ($(since "$t") s)" || bad "fleet.sh reboot"
check "bullseye boot id changed" test "$(s beta cat /proc/sys/kernel/random/boot_id)" != "$old"

# ---- poweroff / start
s pi@beta 'sudo poweroff' >/dev/null 2>&1
for _ in $(seq 100); do "$FLEET" status | awk '$1=="beta" {print $6}' | grep -qx off && break; sleep 0.1; done
check "sudo poweroff: off"       eq "$("$FLEET" status | awk '$1=="beta" {print $6}')" off
sleep 1.5
check "stays off"                eq "$("$FLEET" status | awk '$1=="beta" {print $6}')" off
check_no "off: ssh fails"        s -o ConnectTimeout=2 beta true
t=$(now); "$FLEET" start beta </dev/null && ok "start ($(since "$t") s)" || bad "start"
check "back after start"         s beta true

# ---- rekey: a different host key at the same address
k1=$(ssh-keyscan -t ed25519 "10.99.$FLEET_ID.11" 2>/dev/null | awk '{print $3}')
"$FLEET" rekey alpha </dev/null
k2=$(ssh-keyscan -t ed25519 "10.99.$FLEET_ID.11" 2>/dev/null | awk '{print $3}')
check "rekey changes host key"   test -n "$k1" -a -n "$k2" -a "$k1" != "$k2"
check_no "pinned client refuses after rekey" s -o StrictHostKeyChecking=yes alpha true

# ---- cut / heal
ssh-keygen -R "10.99.$FLEET_ID.11" -f "$KH" >/dev/null 2>&1
"$FLEET" cut beta
check_no "cut: host cannot reach beta" s -o ConnectTimeout=2 beta true
check_no "cut: alpha cannot reach beta" s alpha "timeout 2 bash -c 'exec 3<>/dev/tcp/10.99.$FLEET_ID.12/22'"
"$FLEET" heal beta
check "heal: beta back"          s beta true

check "status lists 3 nodes"     eq "$("$FLEET" status | tail -n +2 | wc -l)" 3

if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: lab left up in $LAB"; finish; fi

# ---- down --purge: nothing left on the host
"$FLEET" down --purge </dev/null && ok "down --purge" || bad "down --purge"
check_no "no mounts left"        grep -q "$LAB" /proc/self/mountinfo
check_no "no netns left"         sh -c "ip netns list | grep -q '^pkf$FLEET_ID-'"
check_no "no links left"         sh -c "ip -o link | grep -Eq ' pkf${FLEET_ID}[:@]| pk${FLEET_ID}n[0-9]+@'"
check_no "no cgroups left"       sh -c "ls -d /sys/fs/cgroup/unified/pikube-fleet-$FLEET_ID /sys/fs/cgroup/pikube-fleet-$FLEET_ID 2>/dev/null | grep -q ."
check_no "no nft tables left"    sh -c "chroot \${PIKUBE_FLEET_CACHE:-/var/cache/pikube-fleet}/rootfs nft list tables | grep -q pikube_fleet_$FLEET_ID\$"
supervisors() { local p; for p in $(pgrep -f "fleet.sh _supervise"); do grep -qsz "^FLEET_LAB=$LAB\$" /proc/$p/environ && echo $p; done; }
check "no node supervisors left" eq "$(supervisors)" ""
check_no "lab dir removed"       test -e "$LAB"
finish
