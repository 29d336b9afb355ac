//! Why a facts output could not be read at all. Odd *content* never errors
//! (a missing fact is just absent); only output that is not ours does.

/// The facts script's output was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    /// No header: the script did not run, or something else answered
    /// (a restricted shell, a `command=` in authorized_keys, a login banner).
    #[error("the node did not answer with pikube facts (no `@@pikube-facts v1` header); first line received: {first_line:?}")]
    MissingHeader {
        /// The first non-empty line received, shortened.
        first_line: String,
    },
    /// A header from a different script version.
    #[error("the node answered with facts format {found:?}, but this pikube reads v1")]
    UnsupportedVersion {
        /// The header line received.
        found: String,
    },
    /// The output stops before the trailer (connection dropped, script killed).
    #[error("the facts output was cut off (no end marker){}", match section { Some(s) => format!(" inside section {s:?}"), None => String::new() })]
    Truncated {
        /// The section that was being read when the output ended.
        section: Option<String>,
    },
    /// The markers do not nest as the script writes them.
    #[error("malformed facts output at line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the received output.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}
