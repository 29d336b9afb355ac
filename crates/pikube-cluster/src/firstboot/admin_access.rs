//! The shell that gives the admin user (`$ADMIN`, already existing) the controller's keys
//! and sudo, as root: shared by Bookworm's firstrun.sh and `pikube bootstrap`.
//! Keys already there are kept, and a key already there is not added twice.

/// How the admin user's sudo treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSudo {
    /// Passwordless: the key is the only secret.
    NoPassword,
    /// Asks for the user's own password (which pikube keeps in secrets.age).
    WithPassword,
}

use super::AuthorizedKey;

const KEYS_END: &str = "PIKUBE_AUTHORIZED_KEYS";

pub(crate) fn admin_access(keys: &[AuthorizedKey], sudo: AdminSudo) -> String {
    let rule = match sudo {
        AdminSudo::NoPassword => "ALL=(ALL) NOPASSWD:ALL",
        AdminSudo::WithPassword => "ALL=(ALL) ALL",
    };
    // Keys are single lines (checked when parsed) and never this word, so the
    // here-document ends where it should.
    let keys: String = keys
        .iter()
        .map(|key| format!("{}\n", key.as_str()))
        .filter(|line| !line.contains(KEYS_END))
        .collect();
    format!(
        r#"HOME_DIR=$(getent passwd "$ADMIN" | cut -d: -f6)
GROUP=$(id -gn "$ADMIN")
install -d -m 700 -o "$ADMIN" -g "$GROUP" "$HOME_DIR/.ssh"
touch "$HOME_DIR/.ssh/authorized_keys"
while IFS= read -r key; do
  grep -qxF -- "$key" "$HOME_DIR/.ssh/authorized_keys" || printf '%s\n' "$key" >> "$HOME_DIR/.ssh/authorized_keys"
done <<'{KEYS_END}'
{keys}{KEYS_END}
chown "$ADMIN:$GROUP" "$HOME_DIR/.ssh/authorized_keys"
chmod 600 "$HOME_DIR/.ssh/authorized_keys"

# Its sudo rule, checked before it is put in place.
SUDOERS=/etc/sudoers.d/010_pikube-admin
printf '%s {rule}\n' "$ADMIN" > "$SUDOERS.tmp"
chmod 440 "$SUDOERS.tmp"
if command -v visudo >/dev/null 2>&1; then visudo -cqf "$SUDOERS.tmp"; fi
mv -f "$SUDOERS.tmp" "$SUDOERS"
"#
    )
}
