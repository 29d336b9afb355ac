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
        source: yaml_serde::Error,
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
    /// A field the allow-list does not know, in an entry pikube would copy into the user's
    /// kubeconfig. `entry` is its path, such as `users[default].user`.
    #[error(
        "`{entry}` has `{field}`, which K3s does not write: pikube copies only {allowed}, and \
         refuses the rest rather than let a node put commands, proxies or trust settings into \
         this machine's kubeconfig"
    )]
    NotAllowed {
        entry: String,
        field: String,
        allowed: &'static str,
    },
    #[error("`{entry}` has no `{field}`, which K3s always writes")]
    MissingField { entry: String, field: &'static str },
    /// The user entry holds neither of the two shapes K3s writes.
    #[error(
        "`{entry}` holds {found}; K3s writes a client certificate with its key \
         (client-certificate-data, client-key-data) or a token"
    )]
    Credentials { entry: String, found: &'static str },
    #[error("`{entry}.{field}` is not base64")]
    NotBase64 { entry: String, field: &'static str },
    /// The cluster token pins a CA and this one is not it.
    #[error(
        "the CA in `{entry}.certificate-authority-data` has SHA-256 {found}, but {token} pins \
         {pinned} for this cluster: this is not the cluster's CA"
    )]
    CaMismatch {
        entry: String,
        found: String,
        pinned: String,
        token: PathBuf,
    },
    /// K3s hashes a single CA certificate as the file's bytes, but a bundle by its root
    /// certificate, which takes chain verification pikube does not do.
    #[error(
        "`{entry}.certificate-authority-data` holds {count} PEM certificates, so its hash \
         cannot be checked against the cluster token in {token} (pikube checks the single \
         CA certificate K3s generates)"
    )]
    CaNotCheckable {
        entry: String,
        count: usize,
        token: PathBuf,
    },
    #[error(
        "the cluster token in {token} starts with K10 but has no valid CA hash (64 hex digits \
         before `::`)"
    )]
    MalformedToken { token: PathBuf },
    /// A problem with the kubeconfig read from a node. The problem is part of the message
    /// and deliberately not a `source`: `pikube` prints the chain of sources too, and would
    /// print it twice.
    #[error("{node}: {file}: {problem}")]
    FromNode {
        node: String,
        file: &'static str,
        problem: Box<KubeconfigError>,
    },
    /// Wraps a merge error with the file it came from.
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<KubeconfigError>,
    },
}
