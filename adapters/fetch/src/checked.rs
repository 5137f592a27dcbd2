//! The Workers counterparts of the native public-only clients (`molts-reqwest`'s `for_webhooks`
//! and `public_only`): fetch, after refusing a URL whose text names an internal host
//! (`molts_core::net::host_is_refused`, the operator's allow-list aside).
//!
//! That is all a Worker can check. The Workers runtime resolves names and connects itself, so a
//! public-looking name that resolves to an internal address cannot be seen here; but a Worker's
//! fetch leaves from Cloudflare's network, not the operator's, so such a name reaches neither the
//! operator's private services nor a cloud metadata endpoint (docs/deploy/cloudflare.md).

use async_trait::async_trait;
use molts_core::ErrorCode;
use molts_core::net::host_is_refused;
use molts_core::ports::{HttpRequest, HttpResponse, RequestOptions};
use molts_core::{Error, HttpClient, Result};

use crate::FetchHttpClient;

/// Whose URLs a [`TextCheckedFetch`] sends to, which decides the code of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Agents' webhook URLs: `webhook_url_refused`, as the native webhook client answers.
    Webhooks,
    /// Tenants' base URLs and providers' output URLs: `address_refused`, which the gateway
    /// turns into `base_url_refused` or `output_url_refused`.
    PublicOnly,
}

/// [`FetchHttpClient`] behind the URL-text check of `molts_core::net`.
#[derive(Debug, Clone)]
pub struct TextCheckedFetch {
    allowed_hosts: Vec<String>,
    role: Role,
}

impl TextCheckedFetch {
    /// The webhook client: refuses internal hosts by their text unless `allowed_hosts`
    /// (`MOLTS_WEBHOOK_ALLOW_HOSTS`) names them, with the code `webhook_url_refused`.
    pub fn for_webhooks(allowed_hosts: Vec<String>) -> Self {
        Self {
            allowed_hosts,
            role: Role::Webhooks,
        }
    }

    /// The public-only client: the same check, with the code `molts_core::ErrorCode::AddressRefused`.
    pub fn public_only(allowed_hosts: Vec<String>) -> Self {
        Self {
            allowed_hosts,
            role: Role::PublicOnly,
        }
    }

    /// `Ok` when `uri` may be fetched: http(s) with a host that is public or allow-listed.
    fn check(&self, uri: &http::Uri) -> Result<()> {
        let host = uri.host().unwrap_or_default();
        // `http::Uri` keeps an IPv6 literal's brackets, which is how `Host::parse` reads one.
        let public = matches!(uri.scheme_str(), Some("http" | "https"))
            && url::Host::parse(host)
                .is_ok_and(|h| !host_is_refused(&borrowed(&h), &self.allowed_hosts));
        if public {
            return Ok(());
        }
        Err(match self.role {
            Role::Webhooks => Error::forbidden(
                "webhook_url points at a loopback, private, link-local or internal address",
            )
            .with_code(ErrorCode::WebhookAddressRefused),
            Role::PublicOnly => Error::forbidden(
                "the host is a loopback, private, link-local or other internal address",
            )
            .with_code(ErrorCode::AddressRefused),
        })
    }
}

/// The host as `molts_core::net` takes it.
fn borrowed(host: &url::Host<String>) -> url::Host<&str> {
    match host {
        url::Host::Domain(d) => url::Host::Domain(d.as_str()),
        url::Host::Ipv4(ip) => url::Host::Ipv4(*ip),
        url::Host::Ipv6(ip) => url::Host::Ipv6(*ip),
    }
}

#[async_trait]
impl HttpClient for TextCheckedFetch {
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
        self.check(request.uri())?;
        FetchHttpClient.send(request, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> http::Uri {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn internal_hosts_are_refused_by_their_text() -> Result<(), String> {
        let client = TextCheckedFetch::public_only(Vec::new());
        for refused in [
            "http://127.0.0.1:8080/v.mp4",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://localhost/x",
            "http://db.internal/x",
            "http://10.0.0.5/x",
        ] {
            let Err(e) = client.check(&uri(refused)) else {
                return Err(format!("{refused} was let through"));
            };
            assert_eq!(e.code(), Some(ErrorCode::AddressRefused), "{refused}");
        }
        for public in [
            "https://cdn.example.com/v.mp4",
            "http://93.184.216.34/x",
            "https://[2606:4700::1]/x",
        ] {
            assert!(client.check(&uri(public)).is_ok(), "{public}");
        }
        Ok(())
    }

    #[test]
    fn the_allow_list_lets_a_host_through_and_webhooks_keep_their_code() -> Result<(), String> {
        let allowed = TextCheckedFetch::for_webhooks(vec!["127.0.0.1".into(), "::1".into()]);
        assert!(allowed.check(&uri("http://127.0.0.1:9000/hook")).is_ok());
        assert!(allowed.check(&uri("http://[::1]:9000/hook")).is_ok());
        let Err(e) = allowed.check(&uri("http://localhost:9000/hook")) else {
            return Err("localhost is not on the list".into());
        };
        assert_eq!(e.code(), Some(ErrorCode::WebhookAddressRefused));
        Ok(())
    }
}
