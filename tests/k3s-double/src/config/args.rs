//! Command-line flags of `k3s server` / `k3s agent`: `--flag value`,
//! `--flag=value`, single-dash forms and the short aliases, as urfave/cli
//! accepts them.

use super::{parse_bool, Value};
use crate::flags::{self, Command, Kind};

/// The flags in order; unknown flags are an error worded like k3s's.
pub fn parse_args(command: Command, args: &[String]) -> Result<Vec<(&'static str, Value)>, String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (stripped, None),
        };
        let Some(flag) = flags::for_command(name, command) else {
            return Err(format!("flag provided but not defined: -{name}"));
        };
        let value = match flag.kind {
            Kind::Bool => match inline {
                None => Value::Bool(true),
                Some(text) => Value::Bool(
                    parse_bool(&text)
                        .ok_or_else(|| format!("invalid boolean value {text:?} for -{name}"))?,
                ),
            },
            Kind::Str | Kind::List => {
                let text = match inline {
                    Some(text) => text,
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("flag needs an argument: -{name}"))?,
                };
                if flag.kind == Kind::Str {
                    Value::Str(text)
                } else if flag.name == "disable" {
                    Value::List(text.split(',').map(str::to_string).collect())
                } else {
                    Value::List(vec![text])
                }
            }
        };
        out.push((flag.name, value));
    }
    Ok(out)
}
