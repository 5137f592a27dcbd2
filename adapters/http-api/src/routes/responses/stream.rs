//! A streamed Response as OpenAI documents it: `response.created`, `response.in_progress`, the
//! message and its text part opened, one `response.output_text.delta` per chunk, the text, part
//! and message closed, then `response.completed` (or `response.incomplete`) with the usage.
//! Every event is an SSE frame whose `event:` is its `type`, numbered by `sequence_number`. A
//! failure after the stream began is an `error` event followed by `response.failed`, the
//! partial message kept in its output.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use molts_core::providers::{FinishReason, TextChunk, TextStream, TokenUsage};
use molts_core::{Error, ErrorCode, Gateway};
use serde::Serialize;

use super::view::{
    ItemStatus, Message, OutputText, ResponseError, ResponseView, Status, item_status,
};
use crate::sse;

/// The message is the only output item, and its text the only part.
const OUTPUT_INDEX: u32 = 0;
const CONTENT_INDEX: u32 = 0;

/// One event of the stream; `type` is both the JSON field and the SSE event name.
#[derive(Serialize)]
#[serde(tag = "type")]
enum Event<'a> {
    #[serde(rename = "response.created")]
    Created { response: &'a ResponseView },
    #[serde(rename = "response.in_progress")]
    InProgress { response: &'a ResponseView },
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        output_index: u32,
        item: &'a Message,
    },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        part: &'a OutputText,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        delta: &'a str,
        logprobs: super::view::EmptyList,
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        text: &'a str,
        logprobs: super::view::EmptyList,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        part: &'a OutputText,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        output_index: u32,
        item: &'a Message,
    },
    #[serde(rename = "response.completed")]
    Completed { response: &'a ResponseView },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: &'a ResponseView },
    #[serde(rename = "response.failed")]
    Failed { response: &'a ResponseView },
    #[serde(rename = "error")]
    Error {
        code: &'a str,
        message: &'a str,
        param: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct Numbered<'a> {
    #[serde(flatten)]
    event: &'a Event<'a>,
    sequence_number: u64,
}

impl Event<'_> {
    /// The SSE event name: the `type` serde writes (a test holds the two together).
    fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::ItemAdded { .. } => "response.output_item.added",
            Self::PartAdded { .. } => "response.content_part.added",
            Self::TextDelta { .. } => "response.output_text.delta",
            Self::TextDone { .. } => "response.output_text.done",
            Self::PartDone { .. } => "response.content_part.done",
            Self::ItemDone { .. } => "response.output_item.done",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Failed { .. } => "response.failed",
            Self::Error { .. } => "error",
        }
    }
}

/// Numbers `event` and writes it as an SSE frame named by its `type`. Serialized straight to
/// text: through a `Value`, an `f32` temperature would be widened to 0.699999988.
fn frame(seq: &mut u64, event: &Event<'_>) -> Bytes {
    let numbered = Numbered {
        event,
        sequence_number: *seq,
    };
    *seq += 1;
    match serde_json::to_string(&numbered) {
        Ok(data) => sse::frame(Some(event.name()), &data),
        // Plain structs of strings and numbers: serializing them cannot fail.
        Err(e) => {
            tracing::error!(error = %e, "a Responses stream event did not serialize");
            Bytes::new()
        }
    }
}

/// The stream's state: the response so far, the message's text so far, the next number.
pub(super) struct Events {
    seq: u64,
    response: ResponseView,
    item_id: String,
    text: String,
    ended: bool,
}

impl Events {
    pub(super) fn new(response: ResponseView, item_id: String) -> Self {
        Self {
            seq: 0,
            response,
            item_id,
            text: String::new(),
            ended: false,
        }
    }

