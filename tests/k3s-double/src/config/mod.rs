//! Effective settings of `k3s server` / `k3s agent`, merged the way k3s does:
//! env variables are the flags' defaults, the config file and its drop-ins are
//! inserted as if they were command-line flags before the real ones, and the
//! real command line wins. Repeatable flags given on the command line replace
//! the file's list; `key+:` in a file appends to what earlier files set.

mod args;
mod file;

pub use args::parse_args;
pub use file::{load_files, FileEntry};

use crate::flags::{self, Command, Kind};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<&'static str, Value>,
}

impl Settings {
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Value::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Value::List(items)) => items.clone(),
            Some(Value::Str(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    fn set(&mut self, name: &'static str, value: Value) {
        self.values.insert(name, value);
    }

    fn append(&mut self, name: &'static str, items: Vec<String>) {
        let mut list = self.list(name);
        list.extend(items);
        self.values.insert(name, Value::List(list));
    }
}

/// Parses a boolean the way Go's strconv.ParseBool does.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn env_layer(command: Command, env: &dyn Fn(&str) -> Option<String>) -> Settings {
    let mut settings = Settings::default();
    for flag in flags::FLAGS {
        if flags::for_command(flag.name, command).is_none() {
            continue;
        }
        let Some(value) = flag.env.and_then(env).filter(|v| !v.is_empty()) else {
            continue;
        };
        let value = match flag.kind {
            Kind::Bool => Value::Bool(parse_bool(&value).unwrap_or(false)),
            Kind::Str => Value::Str(value),
            Kind::List => Value::List(vec![value]),
        };
        settings.set(flag.name, value);
    }
    settings
}

/// Merges env, config files and command line for `command`.
/// `env` reads one variable; `warn` receives the warnings k3s would log.
pub fn resolve(
    command: Command,
    cli: &[(&'static str, Value)],
    env: &dyn Fn(&str) -> Option<String>,
    default_config: PathBuf,
    warn: &mut dyn FnMut(String),
) -> Result<Settings, String> {
    let mut settings = env_layer(command, env);

    let cli_config = cli.iter().rev().find_map(|(name, value)| match value {
        Value::Str(path) if *name == "config" => Some(PathBuf::from(path)),
        _ => None,
    });
    let config_path = cli_config
        .or_else(|| settings.str("config").map(PathBuf::from))
        .unwrap_or(default_config);
    for entry in load_files(&config_path)? {
        let FileEntry { key, append, value } = entry;
        let Some(flag) = flags::for_command(&key, command) else {
            // k3s strips unknown keys from the file only for `server` (and etcd-snapshot);
            // `k3s agent` gets them as flags and refuses to start.
            if command == Command::Agent {
                return Err(format!("flag provided but not defined: -{key}"));
            }
            warn(format!(
                "Unknown flag --{key} found in config.yaml, skipping"
            ));
            continue;
        };
        match (flag.kind, value) {
            (Kind::List, value) => {
                let items = match value {
                    Value::List(items) => items,
                    Value::Str(s) => vec![s],
                    Value::Bool(b) => vec![b.to_string()],
                };
                if append {
                    settings.append(flag.name, items);
                } else {
                    settings.set(flag.name, Value::List(items));
                }
            }
            (Kind::Bool, Value::Bool(b)) => settings.set(flag.name, Value::Bool(b)),
            (Kind::Bool, Value::Str(s)) => match parse_bool(&s) {
                Some(b) => settings.set(flag.name, Value::Bool(b)),
                None => return Err(format!("invalid boolean value {s:?} for {key}")),
            },
            (Kind::Str, Value::Str(s)) => settings.set(flag.name, Value::Str(s)),
            (Kind::Str, Value::Bool(b)) => settings.set(flag.name, Value::Str(b.to_string())),
            (_, Value::List(items)) => {
                if let Some(last) = items.last() {
                    warn(format!(
                        "config key {key} is not repeatable; using the last value {last:?}"
                    ));
                    let value = if flag.kind == Kind::Bool {
                        Value::Bool(parse_bool(last).unwrap_or(false))
                    } else {
                        Value::Str(last.clone())
                    };
                    settings.set(flag.name, value);
                }
            }
        }
    }

    let mut cli_lists: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (name, value) in cli {
        match value {
            Value::List(items) => cli_lists.entry(name).or_default().extend(items.clone()),
            other => settings.set(name, other.clone()),
        }
    }
    for (name, items) in cli_lists {
        settings.set(name, Value::List(items));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests;
