//! The closed set of machine-readable error codes: each with its wire string (the `code` of the
//! HTTP API's error body, never changed), the [`ErrorKind`] an error with it carries, and its
//! [`Retry`] class. Decisions on an error match on these variants, never on strings; the error
//! table of `docs/API.md` is tested against [`ErrorCode::ALL`].

use std::fmt;

use crate::error::ErrorKind;

/// Whether, and by whom, a failed request may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// The same request will fail the same way: the HTTP API says `x-should-retry: false`, and
    /// routing stops at once.
    Never,
    /// A later try by the caller may succeed, but molts does not retry it itself (a bug or an
    /// unexpected state).
    Caller,
    /// This provider will not recover in a moment (a refused or missing key, a refused
    /// `base_url`): routing goes straight to the next fallback; the caller may retry later.
    Fallback,
    /// Transient: routing retries after a backoff, and so may the caller.
    Backoff,
}

impl Retry {
    /// The class of an error of `kind` that has no code (or whose code says no more).
    pub const fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::RateLimited | ErrorKind::Unavailable => Self::Backoff,
            ErrorKind::Internal => Self::Caller,
            ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::Invalid
            | ErrorKind::QuotaExceeded => Self::Never,
        }
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $wire:literal, $kind:ident $(, $retry:ident)?;)*) => {
        /// A machine-readable error code; see the module comment.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire string, as the HTTP API's error body's `code` carries it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                }
            }

            /// The kind an error with this code carries.
            pub const fn kind(self) -> ErrorKind {
                match self {
                    $(ErrorCode::$variant => ErrorKind::$kind,)*
                }
            }

            /// Whether, and by whom, the request may be tried again.
            pub const fn retry(self) -> Retry {
                match self {
                    $(ErrorCode::$variant => codes!(@retry $kind $(, $retry)?),)*
                }
            }
        }
    };
    (@retry $kind:ident) => { Retry::of(ErrorKind::$kind) };
    (@retry $kind:ident, $retry:ident) => { Retry::$retry };
}

