//! An image reference as a Kubernetes manifest writes it (`grafana/grafana:12.1.1`,
//! `quay.io/prometheus/prometheus:v3.5.0@sha256:…`), taken apart the way containerd reads
//! it: a first component with a dot, a colon or `localhost` is the registry, else Docker
//! Hub; a Docker Hub name of one component is under `library/`; no tag is `latest`.

use std::fmt;
use std::str::FromStr;

/// The registry Docker Hub names are pulled from.
pub const DOCKER_HUB: &str = "docker.io";

/// One image, as a node's containerd pulls it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageRef {
    /// As written in the manifest, for people.
    written: String,
    /// The registry's name as mirrors are keyed by (`docker.io`, `quay.io`, `reg.lan:5000`).
    pub registry: String,
    /// The repository in that registry (`library/postgres`, `prometheus/prometheus`).
    pub repository: String,
    /// The tag, when one is written (or `latest` when neither a tag nor a digest is).
    pub tag: Option<String>,
    /// The digest it is pinned to (`sha256:` and 64 lowercase hex digits).
    pub digest: Option<String>,
}

/// A reference that is not one containerd would pull.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{written:?} is not an image reference: {problem}")]
pub struct InvalidImageRef {
    /// What was written.
    pub written: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl ImageRef {
    /// What the registry's API is asked for: the digest when pinned, else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl FromStr for ImageRef {
    type Err = InvalidImageRef;

    fn from_str(written: &str) -> Result<Self, Self::Err> {
        let invalid = |problem| InvalidImageRef {
            written: written.to_owned(),
            problem,
        };
        let (name, digest) = match written.split_once('@') {
            Some((name, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| invalid("its digest is not sha256:<64 hex digits>"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(invalid("its digest is not sha256:<64 hex digits>"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (written, None),
        };
        // A tag follows the last colon after the last slash (a colon before it is a port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let (name, tag) = name.split_at(last_slash + i);
                (name, Some(tag[1..].to_owned()))
            }
            None => (name, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !valid {
                return Err(invalid("its tag is empty or has characters a tag cannot"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let valid_repository = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
            });
        if !valid_repository {
            return Err(invalid(
                "its repository is empty or not lowercase letters, digits and . _ - between slashes",
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (tag, _) => tag,
        };
        Ok(ImageRef {
            written: written.to_owned(),
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r: ImageRef = s.parse().unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn names_are_read_as_containerd_reads_them() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            parts("postgres:17-bookworm"),
            (
                "docker.io".into(),
                "library/postgres".into(),
                some("17-bookworm"),
                None
            )
        );
        assert_eq!(
            parts("grafana/grafana"),
            (
                "docker.io".into(),
                "grafana/grafana".into(),
                some("latest"),
                None
            )
        );
        assert_eq!(
            parts("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0"),
            (
                "registry.k8s.io".into(),
                "kube-state-metrics/kube-state-metrics".into(),
                some("v2.16.0"),
                None
            )
        );
        assert_eq!(
            parts("reg.lan:5000/pikube"),
            ("reg.lan:5000".into(), "pikube".into(), some("latest"), None)
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned: ImageRef = format!("quay.io/prometheus/prometheus:v3.5.0@{digest}")
            .parse()
            .unwrap();
        assert_eq!(pinned.tag.as_deref(), Some("v3.5.0"));
        assert_eq!(
            pinned.reference(),
            digest,
            "a pinned image is asked for by digest"
        );
        let by_digest: ImageRef = format!("localhost/x@{digest}").parse().unwrap();
        assert_eq!(
            (by_digest.registry.as_str(), by_digest.tag),
            ("localhost", None)
        );
    }

    #[test]
    fn what_containerd_would_refuse_is_refused_saying_why() {
        for (written, problem) in [
            ("Grafana/grafana:1", "repository"),
            ("grafana/grafana:", "tag"),
            ("grafana/grafana@sha256:abc", "digest"),
            ("grafana/grafana@md5:x", "digest"),
            ("quay.io/", "repository"),
            ("", "repository"),
        ] {
            let err = written.parse::<ImageRef>().unwrap_err();
            assert!(err.to_string().contains(problem), "{written}: {err}");
        }
    }
}
