use crate::plan::UploadChange;
use crate::ssh::{shell_quote, Connection, SshError};

/// Streams a local file to a temporary file beside its destination (making the directory
/// if need be), checks its SHA-256 there (a broken transfer never becomes
/// /usr/local/bin/k3s), then renames it into place. The temporary name starts with a dot
/// and has no archive extension, so K3s never imports a half-sent image archive.
pub async fn upload(connection: &Connection, upload: &UploadChange) -> Result<(), SshError> {
    let script = format!(
        r#"set -e
umask 077
p={path}
dir=$(dirname "$p")
(umask 022; mkdir -p "$dir")
rm -f "$dir/.k3s.pikube-"??????
tmp=$(mktemp "$dir/.k3s.pikube-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
sum=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ "$sum" != {sha} ]; then
  echo "the uploaded file's sha256 is $sum, expected {sha}" >&2
  exit 1
fi
chown 0:0 "$tmp"
chmod {mode:o} "$tmp"
mv -f "$tmp" "$p"
trap - EXIT
"#,
        path = shell_quote(&upload.remote),
        sha = upload.sha256,
        mode = upload.mode,
    );
    connection
        .run_privileged_with_file(
            &format!("uploading {}", upload.remote),
            &script,
            &upload.local,
        )
        .await?;
    Ok(())
}
