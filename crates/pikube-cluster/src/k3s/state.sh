# shellcheck shell=sh disable=SC2154 # pk_nl and friends come from preamble.sh
# pikube k3s state (run as root; the helpers come from pikube-pi's preamble.sh).
# Reads only, but for its own cache of SHA-256 sums (below). Secret files (the env files)
# are reported as SHA-256 digests, never as content; the server and agent tokens are read
# because joining nodes need them.

umask 077

# pk_sum FILE: FILE's SHA-256 in $pk_sum. The k3s binary (70 MB) and the airgap image
# archives (hundreds of MB) were hashed on every plan, seconds of a Pi's CPU each time, so
# a sum is kept in $pk_sums next to the file's device, inode, size and change time, and
# used again while all four are the same. No tool can set a change time, and pikube and
# install.sh replace these files by rename (a new inode), so a changed file is hashed
# again. A hit costs one stat; the lookup itself is shell builtins.
pk_sums=/var/lib/pikube/sha256sums
pk_sum() {
  pk_sum=
  # Without stat's -c (an old BusyBox), every sum is computed and none kept.
  pk_key=$(stat -c '%d:%i:%s:%z' -- "$1" 2>/dev/null </dev/null) && pk_key="$1|$pk_key"
  pk_keep=
  if [ -n "$pk_key" ] && [ -f "$pk_sums" ]; then
    while IFS= read -r pk_entry; do
      case $pk_entry in
        *" $pk_key") pk_sum=${pk_entry%% *}; return 0 ;;
        *" $1|"*) ;;
        *) pk_keep="$pk_keep$pk_entry$pk_nl" ;;
      esac
    done < "$pk_sums"
  fi
  pk_sum=$(sha256sum -- "$1" 2>/dev/null </dev/null) || return 1
  pk_sum=${pk_sum%% *}
  [ -n "$pk_key" ] || return 0
  [ -d "${pk_sums%/*}" ] || mkdir -m 0700 "${pk_sums%/*}" || return 0
  printf '%s%s %s\n' "$pk_keep" "$pk_sum" "$pk_key" > "$pk_sums.$$" \
    && mv -f "$pk_sums.$$" "$pk_sums" || rm -f "$pk_sums.$$"
  return 0
}

pk_sha() {
  if [ -f "$2" ] && pk_sum "$2"; then pk_value "$1" "$pk_sum"
  else pk_absent "$1"; fi
}

# pk_link NAME: where /usr/local/bin/NAME points, and whether another NAME is on PATH.
pk_link() {
  if [ -L "/usr/local/bin/$1" ]; then pk_value "link_$1" "$(readlink "/usr/local/bin/$1")"
  elif [ -e "/usr/local/bin/$1" ]; then pk_value "link_$1" "(a file)"
  else pk_absent "link_$1"; fi
  pk_other=
  pk_ifs=$IFS; IFS=:
  for pk_dir in $PATH; do
    if [ "$pk_dir" != /usr/local/bin ] && [ -x "$pk_dir/$1" ]; then pk_other="$pk_dir/$1"; break; fi
  done
  IFS=$pk_ifs
  pk_value "other_$1" "$pk_other"
}

pk_line '@@pikube-facts v1'
pk_sha binary_sha256 /usr/local/bin/k3s
pk_file config /etc/rancher/k3s/config.yaml
pk_file registration /etc/rancher/k3s/config.yaml.d/90-pikube-registration.yaml
pk_file adopted /etc/rancher/k3s/config.yaml.d/10-pikube-adopted.yaml
pk_file killall /usr/local/bin/k3s-killall.sh
# Secret (registry passwords): its digest, and its first line (pikube's marker or not).
pk_sha registries_sha256 /etc/rancher/k3s/registries.yaml
if [ -f /etc/rancher/k3s/registries.yaml ]; then
  pk_cmd registries_head head -n 1 /etc/rancher/k3s/registries.yaml
else pk_absent registries_head; fi
# k3s-node: the agent unit of older k3s-ansible playbooks (another tool's install).
for pk_svc in k3s k3s-agent k3s-node; do
  pk_n=$(echo "$pk_svc" | tr - _)
  pk_file "unit_$pk_n" "/etc/systemd/system/$pk_svc.service"
  pk_sha "env_sha256_$pk_n" "/etc/systemd/system/$pk_svc.service.env"
  # The names of its variables, never their values (an adoption keeps some by name).
  if [ -f "/etc/systemd/system/$pk_svc.service.env" ]; then
    pk_cmd "env_names_$pk_n" sed -n \
      's/^[[:space:]]*\(export[[:space:]][[:space:]]*\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)=.*/\2/p' \
      "/etc/systemd/system/$pk_svc.service.env"
  else pk_absent "env_names_$pk_n"; fi
  pk_file "uninstall_$pk_n" "/usr/local/bin/$pk_svc-uninstall.sh"
done
# The services in one systemctl (pikube-pi's units.rs reads it).
pk_cmd units systemctl show --property=Id,LoadState,UnitFileState,ActiveState k3s k3s-agent k3s-node
for pk_tool in kubectl crictl ctr; do pk_link "$pk_tool"; done
pk_file server_token /var/lib/rancher/k3s/server/token
# Embedded etcd's data: with it on disk K3s ignores cluster-init and server (it restarts
# from its own member), so pikube neither adds the one nor restarts for the other.
if [ -d /var/lib/rancher/k3s/server/db/etcd ]; then pk_value etcd_data yes
else pk_absent etcd_data; fi
# A file once agent-token is set; else a symlink to token (the server token, not wanted).
if [ -L /var/lib/rancher/k3s/server/agent-token ]; then pk_absent agent_token
else pk_file agent_token /var/lib/rancher/k3s/server/agent-token; fi
# pikube's airgap image archives, one "SHA256 NAME" line each (others are the user's).
pk_images=
for pk_f in /var/lib/rancher/k3s/agent/images/pikube-airgap-images.*; do
  if [ -f "$pk_f" ] && pk_sum "$pk_f"; then
    pk_images="$pk_images$pk_sum ${pk_f##*/}$pk_nl"
  fi
done
pk_section images 0 "$pk_images"
pk_line '@@pikube-facts end'
