//! Shared by the tests of the filtered clients: a name lookup answering from a table, and the
//! request options and GET request they send. Not every test binary uses every helper.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use molts_core::ports::RequestOptions;
use molts_reqwest::Lookup;

/// A name lookup from a table: what a hostile DNS zone would answer.
struct Zone(HashMap<String, Vec<IpAddr>>);

#[async_trait]
impl Lookup for Zone {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.0
            .get(host)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
    }
}

/// A zone answering each name with its addresses; other names are not found.
pub(crate) fn zone(answers: &[(&str, &[&str])]) -> Arc<dyn Lookup> {
    let table = answers
        .iter()
        .map(|(name, ips)| {
            let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
            ((*name).to_owned(), ips)
        })
        .collect();
    Arc::new(Zone(table))
}

/// Five seconds for every request.
pub(crate) fn opts() -> RequestOptions {
    RequestOptions {
        timeout: Duration::from_secs(5),
    }
}

/// A bodiless GET of `url`.
pub(crate) fn get_request(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}
