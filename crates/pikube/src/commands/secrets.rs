//! `pikube secrets`: the age-encrypted secrets beside cluster.toml (see
//! `pikube_cluster::secrets`). Values go in through standard input or a no-echo prompt,
//! never the command line.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};
use pikube_cluster::secrets::{
    ensure_default_identity, Recipients, SecretKey, Secrets, SecretsFile, Unlock,
};

use crate::cli::{OutputFormat, SecretsCommand, SecretsRecipientArgs};
use crate::exit::Outcome;

pub fn run(command: &SecretsCommand) -> anyhow::Result<Outcome> {
    match command {
        SecretsCommand::Init(args) => {
            let file = beside(&args.file.file);
            if file.exists() && !args.force {
                bail!(
                    "{} already exists; `pikube secrets rekey` changes who can open it, \
                     --force replaces it (its secrets are lost)",
                    file.path.display()
                );
            }
            let recipients = recipients_from(&args.to)?;
            file.save(&Secrets::default(), &recipients, &unlock())?;
            errln!(
                "wrote {} and {}: add secrets with `pikube secrets set NAME`",
                file.path.display(),
                file.recipients_path.display()
            );
            Ok(Outcome::Success)
        }
        SecretsCommand::Set(args) => {
            let file = existing(&args.file.file)?;
            let key = SecretKey::parse(&args.name).map_err(anyhow::Error::msg)?;
            let unlock = unlock();
            let mut secrets = file.open(&unlock)?;
            let value = read_value(&key)?;
            secrets.set(key.clone(), value);
            file.save(&secrets, &file.recipients()?, &unlock)?;
            errln!("{key} set in {}", file.path.display());
            Ok(Outcome::Success)
        }
        SecretsCommand::Get(args) => {
            let file = existing(&args.file.file)?;
            let key = SecretKey::parse(&args.name).map_err(anyhow::Error::msg)?;
            let secrets = file.open(&unlock())?;
            match secrets.get(&key) {
                // The value as stored: no escaping, no newline added, as scripts expect.
                Some(value) => {
                    std::io::stdout().write_all(value.as_bytes())?;
                    if std::io::stdout().is_terminal() {
                        outln!("");
                    }
                    Ok(Outcome::Success)
                }
                None => bail!("{} has no secret named {key}", file.path.display()),
            }
        }
        SecretsCommand::Rm(args) => {
            let file = existing(&args.file.file)?;
            let key = SecretKey::parse(&args.name).map_err(anyhow::Error::msg)?;
            let unlock = unlock();
            let mut secrets = file.open(&unlock)?;
            if !secrets.remove(&key) {
                bail!("{} has no secret named {key}", file.path.display());
            }
            file.save(&secrets, &file.recipients()?, &unlock)?;
            errln!("{key} removed from {}", file.path.display());
            Ok(Outcome::Success)
        }
        SecretsCommand::List(args) => {
            let file = existing(&args.file.file)?;
            let secrets = file.open(&unlock())?;
            let names: Vec<&str> = secrets.names().map(SecretKey::as_str).collect();
            match args.output {
                OutputFormat::Text => names.iter().for_each(|n| outln!("{n}")),
                OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&names)?),
            }
            Ok(Outcome::Success)
        }
        SecretsCommand::Edit(args) => edit(&existing(&args.file.file)?),
        SecretsCommand::Rekey(args) => {
            let file = existing(&args.file.file)?;
            let unlock = unlock();
            let secrets = file.open(&unlock)?;
            let recipients = if args.to.recipients.is_empty() && !args.to.passphrase {
                file.recipients()?
            } else {
                recipients_from(&args.to)?
            };
            file.save(&secrets, &recipients, &unlock)?;
            errln!(
                "{} encrypted again to {}",
                file.path.display(),
                describe(&recipients)
            );
            Ok(Outcome::Success)
        }
    }
}

fn beside(config: &Path) -> SecretsFile {
    SecretsFile::beside(pikube_cluster::config::dir_of(config))
}

fn existing(config: &Path) -> anyhow::Result<SecretsFile> {
    let file = beside(config);
    if !file.exists() {
        bail!(
            "{} does not exist: create it with `pikube secrets init`",
            file.path.display()
        );
    }
    Ok(file)
}

/// Opens with the environment's identities, asking for a passphrase on a terminal.
pub fn unlock() -> Unlock {
    let from_env = super::env_secrets::passphrase_from_env();
    Unlock::from_env(Box::new(move |prompt: &str| {
        if from_env.is_some() {
            from_env.clone()
        } else if std::io::stdin().is_terminal() {
            rpassword::prompt_password(prompt).ok()
        } else {
            None
        }
    }))
}

fn recipients_from(to: &SecretsRecipientArgs) -> anyhow::Result<Recipients> {
    let keys = &to.recipients;
    if to.passphrase {
        return Ok(Recipients::Passphrase);
    }
    if keys.is_empty() {
        let (path, public) = ensure_default_identity()?;
        errln!(
            "encrypting to pikube's own key {public} ({}); back that file up: without it \
             the secrets cannot be opened",
            path.display()
        );
        return Ok(Recipients::Keys(vec![public]));
    }
    let text = keys.join("\n");
    Ok(Recipients::parse(&text, Path::new("--recipient"))?)
}

fn describe(recipients: &Recipients) -> String {
    match recipients {
        Recipients::Keys(keys) => format!("{} key(s)", keys.len()),
        Recipients::Passphrase => "a passphrase".to_owned(),
    }
}

/// From standard input when it is not a terminal (a pipe: the whole input, one trailing
/// newline dropped), else asked twice without echo.
fn read_value(key: &SecretKey) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        let mut value = String::new();
        std::io::stdin()
            .read_to_string(&mut value)
            .context("reading the value from standard input")?;
        if value.ends_with('\n') {
            value.pop();
        }
        if value.is_empty() {
            bail!("no value on standard input for {key}");
        }
        return Ok(value);
    }
    let first = rpassword::prompt_password(format!("{key}: "))?;
    let again = rpassword::prompt_password(format!("{key} again: "))?;
    if first != again {
        bail!("the two entries of {key} differ; nothing was changed");
    }
    Ok(first)
}

/// The TOML in a 0600 file in a private temporary directory, $EDITOR on it, then checked
/// and encrypted again; the directory is removed whatever happens.
fn edit(file: &SecretsFile) -> anyhow::Result<Outcome> {
    let unlock = unlock();
    let secrets = file.open(&unlock)?;
    let dir = tempfile::Builder::new()
        .prefix("pikube-secrets-")
        .tempdir()
        .context("creating a private temporary directory")?;
    let path = dir.path().join("secrets.toml");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut draft = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        draft.write_all(&secrets.to_toml())?;
    }
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    // As git does: the editor setting may carry arguments, so the shell reads it.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("editor")
        .arg(&path)
        .status()
        .with_context(|| format!("running the editor {editor:?}"))?;
    if !status.success() {
        bail!("the editor {editor:?} failed ({status}); nothing was changed");
    }
    let edited = std::fs::read(&path)?;
    let updated = Secrets::parse(&edited, &path)
        .map_err(|err| anyhow::anyhow!("{err}; nothing was changed"))?;
    if updated == secrets {
        errln!("no change");
        return Ok(Outcome::Success);
    }
    file.save(&updated, &file.recipients()?, &unlock)?;
    errln!("{} updated", file.path.display());
    Ok(Outcome::Success)
}
