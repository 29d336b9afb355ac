//! The name of the instance that answers a request.

/// The pod or host name: `POD_NAME` (set from the Downward API in Kubernetes), else
/// `HOSTNAME`, else the kernel's host name.
pub fn instance_name() -> String {
    ["POD_NAME", "HOSTNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned())
}
