//! How many units a call holds before it runs: an upper bound on what the call may be charged,
//! never a guess that the provider's answer can overrun.
//!
//! - Text: every prompt byte may be a token (byte-level BPE and SentencePiece's byte fallback
//!   both spend at least one byte a token, whatever the script: CJK, emoji, code), plus a few
//!   tokens of framing per message; and the completion is capped by a `max_tokens` that molts
//!   itself sends the provider ([`completion_cap`]), so the provider cannot write more.
//! - Speech: seconds of audio from the text's length at a slow speaking rate, divided by the
//!   requested `speed` (0.25 makes the same text four times as long).
//!
//! The bounds are loose on purpose: the hold is settled with the measured amount moments later,
//! and the unused part goes back. Where a provider still reports more than was held (a
//! speech engine slower than the bound, a server that ignores the cap), the excess is charged
//! only through a conditional top-up that the quota may refuse (`Gateway::settle`).

use crate::error::{Error, Result};
use crate::providers::{SpeechRequest, TextRequest};

/// Completion tokens held, and sent to the provider as `max_tokens`, when the caller sets none.
pub(super) const DEFAULT_COMPLETION_CAP: u32 = 4096;

/// Tokens of framing a message may add on top of its content (role markers, separators).
const MESSAGE_FRAMING_TOKENS: u64 = 8;

/// Characters per second of speech the bound assumes: slower than any engine's normal rate
/// (about 15 a second), so a normal read of the text fits the hold at speed 1.
const SPEECH_CHARS_PER_SECOND: f64 = 12.0;

/// The slowest and fastest `speed` a speech request may ask for (OpenAI's range).
pub(super) const SPEECH_SPEED_RANGE: std::ops::RangeInclusive<f32> = 0.25..=4.0;

/// Most tokens the prompt can be, for any tokenizer that spends at least a byte a token.
pub(super) fn prompt_token_bound(request: &TextRequest) -> u64 {
    request
        .messages
        .iter()
        .map(|m| m.content.len() as u64 + MESSAGE_FRAMING_TOKENS)
        .sum()
}

/// The completion cap the call runs under: the caller's `max_tokens`, or the default.
pub(super) fn completion_cap(request: &TextRequest) -> u32 {
    request.max_tokens.unwrap_or(DEFAULT_COMPLETION_CAP)
}

/// Units a text call holds: the prompt's bound plus the completion cap.
pub(super) fn text_hold(request: &TextRequest) -> u64 {
    prompt_token_bound(request).saturating_add(u64::from(completion_cap(request)))
}

/// Checks `speed` (finite, within [`SPEECH_SPEED_RANGE`]).
pub(super) fn check_speed(request: &SpeechRequest) -> Result<()> {
    match request.speed {
        Some(speed) if !SPEECH_SPEED_RANGE.contains(&speed) => Err(Error::invalid(
            "speed",
            format!(
                "speed must be between {} and {}",
                SPEECH_SPEED_RANGE.start(),
                SPEECH_SPEED_RANGE.end()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whole seconds a speech call holds: the text read slowly, stretched by `speed`.
pub(super) fn speech_hold(request: &SpeechRequest) -> u64 {
    let speed = f64::from(request.speed.unwrap_or(1.0)).clamp(
        f64::from(*SPEECH_SPEED_RANGE.start()),
        f64::from(*SPEECH_SPEED_RANGE.end()),
    );
    let seconds = request.text.chars().count() as f64 / SPEECH_CHARS_PER_SECOND / speed;
    // At most 4096 characters at a quarter speed: about 1,400 s, far inside u64.
    (seconds.ceil() as u64).max(1)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::providers::{ChatMessage, Role};

    fn text(content: &str, max_tokens: Option<u32>) -> TextRequest {
        TextRequest {
            messages: vec![ChatMessage {
                role: Role::User,
                content: content.into(),
            }],
            max_tokens,
            ..TextRequest::default()
        }
    }

    #[test]
    fn cjk_and_emoji_prompts_hold_at_least_a_token_per_byte() {
        // A CJK character is 3 bytes and may be up to 3 byte tokens; chars/4 held 1 per 4.
        let cjk = "漢字".repeat(100);
        assert!(prompt_token_bound(&text(&cjk, None)) >= 600);
        let emoji = "🦀".repeat(10);
        assert!(prompt_token_bound(&text(&emoji, None)) >= 40);
    }

    #[test]
    fn no_max_tokens_holds_and_caps_the_default() {
        let r = text("hi", None);
        assert_eq!(completion_cap(&r), DEFAULT_COMPLETION_CAP);
        assert_eq!(
            text_hold(&r),
            2 + MESSAGE_FRAMING_TOKENS + u64::from(DEFAULT_COMPLETION_CAP)
        );
        assert_eq!(
            text_hold(&text("hi", Some(10))),
            2 + MESSAGE_FRAMING_TOKENS + 10
        );
    }

    #[test]
    fn a_slower_speed_holds_proportionally_more() {
        let words = "a ".repeat(2048);
        let at = |speed| {
            speech_hold(&SpeechRequest {
                text: words.clone(),
                speed,
                ..SpeechRequest::default()
            })
        };
        let (slow, normal) = (at(Some(0.25)), at(Some(1.0)));
        assert!(
            (4 * normal - 3..=4 * normal).contains(&slow),
            "{slow} vs {normal}"
        );
        assert!(at(None) >= 4096 / 15, "at least a normal read of the text");
        assert!(at(Some(4.0)) < at(None));
    }

    #[test]
    fn speeds_outside_the_range_are_refused() {
        for speed in [0.0, 0.2, 4.5, f32::NAN, f32::INFINITY, -1.0] {
            let r = SpeechRequest {
                text: "hi".into(),
                speed: Some(speed),
                ..SpeechRequest::default()
            };
            let e = check_speed(&r).expect_err("refused");
            assert_eq!(e.param(), Some("speed"));
        }
        let ok = SpeechRequest {
            text: "hi".into(),
            speed: Some(0.25),
            ..SpeechRequest::default()
        };
        assert!(check_speed(&ok).is_ok());
    }
}
