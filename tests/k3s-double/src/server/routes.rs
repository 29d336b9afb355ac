//! The server's HTTP API (see `protocol` for the table of requests).

use super::state::Server;
use crate::api;
use crate::http::{Request, Response};
use crate::nodes::{now_ms, Refusal, Registration, Store, PASSWORD_REJECTED};
use crate::protocol::{
    Heartbeat, JoinReply, JoinRequest, NodeEdit, RegisterReply, HEARTBEAT, JOIN, NODES, NOT_ETCD,
    REGISTER, SYNC,
};
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
        ("POST", SYNC) => sync(server, &req),
        ("POST", REGISTER) => register(server, &req),
        ("POST", HEARTBEAT) => heartbeat(server, &req),
        (_, p) if p == NODES || p.starts_with("/api/v1/nodes/") => nodes(server, &req, p),
        _ => Response::json(
            404,
            &api::status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        ),
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
    let url = format!(
        "https://{}",
        std::net::SocketAddr::new(req.peer.ip(), join.port)
    );
    crate::log::info(&format!(
        "Adding member {} ({url}) to etcd cluster",
        join.id
    ));
    let store = {
        let mut store = server.store();
        store.servers.insert(join.id, url);
        store.clone()
    };
    server.mark_dirty();
    Response::json(
        200,
        &JoinReply {
            id: server.id.clone(),
            ca: String::from_utf8_lossy(&server.ca).into_owned(),
            password: server.password.clone(),
            agent_password: server.agent_password.clone(),
            store,
        },
    )
}

fn sync(server: &Server, req: &Request) -> Response {
    if server.grant(req.bearer()) != Some(Grant::Server) {
        return unauthorized();
    }
    let Ok(theirs) = serde_json::from_slice::<Store>(&req.body) else {
        return Response::text(400, "malformed store");
    };
    let mut store = server.store();
    if store.merge(&theirs) {
        server.mark_dirty();
    }
    Response::json(200, &*store)
}

fn register(server: &Server, req: &Request) -> Response {
    if server.grant(req.bearer()).is_none() {
        return unauthorized();
    }
    let Ok(mut reg) = serde_json::from_slice::<Registration>(&req.body) else {
        return Response::text(400, "malformed registration");
    };
    if reg.internal_ip.is_empty() {
        reg.internal_ip = req.peer.ip().to_string();
    }
    let name = reg.name.clone();
    let result = server.store().register(reg, &server.id);
    match result {
        Ok(()) => {
            server.mark_dirty();
            crate::log::info(&format!("Node {name} registered"));
            Response::json(
                200,
                &RegisterReply {
                    servers: server.server_urls(),
                },
            )
        }
        Err(_) => {
            crate::log::error(&format!("Node {name}: {PASSWORD_REJECTED}"));
            Response::text(403, PASSWORD_REJECTED)
        }
    }
}

fn heartbeat(server: &Server, req: &Request) -> Response {
    if server.grant(req.bearer()).is_none() {
        return unauthorized();
    }
    let Ok(beat) = serde_json::from_slice::<Heartbeat>(&req.body) else {
        return Response::text(400, "malformed heartbeat");
    };
    let result = server.store().heartbeat(&beat.name, &beat.password);
    match result {
        Ok(()) => {
            server.mark_dirty();
            Response::text(200, "ok")
        }
        Err(Refusal::NotFound) => Response::text(404, "node not found"),
        Err(Refusal::PasswordRejected) => Response::text(403, PASSWORD_REJECTED),
    }
}

fn not_found(name: &str) -> Response {
    Response::json(
        404,
        &api::status(404, "NotFound", &format!("nodes \"{name}\" not found")),
    )
}

fn nodes(server: &Server, req: &Request, path: &str) -> Response {
    if req.bearer() != Some(server.admin_credential.as_str()) {
        return Response::json(401, &api::status(401, "Unauthorized", "Unauthorized"));
    }
    let name = path.strip_prefix("/api/v1/nodes/").unwrap_or("");
    let now = now_ms();
    match (req.method.as_str(), name) {
        ("GET", "") => Response::json(200, &api::node_list(server.store().live(), now)),
        ("GET", name) => match server.store().get(name) {
            Some(node) => Response::json(200, &api::node_json(node, now)),
            None => not_found(name),
        },
        ("PUT", name) if !name.is_empty() => {
            let Ok(edit) = serde_json::from_slice::<NodeEdit>(&req.body) else {
                return Response::json(400, &api::status(400, "BadRequest", "malformed node edit"));
            };
            let mut store = server.store();
            let result = store.update(
                name,
                edit.labels,
                edit.taints,
                edit.unschedulable,
                &server.id,
            );
            match result {
                Ok(()) => {
                    server.mark_dirty();
                    Response::json(
                        200,
                        &api::node_json(store.get(name).expect("just updated"), now),
                    )
                }
                Err(_) => not_found(name),
            }
        }
        ("DELETE", name) if !name.is_empty() => {
            let result = server.store().delete(name, &server.id);
            match result {
                Ok(()) => {
                    server.mark_dirty();
                    crate::log::info(&format!("Node {name} deleted"));
                    Response::json(200, &api::status(200, "", &format!("node {name} deleted")))
                }
                Err(_) => not_found(name),
            }
        }
        _ => Response::json(
            405,
            &api::status(405, "MethodNotAllowed", "method not allowed"),
        ),
    }
}
