//! Reading the Kubernetes manifests under `deploy/` as the API would: the helpers the
//! Mandelbrot and Movies manifest tests share.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The repository's root (every crate sits two levels below it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every YAML document of `path` (several per file, separated by `---`), as JSON values.
///
/// # Panics
/// When the file cannot be read or a document is not YAML: the test reading it fails there.
pub fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// The pod template's spec of a Deployment (or any workload with one).
pub fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

/// The one container of `workload`.
///
/// # Panics
/// When it has none or several.
pub fn container(workload: &Value) -> &Value {
    let containers = pod_spec(workload)["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers in {}", workload["metadata"]["name"]));
    assert_eq!(
        containers.len(),
        1,
        "{}: one container expected",
        workload["metadata"]["name"]
    );
    &containers[0]
}

/// The container's `args`.
///
/// # Panics
/// When they are not a list of strings.
pub fn args(container: &Value) -> Vec<String> {
    container["args"]
        .as_array()
        .unwrap_or_else(|| panic!("no args list in {container}"))
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_owned())
        .collect()
}

/// The value after `flag` in `args`.
pub fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// A container port given by number or by name.
///
/// # Panics
/// When the container has no port of that name.
pub fn resolve_port(container: &Value, port: &Value) -> u64 {
    if let Some(number) = port.as_u64() {
        return number;
    }
    let name = port.as_str().expect("a port is a number or a name");
    container["ports"]
        .as_array()
        .expect("the container lists its ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port named {name}"))["containerPort"]
        .as_u64()
        .expect("containerPort is a number")
}

/// Every label of `selector` is on `labels` (an empty selector selects nothing here: a
/// manifest that means everything says so some other way).
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let Some(selector) = selector.as_object() else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
