use crate::cli::FileArgs;
use crate::commands::cluster::load_config;
use crate::exit::Outcome;

pub fn run(args: &FileArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file)?;
    let servers = config.servers().count();
    let agents = config.agents().count();
    outln!(
        "{}: cluster {:?} is valid: {} server{}, {} agent{}, K3s {}",
        args.file.display(),
        config.name.to_string(),
        servers,
        if servers == 1 { "" } else { "s" },
        agents,
        if agents == 1 { "" } else { "s" },
        config.k3s.version
    );
    Ok(Outcome::Success)
}
