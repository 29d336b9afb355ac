# shellcheck shell=sh disable=SC2154 # pk_nl and pk_timeout come from preamble.sh
# pikube facts script (format v1). POSIX sh: runs under dash and bash, as the
# login user without root, and only reads. It must never fail: anything that is
# missing is reported as "@@absent NAME" instead of an error.
#
# Output format (parsed by pikube_pi::parse_facts):
#   @@pikube-facts v1                  header; anything printed before it is ignored
#   @@begin NAME                       a fact that exists ...
#   |content line                      ... each content line is prefixed with "|",
#   @@end NAME eol=1 rc=0              ... so content can never look like a marker;
#                                      eol=1: the content ended with a newline;
#                                      rc: exit status of the command (0 for files)
#   @@absent NAME                      a fact that does not exist on this node
#   @@pikube-facts end                 trailer; its absence means truncated output
#
# Every command reads /dev/null, so the script also works when fed to `sh -s`
# on stdin; stderr is discarded so a missing tool never pollutes anything.

# (the helper functions pk_section, pk_file, pk_cmd, pk_value, pk_absent are
# defined in preamble.sh, which pikube puts in front of this file)

pk_line '@@pikube-facts v1'

# First: the clock, compared with the controller's (status flags a node off by > 2 s).
pk_cmd clock date +%s.%N

# Whether NTP keeps it: timesyncd's flag file while it runs (its directory exists then),
# as the pi-exporter reads it; and timedated's flag, the kernel's, which chrony and ntpd
# set too (the parser prefers timesyncd's).
pk_cmd ntp_synchronized timedatectl show -p NTPSynchronized --value
if [ -d /run/systemd/timesync ]; then
  if [ -e /run/systemd/timesync/synchronized ]; then pk_value timesyncd_synchronized yes
  else pk_value timesyncd_synchronized no; fi
else pk_absent timesyncd_synchronized; fi

# --- system identity
if [ -f /etc/os-release ]; then pk_file os_release /etc/os-release
else pk_file os_release /usr/lib/os-release; fi
pk_file rpi_issue /etc/rpi-issue
pk_cmd uname_m uname -m
pk_cmd uname_r uname -r
pk_file hostname /proc/sys/kernel/hostname
pk_file etc_hostname /etc/hostname
pk_file etc_hosts /etc/hosts
pk_file fstab /etc/fstab
pk_file proc_swaps /proc/swaps
pk_file meminfo /proc/meminfo
pk_cmd root_df df -Pk /
# K3s' data (etcd, containerd's images) is often given its own disk, the SD card keeping the
# OS: its file system is judged on its own then.
if [ -d /var/lib/rancher/k3s ]; then pk_cmd k3s_data_df df -Pk /var/lib/rancher/k3s
else pk_absent k3s_data_df; fi
pk_file proc_cmdline /proc/cmdline
pk_file boot_id /proc/sys/kernel/random/boot_id
pk_file machine_id /etc/machine-id
pk_file uptime /proc/uptime
pk_file proc_net_route /proc/net/route
pk_file proc_net_ipv6_route /proc/net/ipv6_route
pk_cmd uid id -u
# --- network: the addresses (which program owns them is asked only of nodes given a
# static address, by the network phase)
pk_cmd ip_addresses ip -o addr show
if [ -d /run/systemd/system ]; then pk_value systemd_running yes; else pk_absent systemd_running; fi

# --- cgroups: /proc/cgroups may not list memory on 6.12+ kernels, so the
# cgroup v2 controllers file is read as well.
pk_file proc_cgroups /proc/cgroups
pk_file cgroup_controllers /sys/fs/cgroup/cgroup.controllers
pk_cmd cgroup_fs_type stat -fc %T /sys/fs/cgroup

# --- board: the device-tree model is NUL-terminated
pk_model=
for pk_f in /proc/device-tree/model /sys/firmware/devicetree/base/model; do
  if [ -r "$pk_f" ]; then
    pk_model=$(tr -d '\000' <"$pk_f" 2>/dev/null)
    [ -n "$pk_model" ] && break
  fi
done
pk_value model "$pk_model"
pk_file dmi_product_name /sys/class/dmi/id/product_name

# --- boot: both candidates; the parser decides which one is real
pk_file cmdline_txt_firmware /boot/firmware/cmdline.txt
pk_file cmdline_txt_boot /boot/cmdline.txt

