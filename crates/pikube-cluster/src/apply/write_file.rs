use crate::plan::{FileChange, SecretFileChange};
use crate::ssh::{shell_quote, Connection, SshError};

/// What goes where, and how it is put in place.
struct Placement<'a> {
    path: &'a str,
    mode: u32,
    /// Enforce `mode` (and root ownership) even on an existing file, keep no original.
    owned: bool,
    content: &'a [u8],
}

/// Replaces a file atomically: the new content goes to a temporary file in the same
/// directory, which is then renamed over the old one, so a run killed at any moment leaves
/// either the old file or the new one, never half of either. The first time pikube changes
/// a file it does not own, it keeps the original beside it as `<file>.pikube-orig`.
pub async fn write_file(connection: &Connection, file: &FileChange) -> Result<(), SshError> {
    let placement = Placement {
        path: &file.path,
        mode: file.mode,
        owned: file.owned,
        content: file.after.as_bytes(),
    };
    put(connection, &placement).await
}

/// As [`write_file`] for a secret: mode 0600 from the first byte (the temporary file is
/// created under umask 077), content only ever on the SSH channel's stdin.
pub async fn write_secret_file(
    connection: &Connection,
    file: &SecretFileChange,
) -> Result<(), SshError> {
    let placement = Placement {
        path: &file.path,
        mode: 0o600,
        owned: true,
        content: file.content.as_bytes(),
    };
    put(connection, &placement).await
}

async fn put(connection: &Connection, file: &Placement<'_>) -> Result<(), SshError> {
    connection
        .run_privileged(
            &format!("writing {}", file.path),
            &file.script(),
            file.content,
        )
        .await?;
    Ok(())
}

impl Placement<'_> {
    /// The script run as root on the node, with the content on its standard input. Kept
    /// apart from the SSH call so that tests can run it under a local `sh`.
    fn script(&self) -> String {
        let path = shell_quote(self.path);
        let keep = if self.owned {
            format!("chown 0:0 \"$tmp\"; chmod {:o} \"$tmp\"", self.mode)
        } else {
            format!(
                r#"if [ -e "$p" ]; then
  [ -e "$p.pikube-orig" ] || cp -p "$p" "$p.pikube-orig"
  chown --reference="$p" "$tmp" 2>/dev/null || true
  chmod --reference="$p" "$tmp" 2>/dev/null || true
else
  chmod {:o} "$tmp" 2>/dev/null || true
fi"#,
                self.mode
            )
        };
        format!(
            r#"set -e
umask 077
p={path}
dir=$(dirname "$p")
base=$(basename "$p")
(umask 022; mkdir -p "$dir")
# Leftovers of a run that was killed between writing and renaming.
rm -f "$dir/.$base.pikube-"??????
tmp=$(mktemp "$dir/.$base.pikube-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
{keep}
sync "$tmp" 2>/dev/null || sync
mv -f "$tmp" "$p"
trap - EXIT
sync "$dir" 2>/dev/null || sync
"#
        )
    }
}
