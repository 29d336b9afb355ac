//! K3s' deploy controller: every `.yaml`, `.yml` and `.json` file in `server/manifests`
//! (subfolders too) is applied at start and again whenever its content changes; a file
//! with `<file>.skip` beside it is left alone; one that fails is tried again until it
//! applies (a Secret whose namespace another file creates). A removed file's objects stay,
//! as in K3s. The double applies with the real kubectl, as the cluster admin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{components, log};

pub struct Controller {
    pub manifests: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Controller {
    pub fn spawn(self) {
        std::thread::spawn(move || {
            // What each file held when it last applied.
            let mut applied: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
            // What each failing file held when it last failed: its error is logged once.
            let mut failing: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
            loop {
                for file in manifests(&self.manifests) {
                    let Ok(content) = std::fs::read(&file) else {
                        continue;
                    };
                    let sum = Sha256::digest(&content).to_vec();
                    if applied.get(&file) == Some(&sum) {
                        continue;
                    }
                    match self.apply(&file) {
                        Ok(()) => {
                            log::info(&format!("Applied manifest {}", file.display()));
                            failing.remove(&file);
                            applied.insert(file, sum);
                        }
                        Err(e) => {
                            if failing.get(&file) != Some(&sum) {
                                log::error(&format!(
                                    "Failed to apply manifest {}: {e}",
                                    file.display()
                                ));
                            }
                            failing.insert(file, sum);
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        });
    }

    fn apply(&self, file: &Path) -> Result<(), String> {
        let args: Vec<String> = vec![
            format!("--kubeconfig={}", self.kubeconfig.display()),
            "apply".into(),
            "-f".into(),
            file.display().to_string(),
        ];
        components::run("kubectl", &args).map(drop)
    }
}

/// The files K3s would apply, in lexical order.
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(manifests(&path));
            continue;
        }
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        let mut skip = path.clone().into_os_string();
        skip.push(".skip");
        if manifest && !Path::new(&skip).exists() {
            files.push(path);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_yaml_and_json_files_in_any_folder_without_a_skip_file() {
        let dir = std::env::temp_dir().join(format!("k3s-double-deploy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in [
            "a.yaml",
            "b.yml",
            "c.json",
            "d.txt",
            "e.yaml",
            "e.yaml.skip",
            "sub/f.yaml",
        ] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let found: Vec<String> = manifests(&dir)
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(found, ["a.yaml", "b.yml", "c.json", "sub/f.yaml"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
