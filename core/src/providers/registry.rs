//! Wiring every HTTP provider the same way on every runtime: one adapter per provider over the
//! given `HttpClient`, with keys and base URLs read from the variable names people already use
//! (`OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, ...). Runtimes add offline or custom adapters on top.

use std::sync::Arc;

use crate::domain::Provider;
use crate::ports::HttpClient;

use super::adapter::{Credentials, ProviderAdapter, ProviderRegistry};

/// Longest `<NAME>_TIMEOUT_SECONDS` honoured; a larger value is read as this.
pub(crate) const MAX_PROVIDER_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(60 * 60);
use super::template::TemplateAdapter;
use super::{
    AnthropicAdapter, ElevenLabsAdapter, GeminiAdapter, HeygenAdapter, IdeogramAdapter,
    OpenAiAdapter, PexelsAdapter, ShotstackAdapter, TavusAdapter,
};

/// The `(key, base URL)` variable names for `provider`, or `None` for providers configured
/// otherwise (`template` reads its config's mapping; `demo` needs nothing).
pub fn env_names(provider: Provider) -> Option<(&'static str, &'static str)> {
    Some(match provider {
        Provider::Openai => ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
        Provider::Anthropic => ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
        Provider::Gemini => ("GEMINI_API_KEY", "GEMINI_BASE_URL"),
        Provider::Ideogram => ("IDEOGRAM_API_KEY", "IDEOGRAM_BASE_URL"),
        Provider::Elevenlabs => ("ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL"),
        Provider::Heygen => ("HEYGEN_API_KEY", "HEYGEN_BASE_URL"),
        Provider::Tavus => ("TAVUS_API_KEY", "TAVUS_BASE_URL"),
        Provider::Pexels => ("PEXELS_API_KEY", "PEXELS_BASE_URL"),
        Provider::Shotstack => ("SHOTSTACK_API_KEY", "SHOTSTACK_BASE_URL"),
        Provider::OpenaiCompatible => ("OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL"),
        Provider::Template | Provider::Demo => return None,
    })
}

/// `provider`'s key and base URL from `env`; empty values count as unset.
pub fn credentials_from_env(
    provider: Provider,
    env: &dyn Fn(&str) -> Option<String>,
) -> Credentials {
    let read = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match env_names(provider) {
        Some((key, base)) => Credentials {
            api_key: read(key),
            base_url: read(base),
        },
        None => Credentials::default(),
    }
}

/// A `<NAME>_TIMEOUT_SECONDS` value: positive seconds (fractions allowed), at most
/// [`MAX_PROVIDER_TIMEOUT`]; anything else (zero or less than a nanosecond, negative, NaN, not a
/// number) is ignored.
fn timeout_setting(text: &str) -> Option<std::time::Duration> {
    let seconds = text.trim().parse::<f64>().ok()?;
    if seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    std::time::Duration::try_from_secs_f64(seconds.min(MAX_PROVIDER_TIMEOUT.as_secs_f64()))
        .ok()
        .filter(|t| !t.is_zero())
}

/// Every HTTP provider's adapter over `http` (Veo is served by the Gemini adapter). The gateway
/// builds a second set over its public-only client for destinations the operator did not
/// choose (`Gateway::with_public_only_http`).
pub fn http_adapters(http: Arc<dyn HttpClient>) -> Vec<(Provider, Arc<dyn ProviderAdapter>)> {
    vec![
        (
            Provider::Template,
            Arc::new(TemplateAdapter::new(http.clone())),
        ),
        (Provider::Openai, Arc::new(OpenAiAdapter::new(http.clone()))),
        (
            Provider::OpenaiCompatible,
            Arc::new(OpenAiAdapter::compatible(http.clone())),
        ),
        (
            Provider::Anthropic,
            Arc::new(AnthropicAdapter::new(http.clone())),
        ),
        (Provider::Gemini, Arc::new(GeminiAdapter::new(http.clone()))),
        (
            Provider::Ideogram,
            Arc::new(IdeogramAdapter::new(http.clone())),
        ),
        (
            Provider::Elevenlabs,
            Arc::new(ElevenLabsAdapter::new(http.clone())),
        ),
        (Provider::Pexels, Arc::new(PexelsAdapter::new(http.clone()))),
        (Provider::Heygen, Arc::new(HeygenAdapter::new(http.clone()))),
        (Provider::Tavus, Arc::new(TavusAdapter::new(http.clone()))),
        (Provider::Shotstack, Arc::new(ShotstackAdapter::new(http))),
    ]
}

