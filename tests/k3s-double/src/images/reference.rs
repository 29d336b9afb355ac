//! Image names as containerd stores them: a docker-save archive's `RepoTags` are normalised
//! the way `docker.ParseNormalizedNamed` does (`busybox` is `docker.io/library/busybox:latest`,
//! `rancher/pause:3.6` is `docker.io/rancher/pause:3.6`, a name whose first part looks like a
//! host keeps it).

/// The full name of `name`, or why it is no image name.
pub fn normalize(name: &str) -> Result<String, String> {
    let invalid = |why: &str| Err(format!("invalid reference format {name:?}: {why}"));
    if name.is_empty() {
        return invalid("empty");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_ascii_uppercase())
    {
        return invalid("repository name must be lowercase, without spaces");
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => (first.to_string(), rest.to_string()),
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    // A digest reference keeps its digest; otherwise a missing tag is `latest`.
    if path.contains('@') {
        return Ok(format!("{domain}/{path}"));
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.is_empty() || path.split('/').any(str::is_empty) {
        return invalid("empty path component");
    }
    if last.contains(':') {
        Ok(format!("{domain}/{path}"))
    } else {
        Ok(format!("{domain}/{path}:latest"))
    }
}

/// A first component that names a registry host: has a dot or a port, or is `localhost`.
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn names_are_normalised_as_containerd_stores_them() {
        for (given, stored) in [
            ("busybox", "docker.io/library/busybox:latest"),
            (
                "rancher/mirrored-pause:3.6",
                "docker.io/rancher/mirrored-pause:3.6",
            ),
            (
                "docker.io/rancher/klipper-lb:v0.4",
                "docker.io/rancher/klipper-lb:v0.4",
            ),
            (
                "127.0.0.1:5000/pikube/demo:1",
                "127.0.0.1:5000/pikube/demo:1",
            ),
            ("localhost/demo", "localhost/demo:latest"),
        ] {
            assert_eq!(normalize(given).unwrap(), stored, "{given}");
        }
        for bad in ["", "Busybox", "a//b", "a b"] {
            assert!(normalize(bad)
                .unwrap_err()
                .contains("invalid reference format"));
        }
    }
}
