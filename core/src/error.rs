//! The one error type of molts: a [`ErrorKind`] that callers match on, a message safe to show a
//! client, an optional offending parameter, and a boxed source kept for logs only.
//!
//! Adapters keep their own error enums and convert into this one; the HTTP adapter alone turns a
//! kind (and, for a few, a code) into a status code. The codes are the closed set of
//! [`ErrorCode`]: decisions match on them, never on strings.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::error_code::{ErrorCode, Retry};

/// What went wrong, in the terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The thing asked for does not exist, or the caller may not know that it does.
    NotFound,
    /// The request clashes with existing state (a duplicate email, a second settle).
    Conflict,
    /// No credentials, or credentials that do not check out.
    Unauthorized,
    /// Valid credentials that may not do this.
    Forbidden,
    /// The input is malformed or breaks a rule.
    Invalid,
    /// The caller's tier has no units left for this period.
    QuotaExceeded,
    /// Too many requests in the current window.
    RateLimited,
    /// A dependency (database, provider) is down or timed out; retrying may help.
    Unavailable,
    /// A bug or an unexpected state; details go to the log, not to the client.
    Internal,
}

/// The error every molts operation returns.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    code: Option<ErrorCode>,
    param: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message that may be shown to the client.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            param: None,
            retry_after: None,
            source: None,
        }
    }

    /// `what` (for example "agent") with `id` does not exist.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} '{id}' not found"))
            .with_code(ErrorCode::NotFound)
    }

    /// The input breaks a rule; `param` names the field.
    pub fn invalid(param: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Invalid, message)
            .with_code(ErrorCode::InvalidValue)
            .with_param(param)
    }

    /// The request clashes with existing state.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Conflict, message).with_code(ErrorCode::Conflict)
    }

    /// Credentials are missing or wrong.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unauthorized, message).with_code(ErrorCode::InvalidApiKey)
    }

    /// Credentials are fine but may not do this.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, message).with_code(ErrorCode::Forbidden)
    }

    /// A bug or unexpected state. The message is replaced by a generic one at the HTTP edge.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Internal, message).with_code(ErrorCode::InternalError)
    }

    /// A dependency is down; retrying later may succeed.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unavailable, message).with_code(ErrorCode::Unavailable)
    }

    /// A new error with `code`, of the kind that code carries.
    pub fn coded(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code.kind(), message).with_code(code)
    }

    /// Sets the machine-readable code. The code must be one of this error's kind (each code says
    /// which, [`ErrorCode::kind`]); debug builds check it.
    #[must_use]
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        debug_assert_eq!(
            self.kind,
            code.kind(),
            "{code:?} on a {:?} error",
            self.kind
        );
        self.code = Some(code);
        self
    }

    /// Names the request parameter at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Tells the client when to try again (rate limits, outages).
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Keeps the underlying cause for the logs.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The client-safe message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The machine-readable code, if one was set.
    pub fn code(&self) -> Option<ErrorCode> {
        self.code
    }

    /// Whether, and by whom, the request may be tried again: its code's class, else its kind's.
    pub fn retry(&self) -> Retry {
        self.code.map_or(Retry::of(self.kind), ErrorCode::retry)
    }

    /// The offending request parameter, if known.
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// How long the client should wait before retrying, if known.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_kind_message_and_source() {
        let io = std::io::Error::other("disk gone");
        let e = Error::unavailable("database unreachable").with_source(io);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "Unavailable: database unreachable: disk gone"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn builders_set_code_param_and_retry() {
        let e = Error::invalid("email", "email must contain '@'")
            .with_retry_after(Duration::from_secs(3));
        assert_eq!(e.param(), Some("email"));
        assert_eq!(e.code(), Some(ErrorCode::InvalidValue));
        assert_eq!(e.retry(), Retry::Never);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }
}
