//! Who is on the other end of the connection, for the per-client limits.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

/// The connection's peer address as the server saw it, and the request's headers; `None`
/// where the router is driven without a server (in-process calls).
#[derive(Debug, Clone)]
pub struct ClientAddress {
    peer: Option<IpAddr>,
    forwarded_for: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        Ok(ClientAddress {
            peer,
            forwarded_for: last_forwarded_for(&parts.headers),
        })
    }
}

impl ClientAddress {
    /// The address to count tries against: the last `X-Forwarded-For` entry when the
    /// Ingress is trusted to have added it (the entries before it are the client's own
    /// word), else the peer.
    pub fn key(&self, trust_forwarded_for: bool) -> String {
        let address = if trust_forwarded_for {
            self.forwarded_for.or(self.peer)
        } else {
            self.peer
        };
        address.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}
