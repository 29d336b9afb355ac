use std::path::PathBuf;

/// What went wrong with a kubeconfig. Never carries the credentials themselves: only names,
/// field paths and parse locations.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// `what` says which text: "k3s.yaml" or "the existing kubeconfig".
    #[error("the cluster name is empty")]
    EmptyName,
    #[error("{what} is not YAML: {source}")]
    NotYaml {
        what: &'static str,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{what} is not a kubeconfig: its top level is {found}, not a mapping")]
    NotAMapping {
        what: &'static str,
        found: &'static str,
    },
    #[error("{what}: `{field}` is {found}, not {expected}")]
    WrongType {
        what: &'static str,
        field: String,
        found: &'static str,
        expected: &'static str,
    },
    /// k3s names its cluster, user and context `default`; anything else is not a k3s.yaml.
    #[error("k3s.yaml has no {kind} named `default` in `{list}` (found: {found})")]
    NoDefault {
        kind: &'static str,
        list: &'static str,
        found: String,
    },
    #[error("k3s.yaml: context `default` refers to {field} `{found}`, expected `default`")]
    UnexpectedReference { field: &'static str, found: String },
    /// Only for YAML kubectl could not read either, such as a list or mapping used as a key.
    #[error("the kubeconfig holds YAML that cannot be written back (a list or mapping as a key)")]
    UnsupportedYaml,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{lock} exists: kubectl or another pikube is changing this kubeconfig; \
         if neither is running, the lock was left behind: remove it and run again"
    )]
    Locked { lock: PathBuf },
    /// Wraps a merge error with the file it came from.
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<KubeconfigError>,
    },
}
