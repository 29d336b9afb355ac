//! The supervisor's HTTP routes (see `protocol` for the table of requests).

use super::node_passwords::{self, Verdict};
use super::state::Server;
use crate::http::{Request, Response};
use crate::kube_client;
use crate::protocol::{
    JoinReply, JoinRequest, RegisterReply, RegisterRequest, CRITICAL_MISMATCH, JOIN, NOT_ETCD,
    REGISTER,
};
use crate::tls::{self, Usage};
use crate::token::Grant;

pub fn route(server: &Server, req: Request) -> Response {
    let path = req.path.split('?').next().unwrap_or("").to_string();
    match (req.method.as_str(), path.as_str()) {
        ("GET", "/cacerts") => Response {
            status: 200,
            body: server.ca.clone(),
        },
        ("GET", "/ping") => Response::text(200, "pong"),
        ("POST", JOIN) => join(server, &req),
        ("POST", REGISTER) => register(server, &req),
        _ => Response::text(404, "404 page not found"),
    }
}

fn unauthorized() -> Response {
    Response::text(401, "Unauthorized")
}

fn join(server: &Server, req: &Request) -> Response {
    if server.grant(req.bearer()) != Some(Grant::Server) {
        return unauthorized();
    }
    if !server.etcd {
        return Response::text(400, NOT_ETCD);
    }
    let Ok(join) = serde_json::from_slice::<JoinRequest>(&req.body) else {
        return Response::text(400, "malformed join request");
    };
    if let Some(key) = super::bootstrap::critical_mismatch(&server.critical, &join.critical) {
        crate::log::error(&format!(
            "Server at {} refused: {CRITICAL_MISMATCH}: {key}",
            join.ip
        ));
        return Response::text(400, format!("{CRITICAL_MISMATCH}: {key}"));
    }
    let bootstrap = match tls::bootstrap(&server.data_dir) {
        Ok(b) => b,
        Err(e) => return Response::text(500, e),
    };
    crate::log::info(&format!("Server at {} is joining the cluster", join.ip));
    Response::json(
        200,
        &JoinReply {
            bootstrap,
            password: server.password.clone(),
            agent_password: server.agent_password.clone(),
            etcd_endpoint: server.etcd_endpoint.clone(),
            encryption_config: super::encryption::read(&server.data_dir),
        },
    )
}

fn register(server: &Server, req: &Request) -> Response {
    if server.grant(req.bearer()).is_none() {
        return unauthorized();
    }
    let Ok(reg) = serde_json::from_slice::<RegisterRequest>(&req.body) else {
        return Response::text(400, "malformed registration");
    };
    match node_passwords::check(&server.admin, &reg.name, &reg.password) {
        Ok(Verdict::Accepted) => {}
        Ok(Verdict::Rejected) => {
            crate::log::error(&format!("Node {}: {}", reg.name, node_passwords::REJECTED));
            return Response::text(403, node_passwords::REJECTED);
        }
        Err(e) => return Response::text(503, format!("cannot check the node password: {e}")),
    }
    let issued = tls::sign(
        &server.data_dir,
        "client-ca",
        &format!("system:node:{}", reg.name),
        Usage::Client {
            organization: Some("system:nodes"),
        },
    );
    let (certificate, key) = match issued {
        Ok(pair) => pair,
        Err(e) => return Response::text(500, e),
    };
    crate::log::info(&format!(
        "Issued a client certificate for node {}",
        reg.name
    ));
    Response::json(
        200,
        &RegisterReply {
            certificate,
            key,
            server_ca: String::from_utf8_lossy(&server.ca).into_owned(),
            servers: api_servers(server),
        },
    )
}

/// The API server URLs the cluster advertises (the `kubernetes` Endpoints), as k3s'
/// agent load balancer learns them.
pub fn api_servers(server: &Server) -> Vec<String> {
    let Ok(endpoints) = kube_client::json(
        server
            .admin
            .get("/api/v1/namespaces/default/endpoints/kubernetes"),
    ) else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let port = subset["ports"][0]["port"].as_u64().unwrap_or(6443) as u16;
        for address in subset["addresses"].as_array().into_iter().flatten() {
            if let Some(ip) = address["ip"].as_str() {
                urls.push(format!("https://{}", super::etcd::join_host_port(ip, port)));
            }
        }
    }
    urls
}
