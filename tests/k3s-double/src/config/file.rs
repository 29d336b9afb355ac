//! `/etc/rancher/k3s/config.yaml` and `config.yaml.d/*.yaml` (lexical order).

use super::Value;
use std::path::Path;

/// One key of one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The flag name, without a trailing `+`.
    pub key: String,
    /// The key was written `key+:`: append to the accumulated list.
    pub append: bool,
    pub value: Value,
}

/// Entries of the file (if it exists) and then of its drop-ins.
pub fn load_files(config: &Path) -> Result<Vec<FileEntry>, String> {
    let mut entries = Vec::new();
    if config.exists() {
        entries.extend(load_one(config)?);
    }
    let mut dropin_dir = config.as_os_str().to_owned();
    dropin_dir.push(".d");
    if let Ok(dir) = std::fs::read_dir(Path::new(&dropin_dir)) {
        let mut files: Vec<_> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                })
            })
            .collect();
        files.sort();
        for file in files {
            entries.extend(load_one(&file)?);
        }
    }
    Ok(entries)
}

fn load_one(path: &Path) -> Result<Vec<FileEntry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read config file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("failed to parse config file {}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Vec<FileEntry>, String> {
    let doc: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
    let yaml11 = yaml11_booleans(text);
    let map = match doc {
        yaml_serde::Value::Null => return Ok(Vec::new()),
        yaml_serde::Value::Mapping(map) => map,
        _ => return Err("the top level is not a mapping".into()),
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let raw = scalar(&key).ok_or("a key is not a string")?;
        let (key, append) = match raw.strip_suffix('+') {
            Some(base) => (base.to_string(), true),
            None => (raw.clone(), false),
        };
        let value = match value {
            _ if yaml11.contains_key(&raw) => Value::Bool(yaml11[&raw]),
            yaml_serde::Value::Bool(b) => Value::Bool(b),
            yaml_serde::Value::Sequence(items) => Value::List(
                items
                    .iter()
                    .map(|item| scalar(item).ok_or(format!("{key}: list items must be scalars")))
                    .collect::<Result<_, _>>()?,
            ),
            other => Value::Str(scalar(&other).ok_or(format!("{key}: unsupported value"))?),
        };
        out.push(FileEntry { key, append, value });
    }
    Ok(out)
}

/// Top-level keys whose value is a plain (unquoted) YAML 1.1 boolean word. k3s reads its
/// config files with a YAML 1.1 parser, where `on`, `off`, `y`, `n`, `yes`, `no` are
/// booleans, so `node-name: on` means `--node-name=true`; yaml_serde (YAML 1.2) would read
/// the string "on". Quoted values stay strings in both.
fn yaml11_booleans(text: &str) -> std::collections::BTreeMap<String, bool> {
    let mut found = std::collections::BTreeMap::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.split(" #").next().unwrap_or("").trim();
        let truth = match value {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => true,
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => false,
            _ => continue,
        };
        found.insert(key.trim().to_string(), truth);
    }
    found
}

fn scalar(value: &yaml_serde::Value) -> Option<String> {
    match value {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        yaml_serde::Value::Bool(b) => Some(b.to_string()),
        yaml_serde::Value::Null => Some(String::new()),
        _ => None,
    }
}
