//! `pikube images`: the images the cluster's add-ons (and the operator's manifests) run,
//! and with `--check` whether each is published for the platform of every node.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use pikube_cluster::config::{Arch, ClusterConfig};
use pikube_cluster::images::{
    add_image, addon_images, images_in, ImageCheck, ImageVerdict, Platform, RegistryClient,
};
use pikube_cluster::progress::SilentProgress;
use serde_json::json;

use crate::cli::{ImagesArgs, OutputFormat};
use crate::commands::cluster::{fleet, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::secret;
use crate::exit::Outcome;

pub fn run(args: &ImagesArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let mut used = addon_images(&config).context("an add-on's manifests name a bad image")?;
    for path in &args.manifests {
        for file in manifest_files(path)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let found = images_in(&text).map_err(|err| {
                anyhow::anyhow!("{}:{}: {}", file.display(), err.line, err.problem)
            })?;
            for (_, image) in found {
                add_image(&mut used, image, &file.display().to_string());
            }
        }
    }
    for image in &args.images {
        add_image(&mut used, image.clone(), "--image");
    }
    if !args.check || used.is_empty() {
        // Nothing to ask a registry about without images: no node is asked either.
        match args.output {
            OutputFormat::Json => outln!(
                "{}",
                serde_json::to_string_pretty(&json!({ "images": used }))?
            ),
            OutputFormat::Text if used.is_empty() => {
                outln!(
                    "No add-on is turned on in cluster.toml, and no --manifests or --image given: \
                     no images."
                );
            }
            OutputFormat::Text => {
                let width = used.iter().map(|u| u.source.len()).max().unwrap_or(0);
                for image in &used {
                    outln!("{:width$}  {}", image.source, image.image);
                }
            }
        }
        return Ok(Outcome::Success);
    }

    let runtime = runtime()?;
    let archs = if args.arch.is_empty() {
        runtime.block_on(node_archs(&config))?
    } else {
        let mut archs = args.arch.clone();
        archs.sort_by_key(|arch| arch.as_str());
        archs.dedup();
        archs
    };
    let platforms: Vec<Platform> = archs.iter().map(|arch| Platform::of_arch(*arch)).collect();
    errln!(
        "Asking the registries about {} image(s), for {}...",
        used.len(),
        list(&platforms)
    );
    let client = RegistryClient::new()?;
    let checks: Vec<ImageCheck> = runtime.block_on(async {
        let mut checks = Vec::new();
        for image in used {
            let result = client
                .resolve(&image.image, &config.k3s.registries, &secret)
                .await;
            checks.push(ImageCheck::new(image, &archs, result));
        }
        checks
    });

    match args.output {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "platforms": platforms, "images": checks }))?
        ),
        OutputFormat::Text => render(&checks),
    }
    Ok(if checks.iter().all(|c| c.verdict == ImageVerdict::Ok) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The K3s builds the nodes run, from their facts; a node that does not answer is named and
/// left out, and none answering is an error that says how to go on without them.
async fn node_archs(config: &ClusterConfig) -> anyhow::Result<Vec<Arch>> {
    let results = fleet(config)?.facts(&SilentProgress).await;
    let mut archs = Vec::new();
    for result in &results {
        match &result.result {
            Ok(facts) => match Arch::of_machine(&facts.arch) {
                Some(arch) if !archs.contains(&arch) => archs.push(arch),
                Some(_) => {}
                None => errln!(
                    "warning: {} runs no K3s build ({}): left out",
                    result.node,
                    facts.arch.uname_m()
                ),
            },
            Err(err) => errln!(
                "warning: {} did not answer, its platform is left out: {}",
                result.node,
                pikube_cluster::error_chain::describe(err)
            ),
        }
    }
    if archs.is_empty() {
        anyhow::bail!(
            "no node told its architecture; name the ones to check with --arch (amd64, arm64, armhf)"
        );
    }
    archs.sort_by_key(|arch| arch.as_str());
    Ok(archs)
}

fn render(checks: &[ImageCheck]) {
    let width = checks
        .iter()
        .map(|c| c.used.source.len())
        .max()
        .unwrap_or(0);
    for check in checks {
        let label = match check.verdict {
            ImageVerdict::Ok => "ok     ",
            ImageVerdict::Missing => "MISSING",
            ImageVerdict::Error => "ERROR  ",
        };
        outln!(
            "{label}  {:width$}  {}",
            check.used.source,
            check.used.image
        );
        if let Some(digest) = &check.digest {
            let kind = if check.index { "index" } else { "single image" };
            outln!(
                "         {kind} {digest} from {}",
                check.endpoint.as_deref().unwrap_or("?")
            );
            outln!("         published for: {}", list(&check.platforms));
        }
        if !check.missing.is_empty() {
            outln!(
                "         no image for {}: it would not start on those nodes",
                list(&check.missing)
            );
        }
        for error in &check.errors {
            outln!("         {error}");
        }
    }
    let count = |v| checks.iter().filter(|c| c.verdict == v).count();
    outln!(
        "Images: {} ok, {} missing a node's platform, {} not resolved.",
        count(ImageVerdict::Ok),
        count(ImageVerdict::Missing),
        count(ImageVerdict::Error)
    );
}

fn list(platforms: &[Platform]) -> String {
    let names: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}

/// `path` itself, or the YAML files under it, in name order.
fn manifest_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--manifests {}: cannot read it", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("--manifests {}: cannot list it", path.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("--manifests {}: cannot list it", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            files.extend(manifest_files(&entry)?);
        } else if entry
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(entry);
        }
    }
    Ok(files)
}
