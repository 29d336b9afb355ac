//! URLs as shown to people.

/// `url` with any user-info (`user:password@`) replaced, for messages and Debug output: a
/// mirror may be given with credentials in its URL.
pub(super) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn user_info_is_hidden_and_the_rest_kept() {
        assert_eq!(
            redact("https://me:secret@mirror.lan/k3s/download/v1/k3s"),
            "https://***@mirror.lan/k3s/download/v1/k3s"
        );
        assert_eq!(
            redact("https://github.com/k3s-io/k3s/releases?a=b@c"),
            "https://github.com/k3s-io/k3s/releases?a=b@c"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
