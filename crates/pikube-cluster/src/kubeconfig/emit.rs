//! Writing the kubeconfig back as YAML that kubectl reads the same way.
//!
//! yaml_serde speaks YAML 1.2 and writes strings such as `yes`, `on` or `y` bare; kubectl's
//! parser follows YAML 1.1, where those are booleans, so an exec plugin's `env` value of
//! `"on"` would come back as `true` and break kubectl. This emitter therefore writes a string
//! bare only when it cannot be read as anything else in either version, and double-quoted
//! otherwise. Layout follows kubectl's: block style, lists not indented under their key.

use yaml_serde::{Mapping, Value};

use super::KubeconfigError;

pub(super) fn to_yaml(doc: &Mapping) -> Result<String, KubeconfigError> {
    let mut out = String::new();
    mapping_body(&mut out, doc, 0, false)?;
    Ok(out)
}

/// The entries of a non-empty mapping, one per line at `indent`; with `inline` the first
/// one continues the current line (after a list's `- `).
fn mapping_body(
    out: &mut String,
    mapping: &Mapping,
    indent: usize,
    inline: bool,
) -> Result<(), KubeconfigError> {
    for (index, (key, value)) in mapping.iter().enumerate() {
        if index > 0 || !inline {
            push_indent(out, indent);
        }
        let key = scalar(key).ok_or(KubeconfigError::UnsupportedYaml)?;
        out.push_str(&key);
        out.push(':');
        after_key(out, value, indent)?;
    }
    Ok(())
}

/// The items of a non-empty list at `indent`, `inline` as for [`mapping_body`].
fn sequence_body(
    out: &mut String,
    items: &[Value],
    indent: usize,
    inline: bool,
) -> Result<(), KubeconfigError> {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline {
            push_indent(out, indent);
        }
        out.push('-');
        after_dash(out, item, indent)?;
    }
    Ok(())
}

/// A mapping value, written right after `key:`.
fn after_key(out: &mut String, value: &Value, indent: usize) -> Result<(), KubeconfigError> {
    match value {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping_body(out, m, indent + 2, false)
        }
        // kubectl style: a list under a key starts at the key's own indentation.
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence_body(out, s, indent, false)
        }
        Value::Tagged(tagged) => tagged_node(out, &tagged.tag.to_string(), &tagged.value, indent),
        other => scalar_line(out, other),
    }
}

/// A list item, written right after `-`.
fn after_dash(out: &mut String, item: &Value, indent: usize) -> Result<(), KubeconfigError> {
    match item {
        Value::Mapping(m) if !m.is_empty() => {
            out.push(' ');
            mapping_body(out, m, indent + 2, true)
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push(' ');
            sequence_body(out, s, indent + 2, true)
        }
        Value::Tagged(tagged) => tagged_node(out, &tagged.tag.to_string(), &tagged.value, indent),
        other => scalar_line(out, other),
    }
}

/// `!tag value`, or `!tag` with the collection indented on the following lines.
fn tagged_node(
    out: &mut String,
    tag: &str,
    value: &Value,
    indent: usize,
) -> Result<(), KubeconfigError> {
    out.push(' ');
    out.push_str(tag);
    match value {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping_body(out, m, indent + 2, false)
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence_body(out, s, indent + 2, false)
        }
        // A tag on a tag cannot be written in YAML, and yaml_serde never produces one.
        Value::Tagged(_) => Err(KubeconfigError::UnsupportedYaml),
        other => scalar_line(out, other),
    }
}

/// ` value\n` for a scalar or an empty collection.
fn scalar_line(out: &mut String, value: &Value) -> Result<(), KubeconfigError> {
    let text = match value {
        Value::Mapping(_) => "{}".to_owned(),
        Value::Sequence(_) => "[]".to_owned(),
        other => scalar(other).ok_or(KubeconfigError::UnsupportedYaml)?,
    };
    out.push(' ');
    out.push_str(&text);
    out.push('\n');
    Ok(())
}

/// A scalar as YAML text; `None` for collections.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if is_plain_safe(s) => Some(s.clone()),
        // A JSON string literal is a valid YAML double-quoted scalar.
        Value::String(s) => serde_json::to_string(s).ok(),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => None,
    }
}

/// Whether `s` reads back as the same string when written bare, under YAML 1.1 and 1.2
/// alike. Deliberately narrow: quoting something that did not need it costs nothing.
fn is_plain_safe(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    let mut chars = s.chars();
    let (Some(first), second) = (chars.next(), chars.next()) else {
        return false;
    };
    let starts_like_number = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.') && second.is_some_and(|c| c.is_ascii_digit()));
    (first.is_ascii_alphanumeric() || matches!(first, '-' | '.' | '/' | '_'))
        && s != "-"
        && !s.ends_with(':')
        && !starts_like_number
        && !SPECIAL
            .iter()
            .any(|special| s.eq_ignore_ascii_case(special))
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '+' | '=' | '@')
        })
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let value: Value = yaml_serde::from_str(text).unwrap();
        let emitted = to_yaml(value.as_mapping().unwrap()).unwrap();
        let back: Value = yaml_serde::from_str(&emitted).unwrap();
        assert_eq!(back, value, "emitted:\n{emitted}");
        emitted
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        let emitted = round_trip(
            "a: \"yes\"\nb: \"on\"\nc: \"0123\"\nd: \"\"\ne: \"-\"\nf: \"x: y\"\ng: \"two\\nlines\"\n\
             h: \"foo:\"\ni: \"#x\"\nj: \"@x\"\nk: \".inf\"\nl: \"NULL\"\nm: \"é\"\nn: \"Y\"\n\
             o: \"-1\"\np: \"1:20\"\nq: \"~\"\n",
        );
        for line in emitted.lines() {
            let value = line.split_once(": ").unwrap().1;
            assert!(value.starts_with('"'), "{line} must be quoted");
        }
    }

    #[test]
    fn ordinary_kubeconfig_strings_stay_bare() {
        let emitted = round_trip(
            "server: https://10.0.0.5:6443\nname: arn:aws:eks:eu-west-1:1:cluster/prod\n\
             data: S0lORC1DQQ==\narg: --region\napi: client.authentication.k8s.io/v1beta1\n",
        );
        assert!(!emitted.contains('"'), "{emitted}");
    }

    #[test]
    fn nesting_follows_kubectl_layout() {
        let text = "clusters:\n- cluster:\n    server: s\n  name: a\nempty: {}\nnone: []\n\
                    nested:\n- - x\n  - w\nm: 3\nt: true\nz: null\ntagged: !custom v\n";
        assert_eq!(round_trip(text), text);
    }
}
