//! `k3s kubectl ...` (and a `kubectl` link to k3s): the real kubectl, with the admin
//! kubeconfig k3s wrote when neither `--kubeconfig` nor `$KUBECONFIG` names another, as
//! k3s' own kubectl wrapper does.

use std::os::unix::process::CommandExt;

pub fn exec(args: &[String]) -> ! {
    let program = crate::components::program("kubectl").unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut command = std::process::Command::new(&program);
    command.args(args);
    let explicit = args
        .iter()
        .any(|a| a == "--kubeconfig" || a.starts_with("--kubeconfig="));
    let from_env = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    if !explicit && !from_env {
        command.env("KUBECONFIG", crate::roots::kubeconfig());
    }
    let error = command.exec();
    eprintln!("failed to run {}: {error}", program.display());
    std::process::exit(1)
}
