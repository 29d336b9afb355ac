use crate::plan::FileChange;
use crate::ssh::{shell_quote, Connection, SshError};

/// Replaces a file atomically: the new content goes to a temporary file in the same
/// directory, which is then renamed over the old one, so a run killed at any moment leaves
/// either the old file or the new one, never half of either. The first time pikube changes
/// a file it keeps the original beside it as `<file>.pikube-orig`.
pub async fn write_file(connection: &Connection, file: &FileChange) -> Result<(), SshError> {
    let path = shell_quote(&file.path);
    let script = format!(
        r#"set -e
p={path}
dir=$(dirname "$p")
base=$(basename "$p")
# Leftovers of a run that was killed between writing and renaming.
rm -f "$dir/.$base.pikube-"??????
tmp=$(mktemp "$dir/.$base.pikube-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
if [ -e "$p" ]; then
  [ -e "$p.pikube-orig" ] || cp -p "$p" "$p.pikube-orig"
  chown --reference="$p" "$tmp" 2>/dev/null || true
  chmod --reference="$p" "$tmp" 2>/dev/null || true
else
  chmod {mode:o} "$tmp" 2>/dev/null || true
fi
sync "$tmp" 2>/dev/null || sync
mv -f "$tmp" "$p"
trap - EXIT
sync "$dir" 2>/dev/null || sync
"#,
        mode = file.mode
    );
    connection
        .run_privileged(
            &format!("writing {}", file.path),
            &script,
            file.after.as_bytes(),
        )
        .await?;
    Ok(())
}
