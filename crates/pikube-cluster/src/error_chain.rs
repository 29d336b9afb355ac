//! How an error reaches the user: its message, then each cause that says something new.
//!
//! pikube's own errors show their cause in their message and do not also return it as
//! their source (the test `cli::no_error_both_shows_and_returns_its_cause` keeps it so).
//! Errors of the crates underneath (reqwest, hyper, sqlx, std's I/O wrappers) may do both,
//! and printing their whole chain would then say a cause twice, or three times down a
//! longer chain. Here a cause whose text the message so far already contains is left out,
//! so every cause is printed once whoever wrote it.

use std::error::Error;

/// The whole chain of `err` on one line, each cause once.
pub fn describe(err: &(dyn Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        chain.push(err.to_string());
        next = err.source();
    }
    describe_chain(chain)
}

/// A failed HTTP request's chain on one line, without its URL: reqwest's own message is terse
/// ("error sending request") and names the URL, which the caller names already and which,
/// after a redirect, can hold a signed download token; the cause (connection refused, a
/// certificate problem...) is further down.
pub fn describe_request(error: reqwest::Error) -> String {
    describe(&error.without_url())
}

/// A chain of messages, outermost first, on one line, each cause once.
pub fn describe_chain(chain: impl IntoIterator<Item = String>) -> String {
    let mut text = String::new();
    for cause in chain {
        let cause = cause.trim();
        if cause.is_empty() || text.contains(cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::describe_chain;

    fn chain(items: &[&str]) -> String {
        describe_chain(items.iter().map(ToString::to_string))
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        assert_eq!(
            chain(&[
                "cannot connect to postgres://db/users: connection refused",
                "connection refused",
            ]),
            "cannot connect to postgres://db/users: connection refused"
        );
        assert_eq!(
            chain(&[
                "the users service: cannot connect to postgres://db/users: connection refused",
                "cannot connect to postgres://db/users: connection refused",
                "connection refused",
            ]),
            "the users service: cannot connect to postgres://db/users: connection refused"
        );
    }

    #[test]
    fn a_cause_that_adds_something_is_kept() {
        assert_eq!(
            chain(&["reading cluster.toml", "permission denied (os error 13)"]),
            "reading cluster.toml: permission denied (os error 13)"
        );
        assert_eq!(chain(&["only"]), "only");
    }

    #[test]
    fn a_typed_error_is_walked_through_its_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("getting the k3s binary")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            super::describe(&err),
            "getting the k3s binary: connection refused"
        );
    }
}
