//! `HEYGEN_WEBHOOK_SECRET` set to nothing (an empty or blank value in a deployment's settings)
//! must mean "not configured": as an HMAC key, the empty string would let anyone sign HeyGen
//! events, since the key is then public.

use hmac::{Hmac, Mac};
use molts_core::{ErrorKind, Gateway, GatewayConfig, Ports};
use sha2::Sha256;

/// The signature anyone can make with an empty key.
fn signed_with_empty_key(body: &[u8]) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"").map_err(|e| e.to_string())?;
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn a_blank_heygen_secret_is_no_secret() -> Result<(), String> {
    let body = br#"{"event_type":"avatar_video.success","event_data":{}}"#;
    let signature = signed_with_empty_key(body)?;
    for blank in ["", "   ", "\n"] {
        let gateway = Gateway::new(Ports::in_memory(), GatewayConfig::default())
            .with_heygen_webhook_secret(blank);
        let outcome = futures::executor::block_on(gateway.heygen_callback(Some(&signature), body));
        let error = outcome
            .err()
            .ok_or(format!("{blank:?} verified a forged event"))?;
        assert_eq!(error.kind(), ErrorKind::Unauthorized, "{blank:?}: {error}");
        assert!(error.message().contains("not configured"), "{error}");
    }
    Ok(())
}
