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
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
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
        assert_eq!(
            doc["users"][0]["user"]["client-key-data"].as_str(),
            Some(base64(b"KEY").as_str())
        );
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
