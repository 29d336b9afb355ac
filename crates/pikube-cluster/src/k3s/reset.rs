//! Taking k3s off a node with the uninstall script pikube installed, and, on request,
//! undoing the OS preparation from the originals pikube kept (`<file>.pikube-orig`).

use super::paths::Service;
use crate::ssh::{Connection, SshError};

/// What reset did to one node.
#[derive(Debug, Clone, Default)]
pub struct ResetReport {
    /// The K3s services uninstalled.
    pub uninstalled: Vec<&'static str>,
    /// Files put back from their `.pikube-orig` copies.
    pub restored: Vec<String>,
}

/// Runs the uninstall script of every k3s service present. `undo_preparation` also puts
/// back the original hostname, hosts, fstab and cmdline.txt and re-enables swap at boot;
/// those take effect at the next reboot.
pub async fn reset_node(
    connection: &Connection,
    undo_preparation: bool,
) -> Result<ResetReport, SshError> {
    let mut report = ResetReport::default();
    for service in [Service::Agent, Service::Server] {
        let script = service.uninstall_path();
        let output = connection
            .run_privileged(
                &format!("uninstalling {}", service.name()),
                &format!("if [ -x {script} ]; then {script} >/dev/null 2>&1; echo removed; fi"),
                b"",
            )
            .await?;
        if output.stdout.contains("removed") {
            report.uninstalled.push(service.name());
        }
    }
    if undo_preparation {
        let output = connection
            .run_privileged(
                "restoring the original OS files",
                r#"for f in /etc/hostname /etc/hosts /etc/fstab /boot/firmware/cmdline.txt /boot/cmdline.txt; do
  if [ -f "$f.pikube-orig" ]; then mv -f "$f.pikube-orig" "$f" && echo "$f"; fi
done
rm -f /etc/systemd/system-generators/rpi-swap-generator
if [ -f /etc/dphys-swapfile ]; then systemctl enable dphys-swapfile.service >/dev/null 2>&1; fi
true"#,
                b"",
            )
            .await?;
        report.restored = output.stdout.lines().map(str::to_owned).collect();
    }
    Ok(report)
}
