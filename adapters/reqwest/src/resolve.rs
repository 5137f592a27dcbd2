//! Resolve-then-filter DNS for the webhook client: a `reqwest::dns::Resolve` that looks a name
//! up (the system resolver by default, any [`Lookup`] in tests) and keeps only the addresses
//! `molts_core::net::is_public_address` accepts, so a public-looking name that resolves to
//! `127.0.0.1`, `10.x` or `169.254.169.254` is refused at connection time, on every attempt
//! (a name that rebinds from public to private between registration and delivery included).
//! The connection goes to the addresses checked here, never to a second lookup's.
//!
//! Hosts on the operator's allow-list (`MOLTS_WEBHOOK_ALLOW_HOSTS`) keep every address. IP
//! literals never reach a resolver: the gateway's URL guard judges those.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use molts_core::net::{host_is_allowed, is_public_address};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Looks a host name up: the seam under [`PublicOnlyResolver`], so tests can answer a name
/// with a private address without real DNS.
#[async_trait]
pub trait Lookup: Send + Sync {
    /// Every address `host` resolves to.
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The system resolver (`getaddrinfo`, through `tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

/// Every address a name resolved to was internal. Carries no address or name: it reaches the
/// delivery log the agent reads, which must not map the operator's network.
#[derive(Debug)]
pub(crate) struct AddressRefused;

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves only to internal addresses")
    }
}

impl std::error::Error for AddressRefused {}

/// Whether `error`, or anything under it, is the resolver's refusal.
pub(crate) fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<AddressRefused>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The resolve-then-filter resolver (see the module header).
#[derive(Clone)]
pub struct PublicOnlyResolver {
    lookup: Arc<dyn Lookup>,
    allowed_hosts: Arc<[String]>,
}

impl PublicOnlyResolver {
    /// Filters what `lookup` answers, except for the hosts in `allowed_hosts` (names as in
    /// `MOLTS_WEBHOOK_ALLOW_HOSTS`, matched as the gateway's URL guard matches them).
    pub fn new(lookup: Arc<dyn Lookup>, allowed_hosts: Vec<String>) -> Self {
        Self {
            lookup,
            allowed_hosts: allowed_hosts.into(),
        }
    }

    /// The addresses a connection to `host` may use, or the refusal.
    async fn addresses(
        &self,
        host: &str,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found = self.lookup.lookup(host).await?;
        if host_is_allowed(&self.allowed_hosts, host) {
            return Ok(found);
        }
        let public: Vec<IpAddr> = found
            .into_iter()
            .filter(|ip| is_public_address(*ip))
            .collect();
        if public.is_empty() {
            return Err(Box::new(AddressRefused));
        }
        Ok(public)
    }
}

impl std::fmt::Debug for PublicOnlyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicOnlyResolver")
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = this.addresses(&host).await?;
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<IpAddr>);

    #[async_trait]
    impl Lookup for Fixed {
        async fn lookup(&self, _host: &str) -> io::Result<Vec<IpAddr>> {
            Ok(self.0.clone())
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().filter_map(|s| s.parse().ok()).collect()
    }

    #[tokio::test]
    async fn internal_addresses_are_dropped_and_none_left_is_a_refusal() {
        let mixed = PublicOnlyResolver::new(
            Arc::new(Fixed(ips(&[
                "10.0.0.7",
                "93.184.216.34",
                "::ffff:127.0.0.1",
            ]))),
            Vec::new(),
        );
        assert_eq!(
            mixed.addresses("hooks.example.test").await.ok(),
            Some(ips(&["93.184.216.34"]))
        );
        let private = PublicOnlyResolver::new(
            Arc::new(Fixed(ips(&["127.0.0.1", "169.254.169.254", "fd00::1"]))),
            Vec::new(),
        );
        let refused = private.addresses("hooks.example.test").await.err();
        assert!(refused.is_some_and(|e| is_refusal(e.as_ref())));
        let allowed = PublicOnlyResolver::new(
            Arc::new(Fixed(ips(&["127.0.0.1"]))),
            vec!["Hooks.Example.Test".to_owned()],
        );
        assert_eq!(
            allowed.addresses("hooks.example.test").await.ok(),
            Some(ips(&["127.0.0.1"]))
        );
    }
}