    /// The opening events: the response, then the empty message and its empty text part.
    fn open(&mut self) -> Vec<Bytes> {
        let message = Message::open(self.item_id.clone());
        let part = OutputText::new(String::new());
        vec![
            frame(
                &mut self.seq,
                &Event::Created {
                    response: &self.response,
                },
            ),
            frame(
                &mut self.seq,
                &Event::InProgress {
                    response: &self.response,
                },
            ),
            frame(
                &mut self.seq,
                &Event::ItemAdded {
                    output_index: OUTPUT_INDEX,
                    item: &message,
                },
            ),
            frame(
                &mut self.seq,
                &Event::PartAdded {
                    item_id: &self.item_id,
                    output_index: OUTPUT_INDEX,
                    content_index: CONTENT_INDEX,
                    part: &part,
                },
            ),
        ]
    }

    fn delta(&mut self, delta: &str) -> Vec<Bytes> {
        self.text.push_str(delta);
        vec![frame(
            &mut self.seq,
            &Event::TextDelta {
                item_id: &self.item_id,
                output_index: OUTPUT_INDEX,
                content_index: CONTENT_INDEX,
                delta,
                logprobs: super::view::EmptyList,
            },
        )]
    }

    /// The closing events of a reply that ended: text, part and message done, then the
    /// response with its usage.
    fn finish(&mut self, reason: FinishReason, usage: Option<TokenUsage>, now: i64) -> Vec<Bytes> {
        self.ended = true;
        let text = std::mem::take(&mut self.text);
        let part = OutputText::new(text.clone());
        let message = Message::with_text(self.item_id.clone(), text, item_status(reason));
        let mut out = vec![
            frame(
                &mut self.seq,
                &Event::TextDone {
                    item_id: &self.item_id,
                    output_index: OUTPUT_INDEX,
                    content_index: CONTENT_INDEX,
                    text: &part.text,
                    logprobs: super::view::EmptyList,
                },
            ),
            frame(
                &mut self.seq,
                &Event::PartDone {
                    item_id: &self.item_id,
                    output_index: OUTPUT_INDEX,
                    content_index: CONTENT_INDEX,
                    part: &part,
                },
            ),
            frame(
                &mut self.seq,
                &Event::ItemDone {
                    output_index: OUTPUT_INDEX,
                    item: &message,
                },
            ),
        ];
        self.response.finish(message, reason, usage, now);
        let response = &self.response;
        let last = if response.status() == Status::Completed {
            Event::Completed { response }
        } else {
            Event::Incomplete { response }
        };
        out.push(frame(&mut self.seq, &last));
        out
    }

    /// A failure after the stream began: `error`, then `response.failed` keeping the text
    /// written so far as an incomplete message.
    fn fail(&mut self, e: &Error) -> Vec<Bytes> {
        self.ended = true;
        let error = ResponseError::from(e);
        let first = frame(
            &mut self.seq,
            &Event::Error {
                code: error.code,
                message: &error.message,
                param: e.param(),
            },
        );
        let text = std::mem::take(&mut self.text);
        let partial = (!text.is_empty())
            .then(|| Message::with_text(self.item_id.clone(), text, ItemStatus::Incomplete));
        self.response.fail(partial, error);
        let failed = frame(
            &mut self.seq,
            &Event::Failed {
                response: &self.response,
            },
        );
        vec![first, failed]
    }

