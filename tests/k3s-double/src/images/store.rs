//! The images containerd holds after the imports, kept as a list of names (containerd's own
//! store is `<data-dir>/agent/containerd`; the double keeps only the names there), and the
//! minimal `k3s ctr images ls -q` that prints them, as K3s' bundled ctr does for its default
//! namespace `k8s.io`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The double's record of the image names in containerd's `k8s.io` namespace.
fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("agent/containerd/k3s-double-images.txt")
}

/// The names imported so far (they outlive restarts, as containerd's store does).
pub fn load(data_dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(file(data_dir))
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// Writes `names` whole (a temporary file renamed over the old list).
pub fn save(data_dir: &Path, names: &BTreeSet<String>) -> Result<(), String> {
    let path = file(data_dir);
    let dir = path.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text: String = names.iter().map(|name| format!("{name}\n")).collect();
    let temporary = path.with_extension("txt.tmp");
    std::fs::write(&temporary, text).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `ctr [-n|--namespace NS] images|image|i ls|list -q|--quiet`: one image name a line. Any
/// other use is refused, naming what the double supports. Returns the exit code.
pub fn ctr(args: &[String], data_dir: &Path) -> i32 {
    match quiet_listing(args) {
        Ok(namespace) => {
            if namespace == "k8s.io" {
                for name in load(data_dir) {
                    println!("{name}");
                }
            }
            0
        }
        Err(e) => {
            eprintln!("k3s-double: {e}; the double supports only `k3s ctr images ls -q`");
            1
        }
    }
}

/// The namespace a supported `ctr` command line lists.
fn quiet_listing(args: &[String]) -> Result<String, String> {
    let mut namespace = std::env::var("CONTAINERD_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "k8s.io".to_string());
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some(value) = arg.strip_prefix("--namespace=") {
            namespace = value.to_string();
        } else if arg == "-n" || arg == "--namespace" {
            namespace = iter
                .next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))?;
        } else {
            words.push(arg.as_str());
        }
    }
    match words.as_slice() {
        ["images" | "image" | "i", "ls" | "list", "-q" | "--quiet"] => Ok(namespace),
        _ => Err(format!("unsupported `ctr {}`", args.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn only_the_quiet_listing_is_understood() {
        assert_eq!(quiet_listing(&args("images ls -q")).unwrap(), "k8s.io");
        assert_eq!(
            quiet_listing(&args("-n default i list --quiet")).unwrap(),
            "default"
        );
        assert_eq!(
            quiet_listing(&args("--namespace=x image ls -q")).unwrap(),
            "x"
        );
        for unsupported in ["images ls", "images rm a", "containers ls -q", "-n"] {
            assert!(quiet_listing(&args(unsupported)).is_err(), "{unsupported}");
        }
    }
}
