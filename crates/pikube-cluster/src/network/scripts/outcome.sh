# shellcheck shell=sh
# pikube: what became of the last switch on this node (after a rollback, it says so).
cat /var/lib/pikube/network/outcome 2>/dev/null || echo none