    /// Every frame of the stream: the opening ones, one per chunk, and the closing ones. A
    /// provider stream that stops without finishing is a failure, not a completed response.
    pub(super) fn over(
        mut self,
        chunks: TextStream,
        gateway: Gateway,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        let opening = self.open();
        let rest = futures::stream::unfold(
            (self, chunks, gateway),
            |(mut events, mut chunks, gateway)| async move {
                if events.ended {
                    return None;
                }
                let frames = match chunks.next().await {
                    Some(Ok(TextChunk::Delta(text))) => events.delta(&text),
                    Some(Ok(TextChunk::Finish { reason, usage })) => {
                        events.finish(reason, usage, gateway.now().timestamp())
                    }
                    Some(Err(e)) => events.fail(&e),
                    None => events.fail(&Error::coded(
                        ErrorCode::ProviderStreamCut,
                        "the provider's stream ended before the reply was finished",
                    )),
                };
                Some((futures::stream::iter(frames), (events, chunks, gateway)))
            },
        )
        .flatten();
        futures::stream::iter(opening).chain(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molts_core::{GatewayConfig, Ports};
    use serde_json::Value;

    use super::super::view::{Echo, ToolChoiceEcho};

    fn events() -> Events {
        let echo = Echo {
            instructions: None,
            max_output_tokens: None,
            metadata: Default::default(),
            temperature: None,
            top_p: None,
            user: None,
            parallel_tool_calls: true,
            tool_choice: ToolChoiceEcho::Auto,
        };
        let view = ResponseView::begun("resp_1".into(), 100, "demo-text".into(), echo);
        Events::new(view, "msg_1".into())
    }

    /// (event line, parsed data) of each frame.
    async fn collect(chunks: Vec<molts_core::Result<TextChunk>>) -> Vec<(String, Value)> {
        let gateway = Gateway::new(Ports::in_memory(), GatewayConfig::default());
        let frames: Vec<Bytes> = events()
            .over(futures::stream::iter(chunks).boxed(), gateway)
            .collect()
            .await;
        frames
            .iter()
            .map(|f| {
                let text = String::from_utf8_lossy(f);
                let name = text
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or_default()
                    .to_owned();
                let data = text
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or(Value::Null);
                assert_eq!(
                    data["type"],
                    name.as_str(),
                    "the data's type is the event name"
                );
                (name, data)
            })
            .collect()
    }

    fn names(events: &[(String, Value)]) -> Vec<&str> {
        events.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[tokio::test]
    async fn a_finished_reply_follows_the_documented_order() {
        let usage = TokenUsage {
            prompt_tokens: 4,
            completion_tokens: 2,
        };
        let got = collect(vec![
            Ok(TextChunk::Delta("Hel".into())),
            Ok(TextChunk::Delta("lo".into())),
            Ok(TextChunk::Finish {
                reason: FinishReason::Stop,
                usage: Some(usage),
            }),
        ])
        .await;
        assert_eq!(
            names(&got),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (_, data)) in got.iter().enumerate() {
            assert_eq!(data["sequence_number"], i as u64);
        }
        assert_eq!(got[0].1["response"]["status"], "in_progress");
        assert_eq!(got[2].1["item"]["content"], serde_json::json!([]));
        assert_eq!(got[4].1["delta"], "Hel");
        assert_eq!(got[4].1["item_id"], "msg_1");
        assert_eq!(got[6].1["text"], "Hello");
        assert_eq!(got[8].1["item"]["status"], "completed");
        let done = &got[9].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(done["usage"]["total_tokens"], 6);
    }

    #[tokio::test]
    async fn the_cap_ends_with_response_incomplete() {
        let got = collect(vec![
            Ok(TextChunk::Delta("Hel".into())),
            Ok(TextChunk::Finish {
                reason: FinishReason::Length,
                usage: None,
            }),
        ])
        .await;
        let (name, last) = got.last().cloned().unwrap_or_default();
        assert_eq!(name, "response.incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
    }

    #[tokio::test]
    async fn a_failure_mid_stream_is_an_error_then_response_failed() {
        let cut = Error::coded(ErrorCode::ProviderUnavailable, "the provider went away");
        let got = collect(vec![Ok(TextChunk::Delta("Hel".into())), Err(cut)]).await;
        let tail: Vec<&str> = names(&got).into_iter().skip(5).collect();
        assert_eq!(tail, ["error", "response.failed"]);
        assert_eq!(got[5].1["code"], "provider_unavailable");
        assert_eq!(got[5].1["message"], "the provider went away");
        let failed = &got[6].1["response"];
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"]["code"], "provider_unavailable");
        assert_eq!(failed["output"][0]["status"], "incomplete");
        assert_eq!(failed["output"][0]["content"][0]["text"], "Hel");
    }

    #[tokio::test]
    async fn a_stream_that_stops_without_finishing_fails() {
        let got = collect(vec![Ok(TextChunk::Delta("Hel".into()))]).await;
        let (name, last) = got.last().cloned().unwrap_or_default();
        assert_eq!(name, "response.failed");
        assert_eq!(last["response"]["error"]["code"], "provider_stream_cut");
    }
}
