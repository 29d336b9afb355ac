use std::path::PathBuf;

use crate::config::NodeName;

/// What went wrong with a kubeconfig. Never carries the credentials themselves: only names,
/// field paths and parse locations.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The cluster's name, which names the context, is empty.
    #[error("the cluster name is empty")]
    EmptyName,
    /// The text does not parse as YAML.
    #[error("{what} is not YAML: {causes}", causes = crate::error_chain::describe(cause))]
    NotYaml {
        /// Which text: "k3s.yaml" or "the existing kubeconfig".
        what: &'static str,
        /// Where the parser stopped, and why.
        cause: yaml_serde::Error,
    },
    /// The YAML is not a mapping at its top.
    #[error("{what} is not a kubeconfig: its top level is {found}, not a mapping")]
    NotAMapping {
        /// Which text: "k3s.yaml" or "the existing kubeconfig".
        what: &'static str,
        /// What it is instead.
        found: &'static str,
    },
    /// A field has another type than a kubeconfig's.
    #[error("{what}: `{field}` is {found}, not {expected}")]
    WrongType {
        /// Which text: "k3s.yaml" or "the existing kubeconfig".
        what: &'static str,
        /// The field's path.
        field: String,
        /// Its type.
        found: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// k3s names its cluster, user and context `default`; anything else is not a k3s.yaml.
    #[error("k3s.yaml has no {kind} named `default` in `{list}` (found: {found})")]
    NoDefault {
        /// `cluster`, `user` or `context`.
        kind: &'static str,
        /// The list it was looked for in.
        list: &'static str,
        /// The names found there.
        found: String,
    },
    /// The `default` context names another cluster or user than `default`.
    #[error("k3s.yaml: context `default` refers to {field} `{found}`, expected `default`")]
    UnexpectedReference {
        /// `cluster` or `user`.
        field: &'static str,
        /// The name it refers to.
        found: String,
    },
    /// Only for YAML kubectl could not read either, such as a list or mapping used as a key.
    #[error("the kubeconfig holds YAML that cannot be written back (a list or mapping as a key)")]
    UnsupportedYaml,
    /// The kubeconfig file could not be read or written.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    #[error(
        "{lock} exists: kubectl or another pikube is changing this kubeconfig; \
         if neither is running, the lock was left behind: remove it and run again"
    )]
    /// kubectl's lock file is there.
    Locked {
        /// The lock file.
        lock: PathBuf,
    },
    /// A field the allow-list does not know, in an entry pikube would copy into the user's
    /// kubeconfig. `entry` is its path, such as `users[default].user`.
    #[error(
        "`{entry}` has `{field}`, which K3s does not write: pikube copies only {allowed}, and \
         refuses the rest rather than let a node put commands, proxies or trust settings into \
         this machine's kubeconfig"
    )]
    NotAllowed {
        /// The entry's path (`users[default].user`).
        entry: String,
        /// The field refused.
        field: String,
        /// What pikube copies, in words.
        allowed: &'static str,
    },
    /// A field K3s always writes is not there.
    #[error("`{entry}` has no `{field}`, which K3s always writes")]
    MissingField {
        /// The entry's path (`users[default].user`).
        entry: String,
        /// The missing field.
        field: &'static str,
    },
    /// The user entry holds neither of the two shapes K3s writes.
    #[error(
        "`{entry}` holds {found}; K3s writes a client certificate with its key \
         (client-certificate-data, client-key-data) or a token"
    )]
    Credentials {
        /// The entry's path (`users[default].user`).
        entry: String,
        /// What it holds instead, in words.
        found: &'static str,
    },
    /// A `-data` field is not base64.
    #[error("`{entry}.{field}` is not base64")]
    NotBase64 {
        /// The entry's path (`users[default].user`).
        entry: String,
        /// The field.
        field: &'static str,
    },
    /// The cluster token pins a CA and this one is not it.
    #[error(
        "the CA in `{entry}.certificate-authority-data` has SHA-256 {found}, but {token} pins \
         {pinned} for this cluster: this is not the cluster's CA"
    )]
    CaMismatch {
        /// The entry's path (`users[default].user`).
        entry: String,
        /// The SHA-256 of the CA the file holds.
        found: crate::digest::Sha256,
        /// The SHA-256 the token pins.
        pinned: String,
        /// The cluster token file.
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
        /// The entry's path (`users[default].user`).
        entry: String,
        /// How many certificates it holds.
        count: usize,
        /// The cluster token file.
        token: PathBuf,
    },
    #[error(
        "the cluster token in {token} starts with K10 but has no valid CA hash (64 hex digits \
         before `::`)"
    )]
    /// The cluster token's CA hash is not 64 hex digits.
    MalformedToken {
        /// The cluster token file.
        token: PathBuf,
    },
    /// A problem with the kubeconfig read from a node. The problem is part of the message
    /// and deliberately not a `source`: `pikube` prints the chain of sources too, and would
    /// print it twice.
    #[error("{node}: {file}: {problem}")]
    FromNode {
        /// The server it came from.
        node: NodeName,
        /// The file on it.
        file: &'static str,
        /// What is wrong with it.
        problem: Box<KubeconfigError>,
    },
    /// Wraps a merge error with the file it came from.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        cause: Box<KubeconfigError>,
    },
}
