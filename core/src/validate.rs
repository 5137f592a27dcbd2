//! Input rules shared by the use cases. Each check fails with `Invalid`, naming the parameter.

use crate::error::{Error, Result};

/// Longest SOUL.md accepted, in bytes.
pub const MAX_SOUL_MD_BYTES: usize = 64 * 1024;

/// A display name: trimmed, 1 to `max` characters, no control characters.
pub fn name(param: &'static str, value: &str, max: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(param, format!("{param} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(Error::invalid(
            param,
            format!("{param} must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(
            param,
            format!("{param} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An identifier chosen by an operator: 1–64 of `a-z 0-9 - _ .`, starting with a letter or digit.
/// Colons are refused because `provider:model` is the legacy model form.
pub fn slug(param: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            param,
            format!(
                "{param} must be 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit"
            ),
        ))
    }
}

/// An email address, loosely: one `@` with text on both sides, a dot in the domain, ≤ 254 bytes.
pub fn email(value: &str) -> Result<String> {
    let v = value.trim();
    let valid = v.len() <= 254
        && !v.chars().any(char::is_whitespace)
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(Error::invalid("email", "email is not a valid address"))
    }
}

/// An absolute http(s) URL.
pub fn http_url(param: &'static str, value: &str) -> Result<String> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u.to_string()),
        _ => Err(Error::invalid(
            param,
            format!("{param} must be an absolute http(s) URL"),
        )),
    }
}

/// SOUL.md text within the size limit.
pub fn soul_md(value: &str) -> Result<()> {
    if value.len() > MAX_SOUL_MD_BYTES {
        return Err(Error::invalid(
            "soul_md",
            format!("soul_md must be at most {MAX_SOUL_MD_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Ada ", 10).ok(), Some("Ada".to_owned()));
        assert!(name("name", "   ", 10).is_err());
        assert!(name("name", "abcdefghijk", 10).is_err());
        assert!(name("name", "a\u{7}b", 10).is_err());
    }

    #[test]
    fn slugs_refuse_colons_and_capitals() {
        assert!(slug("id", "gpt-4o").is_ok());
        assert!(slug("id", "veo-3.1").is_ok());
        assert!(slug("id", "openai:gpt-4o").is_err());
        assert!(slug("id", "Free").is_err());
        assert!(slug("id", "-x").is_err());
        assert!(slug("id", "").is_err());
    }

    #[test]
    fn emails_and_urls() {
        assert_eq!(
            email(" Ada@Example.com").ok(),
            Some("ada@example.com".to_owned())
        );
        assert!(email("nope").is_err());
        assert!(email("a@b").is_err());
        assert!(email("a b@c.d").is_err());
        assert!(http_url("u", "https://x.test/a.wav").is_ok());
        assert!(http_url("u", "/relative").is_err());
        assert!(http_url("u", "ftp://x.test").is_err());
    }
}