impl ErrorCode {
    /// Parses the wire string.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

codes! {
    // 400
    /// The body is not JSON, or not the JSON the route takes.
    InvalidJson = "invalid_json", Invalid;
    /// A value breaks a rule.
    InvalidValue = "invalid_value", Invalid;
    /// The body names a field the route does not take.
    UnknownField = "unknown_field", Invalid;
    /// The query string is malformed.
    InvalidQuery = "invalid_query", Invalid;
    /// A path parameter is malformed.
    InvalidPath = "invalid_path", Invalid;
    /// The body could not be read.
    InvalidBody = "invalid_body", Invalid;
    /// No model was named and no default serves the modality.
    ModelRequired = "model_required", Invalid;
    /// The provider refused the request as it was asked.
    ProviderRejected = "provider_rejected", Invalid;
    /// The model's provider does not offer what was asked.
    UnsupportedByProvider = "unsupported_by_provider", Invalid;
    /// The output format asked for is not offered.
    UnsupportedFormat = "unsupported_format", Invalid;
    /// A model template names a value the request does not give.
    MissingTemplateValue = "missing_template_value", Invalid;
    /// A provider key was set while the operator has no secret key to seal it with.
    SecretKeyNotConfigured = "secret_key_not_configured", Invalid;
    /// An admin set a provider `base_url` on an internal address.
    BaseUrlRefused = "base_url_refused", Invalid;
    /// A job's `webhook_url` is refused (an internal address, or not a URL that can be sent).
    WebhookUrlRefused = "webhook_url_refused", Invalid;
    // 401
    /// No API key was sent.
    MissingApiKey = "missing_api_key", Unauthorized;
    /// The API key is unknown, revoked or expired.
    InvalidApiKey = "invalid_api_key", Unauthorized;
    /// A provider callback did not check out.
    CallbackRefused = "callback_refused", Unauthorized;
    // 403
    /// Valid credentials that may not do this.
    Forbidden = "forbidden", Forbidden;
    /// The agent is suspended.
    AgentSuspended = "agent_suspended", Forbidden;
    /// Self-registration is closed.
    RegistrationClosed = "registration_closed", Forbidden;
    /// Self-registration needs a token.
    RegistrationTokenRequired = "registration_token_required", Forbidden;
    /// The registration token does not check out.
    RegistrationTokenInvalid = "registration_token_invalid", Forbidden;
    /// A provider's output URL is on an internal address.
    OutputUrlRefused = "output_url_refused", Forbidden;
    /// A public-only HTTP client refused a name resolving to internal addresses. Core reads it
    /// as [`ErrorCode::ProviderBaseUrlRefused`] or [`ErrorCode::OutputUrlRefused`].
    AddressRefused = "address_refused", Forbidden;
    /// The webhooks' HTTP client refused an internal target at delivery.
    WebhookAddressRefused = "webhook_url_refused", Forbidden;
    // 404
    /// No such thing (or another tenant's).
    NotFound = "not_found", NotFound;
    /// No such model.
    ModelNotFound = "model_not_found", NotFound;
    /// No such route.
    RouteNotFound = "route_not_found", NotFound;
    // 405
    /// The route does not take this method.
    MethodNotAllowed = "method_not_allowed", Invalid;
    // 409
    /// The request clashes with existing state.
    Conflict = "conflict", Conflict;
    /// An `Idempotency-Key` was reused with a different request.
    IdempotencyKeyReused = "idempotency_key_reused", Conflict;
    /// The job already ended.
    JobFinished = "job_finished", Conflict;
    // 413
    /// The body is larger than allowed.
    BodyTooLarge = "body_too_large", Invalid;
    // 415
    /// The body is not of a type the route takes.
    UnsupportedMediaType = "unsupported_media_type", Invalid;
    // 416
    /// The `Range` asked for is outside the artifact.
    RangeNotSatisfiable = "range_not_satisfiable", Invalid;
    // 429
    /// Too many requests in the window.
    RateLimitExceeded = "rate_limit_exceeded", RateLimited;
    /// The provider said too many requests.
    ProviderRateLimited = "provider_rate_limited", RateLimited;
    /// The tier's units are used up.
    QuotaExceeded = "quota_exceeded", QuotaExceeded;
    // 500
    /// A bug or an unexpected state.
    InternalError = "internal_error", Internal;
    // 503
    /// A dependency is down.
    Unavailable = "unavailable", Unavailable;
    /// The deployment is misconfigured.
    NotConfigured = "not_configured", Unavailable;
    /// Artifacts are asked for but no blob store is configured.
    ArtifactsNotConfigured = "artifacts_not_configured", Unavailable;
    /// Applying the database migrations failed.
    MigrationFailed = "migration_failed", Unavailable;
    /// The job is busy elsewhere; try again.
    JobBusy = "job_busy", Unavailable;
    /// The provider is down or answered with a server error.
    ProviderUnavailable = "provider_unavailable", Unavailable;
    /// The provider's answer could not be read.
    ProviderBadResponse = "provider_bad_response", Unavailable;
    /// The provider's stream ended early.
    ProviderStreamCut = "provider_stream_cut", Unavailable;
    /// The provider answered without an output.
    ProviderNoOutput = "provider_no_output", Unavailable;
    /// The provider refused the key.
    ProviderAuthFailed = "provider_auth_failed", Unavailable, Fallback;
    /// The provider has no key, or is not enabled.
    ProviderNotConfigured = "provider_not_configured", Unavailable, Fallback;
    /// The `base_url` an instance set for a provider resolves only to internal addresses.
    ProviderBaseUrlRefused = "base_url_refused", Unavailable, Fallback;
    /// A dependency did not answer in time.
    UpstreamTimeout = "upstream_timeout", Unavailable;
    /// A dependency could not be reached.
    UpstreamUnreachable = "upstream_unreachable", Unavailable;
    /// A dependency's answer was cut off.
    UpstreamBrokenBody = "upstream_broken_body", Unavailable;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wire_string_shared_by_two_codes_is_one_refusal_in_two_places() {
        let mut seen = std::collections::HashMap::new();
        for &code in ErrorCode::ALL {
            if let Some(other) = seen.insert(code.as_str(), code) {
                assert!(
                    matches!(
                        (other, code),
                        (ErrorCode::BaseUrlRefused, ErrorCode::ProviderBaseUrlRefused)
                            | (
                                ErrorCode::WebhookUrlRefused,
                                ErrorCode::WebhookAddressRefused
                            )
                    ),
                    "{code:?} repeats {other:?}'s wire string"
                );
            }
        }
    }

    #[test]
    fn wire_strings_are_snake_case() {
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn only_provider_failures_send_routing_to_the_next_fallback() {
        for &code in ErrorCode::ALL {
            if code.retry() == Retry::Fallback {
                assert_eq!(code.kind(), ErrorKind::Unavailable, "{code:?}");
            }
        }
        assert_eq!(ErrorCode::QuotaExceeded.retry(), Retry::Never);
        assert_eq!(ErrorCode::InternalError.retry(), Retry::Caller);
        assert_eq!(ErrorCode::UpstreamTimeout.retry(), Retry::Backoff);
    }
}