/// A registry with every HTTP provider's adapter over `http` and each provider's credentials
/// from `env` (a lookup such as `|k| std::env::var(k).ok()`).
///
/// Adapters are registered whether or not a key is set, so a call to an unconfigured provider
/// fails with a message naming the variable to set. Veo video is served by the Gemini adapter.
pub fn http_registry(
    http: Arc<dyn HttpClient>,
    env: &dyn Fn(&str) -> Option<String>,
) -> ProviderRegistry {
    let mut registry = ProviderRegistry::new();
    for (provider, adapter) in http_adapters(http) {
        registry = registry.with_adapter(provider, adapter);
    }
    for provider in Provider::ALL {
        if let Some((key_var, _)) = env_names(provider) {
            registry = registry.with_credentials(provider, credentials_from_env(provider, env));
            // `OPENAI_TIMEOUT_SECONDS`, ...: how long to wait for that provider's answer.
            let timeout_var = format!("{}_TIMEOUT_SECONDS", key_var.trim_end_matches("_API_KEY"));
            if let Some(timeout) = env(&timeout_var).as_deref().and_then(timeout_setting) {
                registry = registry.with_timeout(provider, timeout);
            }
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_keys_and_base_urls_by_their_usual_names() {
        let env = |k: &str| match k {
            "OPENAI_API_KEY" => Some("sk-x".to_owned()),
            "OPENAI_TIMEOUT_SECONDS" => Some("2.5".to_owned()),
            "ANTHROPIC_TIMEOUT_SECONDS" => Some("-1".to_owned()),
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/openai/v1".to_owned()),
            "PEXELS_API_KEY" => Some("  ".to_owned()),
            _ => None,
        };
        let registry = http_registry(Arc::new(NoHttp), &env);
        let openai = registry.credentials(Provider::Openai);
        assert_eq!(openai.api_key.as_deref(), Some("sk-x"));
        assert_eq!(
            openai.base_url.as_deref(),
            Some("http://127.0.0.1:9/openai/v1")
        );
        assert_eq!(registry.credentials(Provider::Pexels).api_key, None);
        assert_eq!(
            registry.timeout(Provider::Openai),
            std::time::Duration::from_millis(2500)
        );
        assert_eq!(
            registry.timeout(Provider::Anthropic),
            crate::providers::DEFAULT_PROVIDER_TIMEOUT,
            "nonsense is ignored"
        );
        for p in [
            Provider::Openai,
            Provider::OpenaiCompatible,
            Provider::Anthropic,
            Provider::Gemini,
            Provider::Ideogram,
            Provider::Elevenlabs,
            Provider::Pexels,
            Provider::Heygen,
            Provider::Tavus,
            Provider::Shotstack,
        ] {
            assert!(registry.has(p), "{p:?}");
        }
        assert!(!registry.has(Provider::Demo));
    }

    struct NoHttp;
    #[async_trait::async_trait]
    impl HttpClient for NoHttp {
        async fn send(
            &self,
            _: crate::ports::HttpRequest,
            _: crate::ports::RequestOptions,
        ) -> crate::Result<crate::ports::HttpResponse> {
            Err(crate::Error::unavailable("no network in this test"))
        }
    }

    #[test]
    fn a_huge_timeout_is_clamped_not_a_panic() {
        let env = |k: &str| (k == "OPENAI_TIMEOUT_SECONDS").then(|| "1e20".to_owned());
        let registry = http_registry(Arc::new(NoHttp), &env);
        assert_eq!(registry.timeout(Provider::Openai), MAX_PROVIDER_TIMEOUT);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_timeout_text_is_ignored_or_within_bounds(
            text in prop_oneof![
                any::<f64>().prop_map(|f| f.to_string()),
                "[-+0-9eE.naifNIF ]{0,24}",
                any::<String>(),
            ]
        ) {
            if let Some(t) = timeout_setting(&text) {
                prop_assert!(t > std::time::Duration::ZERO && t <= MAX_PROVIDER_TIMEOUT);
            }
        }
    }
}
