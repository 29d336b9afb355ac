# shellcheck shell=sh disable=SC2154,SC1091 # PK_* come from the settings pikube wrote beside it
# pikube: the new configuration put in place and made live (run by systemd-run, after the
# rollback timer is set).
set -u
cd /var/lib/pikube/network || exit 1
. ./settings
mkdir -p "$(dirname "$PK_TARGET")"
tmp=$PK_TARGET.pikube-new
if [ "$PK_OWNED" = no ] && [ -f "$PK_TARGET" ]; then
  # A file of the user's (dhcpcd.conf, 0664 root:netdev on Raspberry Pi OS) keeps its
  # owner and mode: only its content changes.
  cp -p "$PK_TARGET" "$tmp" && cat new > "$tmp"
else
  cp new "$tmp" && chown 0:0 "$tmp" && chmod "$PK_MODE" "$tmp"
fi && mv -f "$tmp" "$PK_TARGET" || exit 1
case $PK_STACK in
  network-manager) nmcli connection reload && nmcli connection up id "$PK_PROFILE" ;;
  # dhcpcd.conf says `persistent` (Debian's and Raspberry Pi OS' do): a restart alone
  # would leave the old address beside the new one, so the interface starts empty, as
  # at boot.
  dhcpcd) systemctl stop dhcpcd; ip addr flush dev "$PK_INTERFACE" scope global; systemctl start dhcpcd ;;
  netplan) netplan apply ;;
esac
