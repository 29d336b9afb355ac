//! Reading the kubeconfig and calling the double's node API, with kubectl's
//! error wording.

use super::Args;
use crate::http;
use crate::kubeconfig::{self, Access};
use crate::protocol::{NodeEdit, NODES};
use serde_json::Value;

pub struct Client {
    access: Access,
}

impl Client {
    /// `--kubeconfig`, else `$KUBECONFIG`, else `/etc/rancher/k3s/k3s.yaml`.
    pub fn from_args(args: &Args) -> Result<Client, String> {
        let path = args
            .kubeconfig
            .clone()
            .or_else(|| std::env::var("KUBECONFIG").ok().filter(|s| !s.is_empty()))
            .map(std::path::PathBuf::from)
            .unwrap_or_else(crate::roots::kubeconfig);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "error: error loading config file \"{}\": open {}: {}",
                path.display(),
                path.display(),
                io_words(&e)
            )
        })?;
        let access = kubeconfig::parse(&text).map_err(|e| {
            format!(
                "error: error loading config file \"{}\": {e}",
                path.display()
            )
        })?;
        Ok(Client { access })
    }

    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Value, String> {
        let reply = http::call(
            &self.access.server,
            method,
            path,
            Some(&self.access.credential),
            body,
        )
        .map_err(|e| {
            let hp = http::host_port(&self.access.server);
            match e.kind() {
                std::io::ErrorKind::ConnectionRefused => format!(
                    "The connection to the server {hp} was refused - did you specify the right host or port?"
                ),
                _ => format!("Unable to connect to the server: dial tcp {hp}: {e}"),
            }
        })?;
        let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        match reply.status {
            200 => Ok(value),
            401 => Err("error: You must be logged in to the server (Unauthorized)".into()),
            status => {
                let reason = value["reason"].as_str().unwrap_or("Unknown");
                let message = value["message"].as_str().unwrap_or("unexpected response");
                Err(
                    format!("Error from server ({reason}): {message} [{status}]")
                        .replace(" [404]", ""),
                )
            }
        }
    }

    pub fn get_list(&self) -> Result<Vec<Value>, String> {
        let list = self.call("GET", NODES, None)?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> Result<Value, String> {
        self.call("GET", &format!("{NODES}/{name}"), None)
    }

    pub fn put(&self, name: &str, edit: &NodeEdit) -> Result<Value, String> {
        let body = serde_json::to_vec(edit).expect("serializes");
        self.call("PUT", &format!("{NODES}/{name}"), Some(&body))
    }

    pub fn delete(&self, name: &str) -> Result<(), String> {
        self.call("DELETE", &format!("{NODES}/{name}"), None)
            .map(|_| ())
    }
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
