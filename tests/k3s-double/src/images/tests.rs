//! The import on archives in the formats real tools write: a `docker save` archive
//! (manifest.json, the config, a layer tar) and an OCI image layout (index.json, blobs named
//! by their digest), compressed as K3s' release archives are.

use super::*;
use sha2::{Digest, Sha256};

/// A scratch data directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("k3s-double-images-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("agent/images")).unwrap();
        Scratch(dir)
    }

    fn image(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join("agent/images").join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A layer: a tar holding one file.
fn layer() -> Vec<u8> {
    tar_of(&[("hello.txt", b"hello from a layer\n".to_vec())])
}

const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

fn docker_save(tags: &[&str]) -> Vec<u8> {
    let layer = layer();
    let config_name = format!("{}.json", sha(CONFIG));
    let layer_name = format!("{}/layer.tar", sha(&layer));
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": tags, "Layers": [layer_name],
    }]);
    tar_of(&[
        ("manifest.json", manifest.to_string().into_bytes()),
        (&config_name, CONFIG.to_vec()),
        (&layer_name, layer),
    ])
}

/// An OCI layout whose index names its one image by `annotations`; `tamper` changes the
/// layer after its digest was taken.
fn oci_layout(annotations: serde_json::Value, tamper: bool) -> Vec<u8> {
    let layer = layer();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", sha(CONFIG)), "size": CONFIG.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{}", sha(&layer)), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{}", sha(&manifest)), "size": manifest.len(),
                       "annotations": annotations}],
    });
    let layer_path = format!("blobs/sha256/{}", sha(&layer));
    let layer = if tamper {
        layer.iter().rev().copied().collect()
    } else {
        layer
    };
    tar_of(&[
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json", index.to_string().into_bytes()),
        (&format!("blobs/sha256/{}", sha(&manifest)), manifest),
        (&format!("blobs/sha256/{}", sha(CONFIG)), CONFIG.to_vec()),
        (&layer_path, layer),
    ])
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_docker_save_archive_names_its_repo_tags_normalised() {
    let scratch = Scratch::new("docker");
    let tags = ["rancher/mirrored-pause:3.6", "busybox"];
    let path = scratch.image(
        "k3s-airgap-images-amd64.tar.zst",
        &zstd(&docker_save(&tags)),
    );
    assert_eq!(
        archive::read(&path).unwrap(),
        [
            "docker.io/rancher/mirrored-pause:3.6",
            "docker.io/library/busybox:latest"
        ]
    );
    let plain = scratch.image("plain.tar", &docker_save(&["127.0.0.1:5000/a/b:1"]));
    assert_eq!(archive::read(&plain).unwrap(), ["127.0.0.1:5000/a/b:1"]);
}

#[test]
fn an_oci_layout_names_its_images_by_their_annotations() {
    let scratch = Scratch::new("oci");
    let named = oci_layout(
        serde_json::json!({"io.containerd.image.name": "docker.io/rancher/klipper-lb:v0.4",
                           "org.opencontainers.image.ref.name": "v0.4"}),
        false,
    );
    let path = scratch.image("a.tar.gz", &gzip(&named));
    assert_eq!(
        archive::read(&path).unwrap(),
        ["docker.io/rancher/klipper-lb:v0.4"]
    );
    let by_ref = oci_layout(
        serde_json::json!({"org.opencontainers.image.ref.name": "registry.local/demo:1"}),
        false,
    );
    let path = scratch.image("b.tgz", &gzip(&by_ref));
    assert_eq!(archive::read(&path).unwrap(), ["registry.local/demo:1"]);
    // A bare tag names nothing: the content is imported, no image is created.
    let bare = oci_layout(
        serde_json::json!({"org.opencontainers.image.ref.name": "1"}),
        false,
    );
    let path = scratch.image("c.tzst", &zstd(&bare));
    assert!(archive::read(&path).unwrap().is_empty());
}

#[test]
fn what_is_not_an_image_archive_is_refused_saying_why() {
    let scratch = Scratch::new("garbage");
    let pattern: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for (name, bytes, why) in [
        ("pattern.tar.zst", pattern.clone(), "reading the tar"),
        ("pattern.tar", pattern.clone(), "reading the tar"),
        ("pattern.tar.gz", gzip(&pattern), "reading the tar"),
        (
            "no-manifest.tar",
            tar_of(&[("hello.txt", b"hi".to_vec())]),
            "unrecognized image format",
        ),
        (
            "tampered.tar",
            oci_layout(serde_json::json!({}), true),
            "unexpected commit digest",
        ),
        ("lz4.tar.lz4", layer(), "does not decompress"),
    ] {
        let path = scratch.image(name, &bytes);
        let e = archive::read(&path).unwrap_err();
        assert!(e.contains(why), "{name}: {e}");
    }
    // A docker manifest whose layer is missing, or whose tag is no name.
    let manifest = serde_json::json!([{
        "Config": "c.json", "RepoTags": ["a:1"], "Layers": ["l/layer.tar"],
    }]);
    let missing = tar_of(&[
        ("manifest.json", manifest.to_string().into_bytes()),
        ("c.json", CONFIG.to_vec()),
    ]);
    let path = scratch.image("missing.tar", &missing);
    let e = archive::read(&path).unwrap_err();
    assert!(e.contains("layer l/layer.tar not found"), "{e}");
    let path = scratch.image("badtag.tar", &docker_save(&["Not A Name"]));
    assert!(archive::read(&path)
        .unwrap_err()
        .contains("invalid reference format"));
}

#[test]
fn the_import_keeps_the_good_archives_names_and_skips_the_rest() {
    let scratch = Scratch::new("import");
    scratch.image(
        "a.tar.zst",
        &zstd(&docker_save(&["rancher/mirrored-pause:3.6"])),
    );
    scratch.image("b.tar.zst", b"not an archive");
    scratch.image("c.txt", b"docker.io/library/busybox:latest\n");
    std::fs::create_dir_all(scratch.0.join("agent/images/sub.tar")).unwrap();
    import(&scratch.0);
    let held: Vec<_> = store::load(&scratch.0).into_iter().collect();
    assert_eq!(held, ["docker.io/rancher/mirrored-pause:3.6"]);
    // A later start with another archive adds to what containerd holds.
    scratch.image("d.tar", &docker_save(&["busybox"]));
    std::fs::remove_file(scratch.0.join("agent/images/a.tar.zst")).unwrap();
    import(&scratch.0);
    let held: Vec<_> = store::load(&scratch.0).into_iter().collect();
    assert_eq!(
        held,
        [
            "docker.io/library/busybox:latest",
            "docker.io/rancher/mirrored-pause:3.6"
        ]
    );
}

#[test]
fn only_archives_k3s_imports_are_named() {
    let scratch = Scratch::new("names");
    let dir = scratch.0.join("agent/images");
    std::fs::create_dir_all(dir.join("sub.tar")).unwrap();
    for name in [
        "a.tar.zst",
        "b.txt",
        ".k3s.pikube-abc123",
        "c.tgz",
        "d.zip",
        ".tar",
    ] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    assert_eq!(archives(&dir), [dir.join("a.tar.zst"), dir.join("c.tgz")]);
    assert!(archives(&scratch.0.join("none")).is_empty());
}

#[test]
fn durations_read_as_go_prints_them() {
    assert_eq!(go_duration(Duration::from_nanos(850)), "850ns");
    assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
    assert_eq!(go_duration(Duration::from_millis(2250)), "2.25s");
    assert_eq!(go_duration(Duration::from_micros(12)), "12µs");
}
