//! Sealing secrets at rest (tenants' own provider keys): ChaCha20-Poly1305 under the operator's
//! `MOLTS_SECRET_KEY`, with a fresh random nonce per seal and the owning row's identity as
//! associated data, so a sealed value copied to another row does not open.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::{Error, Result};
use crate::ids::Ids;

const NONCE_BYTES: usize = 12;
const VERSION: &str = "v1";

/// The operator's sealing key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// A box from a 32-byte key given as 64 hex digits or standard base64.
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                Error::invalid(
                    "MOLTS_SECRET_KEY",
                    "the secret key must be 32 bytes, as 64 hex digits or base64",
                )
            })?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// Seals `plain`, bound to `context` (who owns it). The result is text, safe to store.
    pub fn seal(&self, ids: &dyn Ids, context: &str, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        ids.fill_secret(&mut nonce)?;
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("sealing failed"))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(format!(
            "{VERSION}.{}.{}",
            b64.encode(nonce),
            b64.encode(sealed)
        ))
    }

    /// Opens what [`SecretBox::seal`] made for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String> {
        let broken = || {
            Error::internal("a sealed secret does not open (wrong MOLTS_SECRET_KEY, or tampered)")
        };
        let mut parts = sealed.split('.');
        let (Some(VERSION), Some(nonce), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(broken());
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce = b64.decode(nonce).map_err(|_| broken())?;
        let body = b64.decode(body).map_err(|_| broken())?;
        if nonce.len() != NONCE_BYTES {
            return Err(broken());
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SystemIds;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seals_open_only_for_their_context_and_key() -> Result<()> {
        let b = SecretBox::from_text(KEY)?;
        let sealed = b.seal(&SystemIds, "acme/openai", "sk-secret")?;
        assert!(!sealed.contains("sk-secret"));
        assert_ne!(
            sealed,
            b.seal(&SystemIds, "acme/openai", "sk-secret")?,
            "fresh nonce each time"
        );
        assert_eq!(b.open("acme/openai", &sealed)?, "sk-secret");
        assert!(
            b.open("globex/openai", &sealed).is_err(),
            "bound to its row"
        );
        let other = SecretBox::from_text(&"ab".repeat(32))?;
        assert!(other.open("acme/openai", &sealed).is_err());
        assert!(b.open("acme/openai", "v1.xx.yy").is_err());
        assert!(SecretBox::from_text("short").is_err());
        Ok(())
    }
}
