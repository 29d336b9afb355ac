//! Text from a node on the operator's terminal. A node controls much of what pikube prints
//! (its hostname, OS name, journal lines, file contents in a diff, `exec` output); escape
//! sequences in it could forge or hide lines, retitle the window or, in terminals that
//! allow OSC 52, write the clipboard (security review L2). Everything pikube prints goes
//! through [`safe`], which shows control characters instead of sending them.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character except newline and tab written out visibly (`ESC`
/// as `\x1b`, a C1 control as `\u{9b}`); unchanged, and not copied, when there is none.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_sent() {
        assert!(matches!(safe("plain text\n\tand a tab"), Cow::Borrowed(_)));
        // A clipboard write, a title change, a cursor move, a carriage return, a C1 CSI.
        let hostile = "pi\u{1b}]52;c;aGk=\u{7}\u{1b}]0;owned\u{7}\u{1b}[2A\rok\u{9b}31m";
        let shown = safe(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "pi\\x1b]52;c;aGk=\\x07\\x1b]0;owned\\x07\\x1b[2A\\x0dok\\u{9b}31m"
        );
    }
}
