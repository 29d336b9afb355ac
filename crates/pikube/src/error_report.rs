//! How an error reaches the user: its message, then each cause that says something new
//! (see `pikube_cluster::error_chain`, which the libraries' reports use too).

/// The whole chain of `err` on one line, each cause once.
pub fn describe(err: &anyhow::Error) -> String {
    pikube_cluster::error_chain::describe_chain(err.chain().map(ToString::to_string))
}
