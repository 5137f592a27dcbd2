//! Bearer secrets (agent API keys `ml_…`, admin keys `mla_…`): generation, hashing and
//! constant-time verification. A secret is shown once; only its SHA-256 and a lookup prefix are
//! stored. SHA-256 (not a slow password hash) is right here because the secrets carry 256 bits of
//! randomness: there is nothing to brute-force, and authentication stays on the hot path's budget.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::ids::Ids;

/// Characters of a secret kept in clear for lookup and display (`ml_` plus 13 hex digits).
pub const LOOKUP_PREFIX_LEN: usize = 16;
/// Random bytes in a generated secret (256 bits).
const SECRET_BYTES: usize = 32;
/// The shortest operator-chosen secret accepted (for `MOLTS_ADMIN_TOKEN`).
pub const MIN_CHOSEN_SECRET_LEN: usize = 32;

/// A freshly made secret: the clear text (to show once) and what is stored.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// The clear text. Never stored, never logged.
    pub clear: String,
    /// What the store keeps to find and check it.
    pub stored: StoredSecret,
}

/// The stored half of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// First [`LOOKUP_PREFIX_LEN`] characters of the clear text; indexed, not unique.
    pub prefix: String,
    /// Lowercase hex SHA-256 of the clear text.
    pub hash: String,
}

/// Makes a new secret with the given tag (`ml` or `mla`): `tag_` + 64 hex digits.
pub fn generate(ids: &dyn Ids, tag: &str) -> Result<NewSecret> {
    let mut bytes = [0u8; SECRET_BYTES];
    ids.fill_secret(&mut bytes)?;
    let clear = format!("{tag}_{}", hex::encode(bytes));
    let stored = stored_form(&clear);
    Ok(NewSecret { clear, stored })
}

/// The stored form of an operator-chosen secret, which must be long enough to be unguessable.
pub fn chosen(clear: &str) -> Result<StoredSecret> {
    if clear.len() < MIN_CHOSEN_SECRET_LEN || clear.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "token",
            format!(
                "a chosen token needs at least {MIN_CHOSEN_SECRET_LEN} characters and no spaces"
            ),
        ));
    }
    Ok(stored_form(clear))
}

/// The prefix and hash of any clear text.
pub fn stored_form(clear: &str) -> StoredSecret {
    StoredSecret {
        prefix: lookup_prefix(clear).to_owned(),
        hash: hash(clear),
    }
}

/// The lookup prefix of a presented secret (the whole text if shorter).
pub fn lookup_prefix(clear: &str) -> &str {
    match clear.char_indices().nth(LOOKUP_PREFIX_LEN) {
        Some((i, _)) => &clear[..i],
        None => clear,
    }
}

/// Lowercase hex SHA-256.
pub fn hash(clear: &str) -> String {
    hex::encode(Sha256::digest(clear.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let presented = hash(presented);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A URL with any password in it replaced by `***`, fit for logs and error messages
/// (`postgres://u:secret@h/db` → `postgres://u:***@h/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SystemIds;

    #[test]
    fn generated_keys_have_tag_entropy_and_verify() -> Result<()> {
        let a = generate(&SystemIds, "ml")?;
        let b = generate(&SystemIds, "ml")?;
        assert!(a.clear.starts_with("ml_"));
        assert_eq!(a.clear.len(), 3 + 64);
        assert_ne!(a.clear, b.clear);
        assert_eq!(a.stored.prefix, &a.clear[..LOOKUP_PREFIX_LEN]);
        assert!(!a.stored.hash.contains(&a.clear[3..]));
        assert!(verify(&a.clear, &a.stored.hash));
        assert!(!verify(&b.clear, &a.stored.hash));
        Ok(())
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://molts.db?mode=rwc"),
            "sqlite://molts.db?mode=rwc"
        );
    }

    #[test]
    fn chosen_secrets_must_be_long() {
        assert!(chosen("short").is_err());
        assert!(chosen("has a space in it but is long enough!!").is_err());
        assert!(chosen("0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn lookup_prefix_handles_short_and_multibyte() {
        assert_eq!(lookup_prefix("abc"), "abc");
        assert_eq!(
            lookup_prefix("ééééééééééééééééé").chars().count(),
            LOOKUP_PREFIX_LEN
        );
    }
}