# --- root device: findmnt, and the kernel's root= resolved through /dev/disk
pk_cmd root_findmnt findmnt -n -o SOURCE /
pk_root=
set -f   # word-splitting the command line must not glob
for pk_p in $(cat /proc/cmdline 2>/dev/null </dev/null); do
  case $pk_p in
    --) break ;;                     # the rest belongs to init, not the kernel
    root=*) pk_root=${pk_p#root=} ;;
  esac
done
set +f
pk_link=
case $pk_root in
  PARTUUID=*) pk_link=/dev/disk/by-partuuid/${pk_root#PARTUUID=} ;;
  UUID=*) pk_link=/dev/disk/by-uuid/${pk_root#UUID=} ;;
  PARTLABEL=*) pk_link=/dev/disk/by-partlabel/${pk_root#PARTLABEL=} ;;
  LABEL=*) pk_link=/dev/disk/by-label/${pk_root#LABEL=} ;;
  /dev/*) pk_link=$pk_root ;;
esac
pk_dev=
if [ -n "$pk_link" ] && { [ -e "$pk_link" ] || [ -L "$pk_link" ]; }; then
  pk_dev=$(readlink -f "$pk_link" 2>/dev/null </dev/null)
fi
[ -z "$pk_dev" ] && case $pk_root in /dev/*) pk_dev=$pk_root ;; esac
pk_value root_cmdline_arg "$pk_root"
pk_value root_cmdline_device "$pk_dev"
# SD card and eMMC are both mmcblkN; the MMC core reports which ("SD"/"MMC"). An eMMC
# also says how much of its rated life it has used (life_time: two JEDEC estimates).
pk_mmc=
pk_life=
for pk_f in /sys/block/mmcblk*; do
  if [ -r "$pk_f/device/type" ]; then
    pk_mmc="$pk_mmc${pk_f##*/} $(cat "$pk_f/device/type" 2>/dev/null </dev/null)$pk_nl"
  fi
  if [ -r "$pk_f/device/life_time" ]; then
    pk_life="$pk_life${pk_f##*/} $(cat "$pk_f/device/life_time" 2>/dev/null </dev/null)$pk_nl"
  fi
done 2>/dev/null
if [ -n "$pk_mmc" ]; then pk_section mmc_types 0 "$pk_mmc"; else pk_absent mmc_types; fi
if [ -n "$pk_life" ]; then pk_section mmc_life_times 0 "$pk_life"; else pk_absent mmc_life_times; fi
# sdX is USB mass storage on a Pi but SATA on a mini PC: the sysfs path tells.
pk_sd=
for pk_f in /sys/block/sd*; do
  if [ -e "$pk_f" ]; then
    pk_sd="$pk_sd${pk_f##*/} $(readlink -f "$pk_f" 2>/dev/null </dev/null)$pk_nl"
  fi
done 2>/dev/null
if [ -n "$pk_sd" ]; then pk_section sd_sysfs_paths 0 "$pk_sd"; else pk_absent sd_sysfs_paths; fi

# --- swap
pk_dphys=
for pk_f in /sbin/dphys-swapfile /usr/sbin/dphys-swapfile; do
  [ -e "$pk_f" ] && { pk_dphys=$pk_f; break; }
done
pk_value dphys_binary "$pk_dphys"
pk_file dphys_config /etc/dphys-swapfile
# rpi-swap is a systemd generator; a /dev/null symlink in /etc masks it.
pk_rpiswap=
for pk_f in /lib/systemd/system-generators/rpi-swap-generator /usr/lib/systemd/system-generators/rpi-swap-generator; do
  [ -e "$pk_f" ] && { pk_rpiswap=installed; break; }
done
if [ -n "$pk_rpiswap" ] && [ "$(readlink /etc/systemd/system-generators/rpi-swap-generator 2>/dev/null </dev/null)" = /dev/null ]; then
  pk_rpiswap=masked
fi
pk_value rpi_swap_generator "$pk_rpiswap"
pk_cmd swap_units systemctl list-units --type swap --no-legend --plain --no-pager

# --- health
if command -v vcgencmd >/dev/null 2>&1; then
  pk_cmd vcgencmd_throttled vcgencmd get_throttled
  pk_cmd vcgencmd_temp vcgencmd measure_temp
else
  pk_absent vcgencmd_throttled
  pk_absent vcgencmd_temp
fi
pk_file thermal_zone0_temp /sys/class/thermal/thermal_zone0/temp

# --- k3s
if [ -x /usr/local/bin/k3s ]; then pk_cmd k3s_version /usr/local/bin/k3s --version
else pk_absent k3s_version; fi

# --- services: every unit above in one systemctl (units.rs reads it)
pk_cmd units systemctl show --property=Id,LoadState,UnitFileState,ActiveState \
  k3s k3s-agent dphys-swapfile

# --- privileges: -n never prompts, it fails instead
pk_sudo=
if command -v sudo >/dev/null 2>&1; then
  if $pk_timeout sudo -n true >/dev/null 2>&1 </dev/null; then pk_sudo=yes; else pk_sudo=no; fi
fi
pk_value sudo_passwordless "$pk_sudo"

pk_line '@@pikube-facts end'
