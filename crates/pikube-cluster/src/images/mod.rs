//! The container images the cluster's add-ons (or the operator's manifests) run, and
//! whether every node can run them:
//! each image asked of its registry (through `[k3s.registries]` mirrors, as the nodes would)
//! for the platforms it is published for, and a pinned digest checked against what the
//! registry serves. A Pi on a 64-bit OS needs linux/arm64, one on 32-bit Raspberry Pi OS
//! linux/arm/v7, a mini PC linux/amd64; an image without a node's platform never starts
//! there ("exec format error"), which is the commonest way a Pi cluster's add-on fails.

mod auth;
mod platform;
mod reference;
mod registry;

pub use platform::Platform;
pub use reference::{ImageRef, InvalidImageRef};
pub use registry::{RegistryClient, RegistryError, Resolved};

use serde::Serialize;

use crate::addons::{monitoring_files, AddonFile};
use crate::config::{Arch, ClusterConfig};

/// An image something runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedImage {
    /// The image.
    pub image: ImageRef,
    /// What runs it: an add-on as cluster.toml names it, a manifest file, `--image`.
    pub source: String,
}

/// A manifest line naming what is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct BadImageLine {
    /// Its line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: InvalidImageRef,
}

/// The images a manifest's text names (`image:` keys, a container's or an init
/// container's; a `#` comment is not read), with their lines.
pub fn images_in(text: &str) -> Result<Vec<(usize, ImageRef)>, BadImageLine> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start().trim_start_matches("- ").trim_start();
        let Some(value) = line.strip_prefix("image:") else {
            continue;
        };
        let value = value.split(" #").next().unwrap_or(value);
        let value = value.trim().trim_matches(['"', '\'']);
        let image = value.parse().map_err(|problem| BadImageLine {
            line: index + 1,
            problem,
        })?;
        found.push((index + 1, image));
    }
    Ok(found)
}

/// Adds `image` to `used` unless it is there already.
pub fn add_image(used: &mut Vec<UsedImage>, image: ImageRef, source: &str) {
    if !used.iter().any(|u| u.image == image) {
        used.push(UsedImage {
            image,
            source: source.to_owned(),
        });
    }
}

/// Every image the add-ons cluster.toml turns on run.
pub fn addon_images(config: &ClusterConfig) -> Result<Vec<UsedImage>, BadImageLine> {
    let mut files = Vec::new();
    if let Some(monitoring) = &config.addons.monitoring {
        // The password goes into the secret file only, which holds no image.
        files.extend(monitoring_files(monitoring, ""));
    }
    images_of(&files)
}

/// Every image the files run (a container's or an init container's), each once, in order.
/// The secret files hold no containers and are not read.
pub fn images_of(files: &[AddonFile]) -> Result<Vec<UsedImage>, BadImageLine> {
    let mut used: Vec<UsedImage> = Vec::new();
    for file in files.iter().filter(|file| file.secret.is_none()) {
        for (_, image) in images_in(&file.content)? {
            add_image(&mut used, image, file.addon);
        }
    }
    Ok(used)
}

/// What the check found for one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    /// The image and its add-on.
    #[serde(flatten)]
    pub used: UsedImage,
    /// `ok`, `missing` (a node's platform is not published) or `error` (not resolved).
    pub verdict: ImageVerdict,
    /// What the tag (or pinned digest) names, when resolved.
    pub digest: Option<String>,
    /// Whether that is a multi-platform index.
    pub index: bool,
    /// The platforms published.
    pub platforms: Vec<Platform>,
    /// The nodes' platforms it lacks.
    pub missing: Vec<Platform>,
    /// The endpoint that answered.
    pub endpoint: Option<String>,
    /// Why it could not be resolved: each endpoint's answer.
    pub errors: Vec<String>,
}

/// One image's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageVerdict {
    /// Published for every platform asked for.
    Ok,
    /// Resolved, but without an image for some node's platform.
    Missing,
    /// Not resolved at any endpoint, or not what its pinned digest says.
    Error,
}

