# shellcheck shell=sh disable=SC2154,SC1091 # PK_* come from the settings pikube wrote beside it
# pikube: a node's switch to its static address, armed. Runs as root over SSH and returns
# at once: the rollback timer is set first, then the switch starts in its own unit, so
# that the SSH session dying with the old address cannot stop it half-way.
set -eu
cd /var/lib/pikube/network
chmod 700 .
. ./settings

# What to put back: the file as it is now (or its absence), and the profile now active.
if [ -f "$PK_TARGET" ]; then
  cp -p "$PK_TARGET" old.tmp && mv -f old.tmp old
else
  rm -f old
fi
previous=
if [ "$PK_STACK" = network-manager ]; then
  previous=$(nmcli -t -g UUID,DEVICE connection show --active </dev/null 2>/dev/null |
    awk -F: -v d="$PK_INTERFACE" '$2 == d { print $1; exit }') || previous=
fi
printf '%s\n' "$previous" > previous-profile
rm -f outcome

# A leftover of an earlier switch would make systemd-run refuse the unit names.
for unit in pikube-network-rollback.timer pikube-network-rollback.service pikube-network-switch.service; do
  systemctl stop "$unit" 2>/dev/null || true
  systemctl reset-failed "$unit" 2>/dev/null || true
done
systemd-run --quiet --unit=pikube-network-rollback --on-active="$PK_AFTER" \
  --timer-property=AccuracySec=1s /bin/sh /var/lib/pikube/network/rollback.sh
systemd-run --quiet --unit=pikube-network-switch --collect /bin/sh /var/lib/pikube/network/switch.sh
echo armed
