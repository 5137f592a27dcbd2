//! Deterministic demo text: a short reply that quotes the prompt, so a caller can see its
//! request made the round trip, streamed word by word like a real model.

use futures::StreamExt;
use molts_core::gateway::estimate_tokens;
use molts_core::providers::{
    FinishReason, Role, TextChunk, TextRequest, TextResponse, TextStream, TokenUsage,
};

const QUOTE_CHARS: usize = 120;

fn reply(request: &TextRequest) -> String {
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.trim());
    let quoted: String = last_user.chars().take(QUOTE_CHARS).collect();
    let ellipsis = if last_user.chars().count() > QUOTE_CHARS {
        "…"
    } else {
        ""
    };
    format!(
        "This is molts' offline demo model. You said: \"{quoted}{ellipsis}\". \
         Set a provider key (for example OPENAI_API_KEY) and pick a real model to get real answers."
    )
}

/// Cuts `text` to at most `max_tokens` (by the same four-characters-a-token estimate).
fn capped(text: String, max_tokens: Option<u32>) -> (String, FinishReason) {
    match max_tokens {
        Some(max) if estimate_tokens(&text) > u64::from(max) => {
            let keep = (max as usize).saturating_mul(4);
            (text.chars().take(keep).collect(), FinishReason::Length)
        }
        _ => (text, FinishReason::Stop),
    }
}

fn usage(request: &TextRequest, completion: &str) -> TokenUsage {
    TokenUsage {
        prompt_tokens: request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum(),
        completion_tokens: estimate_tokens(completion),
    }
}

pub(crate) fn complete(request: &TextRequest) -> TextResponse {
    let (text, finish_reason) = capped(reply(request), request.max_tokens);
    TextResponse {
        usage: usage(request, &text),
        text,
        finish_reason,
    }
}

pub(crate) fn stream(request: &TextRequest) -> TextStream {
    let TextResponse {
        text,
        finish_reason,
        usage,
    } = complete(request);
    let mut chunks: Vec<molts_core::Result<TextChunk>> = text
        .split_inclusive(' ')
        .map(|word| Ok(TextChunk::Delta(word.to_owned())))
        .collect();
    chunks.push(Ok(TextChunk::Finish {
        reason: finish_reason,
        usage: Some(usage),
    }));
    futures::stream::iter(chunks).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use molts_core::providers::ChatMessage;

    fn ask(text: &str, max_tokens: Option<u32>) -> TextRequest {
        TextRequest {
            messages: vec![ChatMessage {
                role: Role::User,
                content: text.to_owned(),
            }],
            max_tokens,
            ..TextRequest::default()
        }
    }

    #[test]
    fn replies_quote_the_prompt_and_count_tokens() {
        let r = complete(&ask("Write a haiku about lighthouses", None));
        assert!(r.text.contains("Write a haiku about lighthouses"));
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage.prompt_tokens, 8);
        assert_eq!(r.usage.completion_tokens, estimate_tokens(&r.text));
        assert_eq!(complete(&ask("same", None)), complete(&ask("same", None)));
    }

    #[test]
    fn max_tokens_cuts_the_reply() {
        let r = complete(&ask("hello", Some(5)));
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.text.chars().count(), 20);
    }

    #[test]
    fn the_stream_reassembles_to_the_reply() {
        let request = ask("stream me", None);
        let chunks: Vec<TextChunk> =
            futures::executor::block_on(stream(&request).map(|c| c.ok()).collect::<Vec<_>>())
                .into_iter()
                .flatten()
                .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| match c {
                TextChunk::Delta(t) => Some(t.as_str()),
                TextChunk::Finish { .. } => None,
            })
            .collect();
        assert_eq!(text, complete(&request).text);
        assert!(chunks.len() > 5);
        assert!(matches!(
            chunks.last(),
            Some(TextChunk::Finish { usage: Some(_), .. })
        ));
    }
}
