//! Reading one image archive as containerd's import does: decompressed by its name's suffix,
//! then either an OCI image layout (`index.json`, blobs under `blobs/<algorithm>/<hex>`) or a
//! `docker save` archive (`manifest.json` with `Config`, `RepoTags`, `Layers`). The result is
//! the names the import gives the images; anything else is an error naming what is wrong.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::reference;

/// The decompression K3s applies, by file-name suffix (pkg/agent/containerd, wharfie's
/// tarfile). lz4 and bzip2 are accepted by K3s but not read by the double.
pub const SUFFIXES: [&str; 8] = [
    ".tar", ".tar.lz4", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar.zst", ".tzst",
];

/// JSON documents (index, manifests, configs) are small; larger entries are only hashed.
const KEPT_BYTES: u64 = 4 << 20;

/// One regular file of the archive: its SHA-256 and, if small, its bytes.
struct Entry {
    sha256: String,
    bytes: Option<Vec<u8>>,
}

/// The image names an import of the archive at `path` creates, in archive order.
pub fn read(path: &Path) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let entries = if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        let decoder = zstd::stream::read::Decoder::new(file).map_err(|e| format!("zstd: {e}"))?;
        entries(decoder)?
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        entries(flate2::read::MultiGzDecoder::new(file))?
    } else if name.ends_with(".tar") {
        entries(file)?
    } else {
        return Err(format!(
            "the k3s double does not decompress {name} (k3s does: lz4, bzip2)"
        ));
    };
    names(&entries)
}

/// Every regular file in the tar stream, by its path without a leading `./`.
fn entries(stream: impl Read) -> Result<HashMap<String, Entry>, String> {
    let mut archive = tar::Archive::new(stream);
    let mut found = HashMap::new();
    for entry in archive
        .entries()
        .map_err(|e| format!("reading the tar: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("reading the tar: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| format!("reading the tar: {e}"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let keep = entry.size() <= KEPT_BYTES;
        let mut hasher = Sha256::new();
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let n = entry
                .read(&mut buffer)
                .map_err(|e| format!("reading {path} in the tar: {e}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            if keep {
                bytes.extend_from_slice(&buffer[..n]);
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        found.insert(
            path,
            Entry {
                sha256,
                bytes: keep.then_some(bytes),
            },
        );
    }
    Ok(found)
}

fn names(entries: &HashMap<String, Entry>) -> Result<Vec<String>, String> {
    let mut names = if entries.contains_key("index.json") {
        oci_names(entries)?
    } else if entries.contains_key("manifest.json") {
        docker_names(entries)?
    } else {
        return Err(
            "unrecognized image format: no index.json (OCI layout) nor manifest.json (docker save)"
                .to_string(),
        );
    };
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    Ok(names)
}

fn json<'a, T: Deserialize<'a>>(
    entries: &'a HashMap<String, Entry>,
    path: &str,
) -> Result<T, String> {
    let entry = entries
        .get(path)
        .ok_or_else(|| format!("{path} not found in the archive"))?;
    let bytes = entry
        .bytes
        .as_deref()
        .ok_or_else(|| format!("{path}: too large for a JSON document"))?;
    serde_json::from_slice(bytes).map_err(|e| format!("{path}: {e}"))
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

/// An OCI layout: every blob must have the digest its path names (containerd verifies what it
/// writes), each manifest the index lists must be there, and the names are the annotations.
fn oci_names(entries: &HashMap<String, Entry>) -> Result<Vec<String>, String> {
    for (path, entry) in entries {
        let Some(hex) = path.strip_prefix("blobs/sha256/") else {
            continue;
        };
        if entry.sha256 != hex {
            return Err(format!(
                "unexpected commit digest sha256:{}, expected sha256:{hex}: failed precondition",
                entry.sha256
            ));
        }
    }
    let index: Index = json(entries, "index.json")?;
    let mut names = Vec::new();
    for manifest in &index.manifests {
        let (algorithm, hex) = manifest
            .digest
            .split_once(':')
            .ok_or_else(|| format!("index.json: invalid digest {:?}", manifest.digest))?;
        if !entries.contains_key(&format!("blobs/{algorithm}/{hex}")) {
            return Err(format!("content digest {}: not found", manifest.digest));
        }
        // containerd names an image by its own annotation; the OCI ref name only when it is
        // a full reference (a bare tag such as `latest` names nothing without a translator).
        let containerd_name = manifest.annotations.get("io.containerd.image.name");
        let oci_name = manifest
            .annotations
            .get("org.opencontainers.image.ref.name")
            .filter(|name| name.contains('/') || name.contains(':'));
        if let Some(name) = containerd_name.or(oci_name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// A `docker save` archive: each image's config must be JSON and its layers present.
fn docker_names(entries: &HashMap<String, Entry>) -> Result<Vec<String>, String> {
    let manifests: Vec<DockerManifest> = json(entries, "manifest.json")?;
    let mut names = Vec::new();
    for manifest in manifests {
        json::<serde_json::Value>(entries, &manifest.config)?;
        for layer in &manifest.layers {
            if !entries.contains_key(layer.trim_start_matches("./")) {
                return Err(format!("layer {layer} not found in the archive"));
            }
        }
        for tag in manifest.repo_tags.unwrap_or_default() {
            names.push(reference::normalize(&tag)?);
        }
    }
    Ok(names)
}
