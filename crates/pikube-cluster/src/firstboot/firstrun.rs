//! Raspberry Pi OS Bookworm's first-boot format, as Raspberry Pi Imager writes it:
//! `firstrun.sh` on the boot partition, run once by systemd because cmdline.txt names it
//! (`systemd.run=`), which then reboots; the script removes itself and its cmdline.txt
//! words. Plain POSIX sh with every value single-quoted.

use super::admin_access::{admin_access, AdminSudo};
use super::{CmdlineEdit, FirstBoot, StaticNetwork};
use crate::ssh::shell_quote;

/// The words appended to cmdline.txt (the partition is /boot/firmware once booted).
pub(super) const CMDLINE_APPEND: &str = "systemd.run=/boot/firmware/firstrun.sh \
     systemd.run_success_action=reboot systemd.unit=kernel-command-line.target";

pub(super) fn firstrun(first: &FirstBoot) -> (String, CmdlineEdit) {
    let script = format!(
        r#"#!/bin/sh
# Written by `pikube firstboot` for node {node_comment} of cluster {cluster_comment}.
# Run once at first boot (systemd.run= in cmdline.txt); removes itself when done.
set -e
NODE={node}
ADMIN={user}
BOOT=/boot/firmware
[ -f "$BOOT/cmdline.txt" ] || BOOT=/boot

# The hostname, now and for every boot.
printf '%s\n' "$NODE" > /etc/hostname
hostname "$NODE" 2>/dev/null || true
if grep -q '^127\.0\.1\.1' /etc/hosts; then
  sed -i "s/^127\.0\.1\.1.*/127.0.1.1	$NODE/" /etc/hosts
else
  printf '127.0.1.1\t%s\n' "$NODE" >> /etc/hosts
fi

# The admin user: the image's first user (uid 1000) renamed, as Imager does, or a new one.
FIRST=$(getent passwd 1000 | cut -d: -f1)
if ! getent passwd "$ADMIN" >/dev/null; then
  if [ -n "$FIRST" ]; then
    usermod -l "$ADMIN" "$FIRST"
    usermod -m -d "/home/$ADMIN" "$ADMIN"
    groupmod -n "$ADMIN" "$FIRST" 2>/dev/null || true
  else
    useradd -m -s /bin/bash "$ADMIN"
  fi
fi
for group in sudo adm; do
  if getent group "$group" >/dev/null; then usermod -aG "$group" "$ADMIN"; fi
done
# No password: the key is the way in ('*' is "none", not "locked", which sshd refuses).
usermod -p '*' "$ADMIN"
{access}
# The image's first-user wizard would ask on the console for a user we already made.
if [ -f /usr/lib/userconf-pi/userconf ]; then
  systemctl disable userconfig 2>/dev/null || true
  systemctl enable getty@tty1 2>/dev/null || true
fi
rm -f /etc/ssh/sshd_config.d/rename_user.conf

{network}# SSH on, keys only.
mkdir -p /etc/ssh/sshd_config.d
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n' > /etc/ssh/sshd_config.d/50-pikube.conf
systemctl enable ssh 2>/dev/null || systemctl enable sshd 2>/dev/null || true

# Once only.
rm -f "$BOOT/firstrun.sh"
sed -i 's| systemd\.run.*||g' "$BOOT/cmdline.txt"
exit 0
"#,
        node_comment = first.node,
        cluster_comment = first.cluster,
        node = shell_quote(&first.node),
        user = shell_quote(&first.user),
        network = first.network.as_ref().map(keyfile).unwrap_or_default(),
        access = admin_access(&first.keys, AdminSudo::NoPassword),
    );
    (
        script,
        CmdlineEdit {
            append: CMDLINE_APPEND.to_owned(),
        },
    )
}

/// The static address as a NetworkManager keyfile (Bookworm's network stack), written 0600
/// because NetworkManager ignores keyfiles others can read.
fn keyfile(network: &StaticNetwork) -> String {
    let path = crate::network::keyfile_path(&network.interface);
    format!(
        "# The static address of cluster.toml, for NetworkManager.\n\
         install -d -m 700 {dir}\n\
         cat > {path} <<'PIKUBE_KEYFILE'\n{content}PIKUBE_KEYFILE\n\
         chmod 600 {path}\n\n",
        dir = crate::network::KEYFILE_DIR,
        content = crate::network::keyfile(network),
    )
}

/// cmdline.txt with the first-run words at the end of its one line (once).
pub(super) fn with_firstrun(cmdline: &str) -> String {
    let line = cmdline.lines().next().unwrap_or("").trim_end();
    let kept: Vec<&str> = line
        .split(' ')
        .filter(|word| {
            !word.is_empty()
                && !word.starts_with("systemd.run")
                && !word.starts_with("systemd.unit=kernel-command-line")
        })
        .collect();
    format!("{} {CMDLINE_APPEND}\n", kept.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firstboot::{AuthorizedKey, BootOs};

    #[test]
    fn the_cmdline_gets_the_words_once_and_keeps_the_rest() {
        let cmdline = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootwait\n";
        let once = with_firstrun(cmdline);
        assert_eq!(
            once,
            format!("console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootwait {CMDLINE_APPEND}\n")
        );
        assert_eq!(with_firstrun(&once), once);
    }

    #[test]
    fn the_script_is_valid_sh_with_quoted_values() {
        let first = FirstBoot {
            cluster: "homelab".into(),
            node: "pi-1".parse().unwrap(),
            user: "admin".into(),
            keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop"
                .parse::<AuthorizedKey>()
                .unwrap()],
            os: BootOs::Bookworm,
            network: None,
        };
        let (script, _) = firstrun(&first);
        assert!(script.contains("NODE='pi-1'\nADMIN='admin'\n"), "{script}");
        assert!(script.contains(
            "\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop\nPIKUBE_AUTHORIZED_KEYS\n"
        ));
        for shell in ["sh", "bash"] {
            let checked = std::process::Command::new(shell)
                .args(["-n", "-c", &script])
                .status()
                .unwrap();
            assert!(checked.success(), "{shell} -n");
        }
    }
}