impl ImageCheck {
    /// The check's verdict on `used` for nodes of the `archs` given.
    pub fn new(
        used: UsedImage,
        archs: &[Arch],
        result: Result<Resolved, Vec<RegistryError>>,
    ) -> ImageCheck {
        match result {
            Ok(resolved) => {
                let missing: Vec<Platform> = archs
                    .iter()
                    .filter(|arch| !resolved.platforms.iter().any(|p| p.runs_on(**arch)))
                    .map(|arch| Platform::of_arch(*arch))
                    .collect();
                ImageCheck {
                    used,
                    verdict: if missing.is_empty() {
                        ImageVerdict::Ok
                    } else {
                        ImageVerdict::Missing
                    },
                    digest: Some(resolved.digest),
                    index: resolved.index,
                    platforms: resolved.platforms,
                    missing,
                    endpoint: Some(resolved.endpoint),
                    errors: Vec::new(),
                }
            }
            Err(errors) => ImageCheck {
                used,
                verdict: ImageVerdict::Error,
                digest: None,
                index: false,
                platforms: Vec::new(),
                missing: Vec::new(),
                endpoint: None,
                errors: errors.iter().map(ToString::to_string).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addons::monitoring_files;

    #[test]
    fn the_monitoring_addon_runs_five_images_each_listed_once() {
        let settings = crate::config::MonitoringAddon {
            retention: "15d".parse().unwrap(),
            storage: "8Gi".parse().unwrap(),
            grafana_password_secret: None,
        };
        let files = monitoring_files(&settings, "pw");
        let images: Vec<String> = images_of(&files)
            .unwrap()
            .iter()
            .map(|u| u.image.to_string())
            .collect();
        assert_eq!(
            images,
            [
                "quay.io/prometheus/prometheus:v3.5.0",
                "docker.io/grafana/grafana:12.1.1",
                "quay.io/prometheus/node-exporter:v1.9.1",
                "ghcr.io/pikube/pikube:0.1.0",
                "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
            ]
        );
    }

    #[test]
    fn a_verdict_names_the_platforms_a_node_lacks() {
        let used = UsedImage {
            image: "quay.io/x/y:1".parse().unwrap(),
            source: "monitoring".into(),
        };
        let resolved = |platforms: &[&str]| Resolved {
            digest: format!("sha256:{}", "0".repeat(64)),
            platforms: platforms
                .iter()
                .map(|p| {
                    let (os, architecture) = p.split_once('/').unwrap();
                    Platform {
                        os: os.into(),
                        architecture: architecture.into(),
                        variant: None,
                    }
                })
                .collect(),
            index: platforms.len() > 1,
            endpoint: "https://quay.io".into(),
        };
        let ok = ImageCheck::new(
            used.clone(),
            &[Arch::Arm64, Arch::Amd64],
            Ok(resolved(&["linux/amd64", "linux/arm64"])),
        );
        assert_eq!((ok.verdict, ok.missing.len()), (ImageVerdict::Ok, 0));
        let missing = ImageCheck::new(
            used.clone(),
            &[Arch::Arm64, Arch::Armhf],
            Ok(resolved(&["linux/amd64", "linux/arm64"])),
        );
        assert_eq!(missing.verdict, ImageVerdict::Missing);
        assert_eq!(missing.missing, [Platform::of_arch(Arch::Armhf)]);
        let error = ImageCheck::new(
            used,
            &[Arch::Arm64],
            Err(vec![RegistryError::Unauthorized {
                url: "https://quay.io/v2/x/y/manifests/1".into(),
                why: "it wants a login".into(),
            }]),
        );
        assert_eq!(error.verdict, ImageVerdict::Error);
        assert!(
            error.errors[0].contains("wants a login"),
            "{:?}",
            error.errors
        );
    }

    #[test]
    fn a_manifests_images_are_found_with_their_lines_and_a_bad_one_named_by_line() {
        let text = "containers:\n- name: a\n  image: postgres:17 # the database\n  # image: not:read\ninitContainers:\n  - image: \"ghcr.io/me/init:1\"\n";
        let found: Vec<(usize, String)> = images_in(text)
            .unwrap()
            .into_iter()
            .map(|(line, image)| (line, image.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                (3, "postgres:17".to_owned()),
                (6, "ghcr.io/me/init:1".to_owned())
            ]
        );
        let err = images_in("a: 1\n  image: \"{{ .Values.image }}\"\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.to_string()
                .starts_with("line 2: \"{{ .Values.image }}\" is not an image reference"),
            "{err}"
        );
    }
}
