//! object_store errors as molts errors. The client-facing message is generic; the backend's own
//! text is kept as the source for logs, with URL query strings and passwords cut out, since a
//! SAS token or a signature can ride in a request URL that a transport error quotes.

use std::fmt;

use molts_core::Error;

/// Maps a failed call on `key`.
pub(crate) fn map(e: object_store::Error, key: &str) -> Error {
    use object_store::Error as E;
    let mapped = match &e {
        E::NotFound { .. } => return Error::not_found("object", key),
        E::InvalidPath { .. } => Error::invalid("key", "the object key is not a valid path"),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            Error::unavailable("the artifact store refused molts' credentials")
        }
        E::NotSupported { .. } | E::NotImplemented { .. } => {
            Error::internal("the artifact store does not support this operation")
        }
        _ => Error::unavailable("the artifact store is unavailable"),
    };
    mapped.with_source(Scrubbed(scrub(&e.to_string())))
}

/// Whether `e` is object_store's not-found.
pub(crate) fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

/// A backend message fit for logs.
#[derive(Debug)]
pub(crate) struct Scrubbed(pub(crate) String);

impl fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Scrubbed {}

/// `text` with every URL's query string and password replaced: `https://h/p?sig=…` becomes
/// `https://h/p?…`, `https://u:pw@h` becomes `https://u:***@h`.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // Back up to the start of the scheme.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..scheme_start]);
        let url_end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
            .map_or(rest.len(), |i| at + i);
        let url = &rest[scheme_start..url_end];
        let url = match url.find('?') {
            Some(q) => format!("{}?…", &url[..q]),
            None => url.to_owned(),
        };
        out.push_str(&molts_core::secret::redact_url(&url));
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use molts_core::ErrorKind;

    #[test]
    fn urls_lose_queries_and_passwords() {
        assert_eq!(
            scrub(
                "error sending request for url (https://acct.blob.core.windows.net/c/k?sv=1&sig=SECRET): timed out"
            ),
            "error sending request for url (https://acct.blob.core.windows.net/c/k?…): timed out"
        );
        assert_eq!(
            scrub("GET http://user:hunter2@minio:9000/b/k failed"),
            "GET http://user:***@minio:9000/b/k failed"
        );
        assert_eq!(scrub("no url here"), "no url here");
        assert_eq!(scrub("a s3://b/k?x=1, then c"), "a s3://b/k?…, then c");
    }

    #[test]
    fn kinds_follow_the_backend_error() {
        let missing = object_store::Error::NotFound {
            path: "p".into(),
            source: "gone".into(),
        };
        assert_eq!(map(missing, "k").kind(), ErrorKind::NotFound);
        let denied = object_store::Error::PermissionDenied {
            path: "p".into(),
            source: "https://h/k?X-Amz-Signature=SECRET".into(),
        };
        let mapped = map(denied, "k");
        assert_eq!(mapped.kind(), ErrorKind::Unavailable);
        assert!(!mapped.to_string().contains("SECRET"), "{mapped}");
        let other = object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        };
        assert_eq!(map(other, "k").kind(), ErrorKind::Unavailable);
    }
}
