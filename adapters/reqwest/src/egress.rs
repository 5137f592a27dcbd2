//! The egress proxy of the public-only clients (`MOLTS_EGRESS_PROXY`).
//!
//! The public-only clients (webhook deliveries, a tenant's own base URL, the output URLs
//! providers answer with) resolve names themselves and refuse internal addresses, so they cannot
//! honour `HTTP_PROXY` / `HTTPS_PROXY`: through a proxy, the proxy resolves the name and the
//! filter never sees an address. Where molts reaches the internet only through a proxy, that left
//! those destinations unreachable. An operator names a proxy for them here instead, on purpose:
//! every request of those clients then goes through it (a `CONNECT` tunnel for `https`), the
//! proxy decides which addresses are reachable (an egress proxy such as Smokescreen, or a Squid
//! that denies internal networks), and molts keeps only the checks it can make on the URL's text
//! (internal IP literals and names). It is opt-in because it moves that decision off molts: the
//! general proxy variables of a machine often reach internal networks.

use molts_core::{Error, Result};

/// A proxy URL, checked when the configuration is read: `http://host:port` or
/// `https://host:port`, optionally with `user:password@` (sent as basic proxy authorisation).
#[derive(Clone)]
pub struct EgressProxy {
    url: reqwest::Url,
}

impl EgressProxy {
    /// Parses `MOLTS_EGRESS_PROXY`'s value. Errors never repeat the value: it may carry a
    /// password.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &'static str| Error::invalid("MOLTS_EGRESS_PROXY", why);
        let url = reqwest::Url::parse(text.trim())
            .map_err(|_| invalid("MOLTS_EGRESS_PROXY is not a URL (expected http://host:port)"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                "MOLTS_EGRESS_PROXY must be an http:// or https:// proxy URL",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("MOLTS_EGRESS_PROXY names no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "MOLTS_EGRESS_PROXY must be only scheme, host and port (a proxy has no path)",
            ));
        }
        Ok(Self { url })
    }

    /// The proxy as logs may show it: scheme, host and port, never its credentials.
    pub fn shown(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }

    /// The reqwest proxy for every scheme (credentials in the URL become basic authorisation).
    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Proxy> {
        reqwest::Proxy::all(self.url.clone()).map_err(|e| {
            Error::internal("the egress proxy could not be configured").with_source(e.without_url())
        })
    }
}

impl std::fmt::Debug for EgressProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EgressProxy").field(&self.shown()).finish()
    }
}

/// The general proxy variables (which the unfiltered client honours) that are set in this
/// process's environment.
fn system_proxy_variables() -> Vec<&'static str> {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    .collect()
}

/// Logs, once at start, where the public-only clients send: through the egress proxy, or
/// directly — with a warning when the machine has a general proxy, since in a network where only
/// a proxy reaches the internet those direct connections fail.
pub fn log_egress_route(egress_proxy: Option<&EgressProxy>) {
    if let Some(proxy) = egress_proxy {
        tracing::info!(
            proxy = %proxy.shown(),
            "webhook deliveries, tenants' own base URLs and provider output URLs go through the egress proxy"
        );
        return;
    }
    let set = system_proxy_variables();
    if !set.is_empty() {
        tracing::warn!(
            "{} is set and used for provider calls to configured hosts, but webhook deliveries, \
             tenants' own base URLs and provider output URLs connect directly (they refuse \
             internal addresses themselves); where only a proxy reaches the internet, set \
             MOLTS_EGRESS_PROXY to a proxy that refuses internal addresses",
            set.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_is_scheme_host_and_port() -> Result<()> {
        let proxy = EgressProxy::parse(" http://user:s3cret@egress.example:4750 ")?;
        assert_eq!(proxy.shown(), "http://egress.example:4750");
        assert!(!format!("{proxy:?}").contains("s3cret"));
        let bare = EgressProxy::parse("https://egress.example/")?;
        assert_eq!(bare.shown(), "https://egress.example");
        for bad in [
            "egress.example:4750",
            "socks5://u:s3cret@egress.example:1080",
            "http://egress.example:4750/path",
            "http://egress.example:4750/?q=1",
            "http://:4750",
            "",
        ] {
            let Err(error) = EgressProxy::parse(bad) else {
                return Err(Error::internal(format!("{bad} was accepted")));
            };
            assert_eq!(error.kind(), molts_core::ErrorKind::Invalid, "{bad}");
            assert_eq!(error.param(), Some("MOLTS_EGRESS_PROXY"), "{bad}");
            assert!(!format!("{error} {error:?}").contains("s3cret"), "{bad}");
        }
        Ok(())
    }
}
