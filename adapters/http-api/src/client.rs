//! The address of the client a request came from, as the runtime saw it: what per-address
//! limits (anonymous registration) count against.
//!
//! Each runtime knows it its own way and says so with a [`ClientAddress`] request extension:
//! the standalone binary from the TCP connection's peer, Lambda from the API Gateway request
//! context's source IP, Workers from Cloudflare's `CF-Connecting-IP`. No header is read here:
//! on a runtime that does not vouch for one, a client could write any `X-Forwarded-For` it
//! likes. Without an address the per-address limits do not apply.

use std::net::IpAddr;

use axum::http::request::Parts;

/// The client's address, inserted as a request extension by a runtime that knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The address of the request's client, if the runtime told.
pub(crate) fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ClientAddress>()
        .map(|ClientAddress(address)| *address)
}
