//! The admin kubeconfig k3s writes to `/etc/rancher/k3s/k3s.yaml`: cluster,
//! user and context all named `default`.

use crate::encoding::base64;

pub fn render(server: &str, ca_pem: &[u8], cert_pem: &str, key_pem: &str) -> String {
    format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
",
        ca = base64(ca_pem),
        cert = base64(cert_pem.as_bytes()),
        key = base64(key_pem.as_bytes()),
    )
}

/// What the double's kubectl needs from a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub server: String,
    /// The base64 `client-key-data`, presented as a bearer credential.
    pub credential: String,
}

/// Follows `current-context` to its cluster's server and user's key.
pub fn parse(text: &str) -> Result<Access, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let current = doc["current-context"].as_str().unwrap_or("");
    let named = |list: &str, name: &str| -> Option<serde_yaml::Value> {
        doc[list]
            .as_sequence()?
            .iter()
            .find(|item| item["name"].as_str() == Some(name))
            .cloned()
    };
    let context = named("contexts", current)
        .ok_or_else(|| format!("context was not found for specified context: {current}"))?;
    let cluster_name = context["context"]["cluster"].as_str().unwrap_or("");
    let user_name = context["context"]["user"].as_str().unwrap_or("");
    let cluster = named("clusters", cluster_name)
        .ok_or_else(|| format!("cluster has no server defined: {cluster_name}"))?;
    let server = cluster["cluster"]["server"]
        .as_str()
        .ok_or("no server found for cluster")?
        .to_string();
    let credential = named("users", user_name)
        .and_then(|user| user["user"]["client-key-data"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Access { server, credential })
}

/// `--write-kubeconfig-mode`: octal, with or without the leading 0.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim(), 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("invalid write-kubeconfig-mode {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3s_shape_and_round_trip() {
        let text = render("https://127.0.0.1:6443", b"CA", "CERT", "KEY");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["current-context"].as_str(), Some("default"));
        assert_eq!(doc["clusters"][0]["name"].as_str(), Some("default"));
        assert_eq!(doc["users"][0]["name"].as_str(), Some("default"));
        assert_eq!(
            doc["contexts"][0]["context"]["cluster"].as_str(),
            Some("default")
        );
        assert_eq!(
            doc["contexts"][0]["context"]["user"].as_str(),
            Some("default")
        );
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"].as_str(),
            Some("Q0E=")
        );
        let access = parse(&text).unwrap();
        assert_eq!(access.server, "https://127.0.0.1:6443");
        assert_eq!(access.credential, base64(b"KEY"));
    }

    #[test]
    fn a_rewritten_server_is_followed() {
        let text = render("https://127.0.0.1:6443", b"CA", "CERT", "KEY")
            .replace("127.0.0.1", "10.99.120.11");
        assert_eq!(parse(&text).unwrap().server, "https://10.99.120.11:6443");
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert!(parse_mode("rw").is_err());
        assert!(parse_mode("999").is_err());
    }
}
