# shellcheck shell=sh disable=SC2154,SC1091 # PK_* come from the settings pikube wrote beside it
# pikube: the old configuration put back, because pikube did not confirm it reached the
# node at its new address in time (run by the timer the switch armed).
set -u
cd /var/lib/pikube/network || exit 1
. ./settings
echo rolling-back > outcome
if [ -f old ]; then
  cp -p old "$PK_TARGET.pikube-new" && mv -f "$PK_TARGET.pikube-new" "$PK_TARGET"
else
  rm -f "$PK_TARGET"
fi
case $PK_STACK in
  network-manager)
    nmcli connection reload
    previous=$(cat previous-profile 2>/dev/null)
    if [ -n "$previous" ]; then nmcli connection up uuid "$previous"
    else nmcli device connect "$PK_INTERFACE"; fi ;;
  # dhcpcd.conf says `persistent` (Debian's and Raspberry Pi OS' do): a restart alone
  # would leave the old address beside the new one, so the interface starts empty, as
  # at boot.
  dhcpcd) systemctl stop dhcpcd; ip addr flush dev "$PK_INTERFACE" scope global; systemctl start dhcpcd ;;
  netplan) netplan apply ;;
esac
echo rolled-back > outcome
