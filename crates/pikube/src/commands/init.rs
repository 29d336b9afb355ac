use std::fs;
use std::io::Write;

use anyhow::{bail, Context};
use pikube_cluster::config;

use crate::cli::InitArgs;
use crate::exit::Outcome;

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let path = &args.file.file;
    if path.exists() && !args.force {
        bail!(
            "{} already exists; use --force to overwrite it, or -f to write another file",
            path.display()
        );
    }
    let text = config::starter_file(&args.name);
    // Validate before writing: a starter file that does not parse would be a trap.
    config::parse(&text, path).map_err(|err| anyhow::anyhow!("{err}"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // Written beside, then renamed: an interrupted init never leaves half a file.
    let tmp = path.with_extension("toml.pikube-tmp");
    let mut file = fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    pikube_cluster::private_file::keep_out_of_git(&config::dir_of(path).join(".pikube"));
    outln!(
        "wrote {}: edit the nodes, then run `pikube check` and `pikube plan`",
        path.display()
    );
    Ok(Outcome::Success)
}
