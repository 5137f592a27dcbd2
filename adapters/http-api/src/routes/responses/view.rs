//! The Response object of OpenAI's Responses API, as its official SDKs read it (the fields of
//! `openai.types.responses.Response`): one assistant message with one `output_text` part, the
//! echoed request settings, and the usage. Shared by the plain answer and the stream's events.

use std::collections::BTreeMap;

use molts_core::providers::{FinishReason, TokenUsage};
use molts_core::{Error, ErrorCode, ErrorKind};
use serde::{Serialize, Serializer};

/// `[]`: annotations, logprobs and tools molts never produces.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(std::iter::empty::<()>())
    }
}

/// A response's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Status {
    InProgress,
    Completed,
    /// Stopped by `max_output_tokens` or a content filter; `incomplete_details` says which.
    Incomplete,
    Failed,
}

/// An output message's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

/// Why a response is incomplete, in OpenAI's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum IncompleteReason {
    MaxOutputTokens,
    ContentFilter,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct IncompleteDetails {
    reason: IncompleteReason,
}

/// `tool_choice` as echoed: molts has no tools, so only the two modes that need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ToolChoiceEcho {
    Auto,
    None,
}

/// The request's settings a Response repeats back.
#[derive(Debug, Clone)]
pub(crate) struct Echo {
    pub(super) instructions: Option<String>,
    pub(super) max_output_tokens: Option<u32>,
    pub(super) metadata: BTreeMap<String, String>,
    pub(super) temperature: Option<f32>,
    pub(super) top_p: Option<f32>,
    pub(super) user: Option<String>,
    pub(super) parallel_tool_calls: bool,
    pub(super) tool_choice: ToolChoiceEcho,
}

/// One `output_text` content part.
#[derive(Debug, Clone, Serialize)]
pub(super) struct OutputText {
    #[serde(rename = "type")]
    kind: &'static str,
    pub(super) text: String,
    annotations: EmptyList,
    logprobs: EmptyList,
}

impl OutputText {
    pub(super) fn new(text: String) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: EmptyList,
            logprobs: EmptyList,
        }
    }
}

/// The assistant message: the one output item molts produces.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Message {
    #[serde(rename = "type")]
    kind: &'static str,
    pub(super) id: String,
    status: ItemStatus,
    role: &'static str,
    content: Vec<OutputText>,
}

impl Message {
    /// A message still being written: no parts yet.
    pub(super) fn open(id: String) -> Self {
        Self {
            kind: "message",
            id,
            status: ItemStatus::InProgress,
            role: "assistant",
            content: Vec::new(),
        }
    }

    /// A message with its text, ended as `status` says.
    pub(super) fn with_text(id: String, text: String, status: ItemStatus) -> Self {
        Self {
            status,
            content: vec![OutputText::new(text)],
            ..Self::open(id)
        }
    }
}

/// Token counts in the Responses API's names. molts' usage has no cache or reasoning split,
/// so those details are zero.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Usage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct InputDetails {
    cached_tokens: u64,
    cache_write_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

impl From<TokenUsage> for Usage {
    fn from(u: TokenUsage) -> Self {
        Self {
            input_tokens: u.prompt_tokens,
            input_tokens_details: InputDetails {
                cached_tokens: 0,
                cache_write_tokens: 0,
            },
            output_tokens: u.completion_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: 0,
            },
            total_tokens: u.total(),
        }
    }
}

/// A failed response's `error`: molts' code (the same as its error format's) and message.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ResponseError {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl From<&Error> for ResponseError {
    fn from(e: &Error) -> Self {
        // An uncoded error still gets a code: OpenAI's SDKs expect one on a failed response.
        let code = e.code().unwrap_or(match e.kind() {
            ErrorKind::Internal => ErrorCode::InternalError,
            ErrorKind::RateLimited => ErrorCode::RateLimitExceeded,
            ErrorKind::QuotaExceeded => ErrorCode::QuotaExceeded,
            ErrorKind::Invalid => ErrorCode::InvalidValue,
            _ => ErrorCode::Unavailable,
        });
        // Internal details stay in the log, as in the error format.
        let message = if e.kind() == ErrorKind::Internal {
            "internal error".to_owned()
        } else {
            e.message().to_owned()
        };
        Self {
            code: code.as_str(),
            message,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
struct TextSettings {
    format: TextFormat,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct TextFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The Response object.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ResponseView {
    id: String,
    object: &'static str,
    created_at: i64,
    status: Status,
    background: bool,
    completed_at: Option<i64>,
    error: Option<ResponseError>,
    incomplete_details: Option<IncompleteDetails>,
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    metadata: BTreeMap<String, String>,
    model: String,
    output: Vec<Message>,
    parallel_tool_calls: bool,
    /// Always null: molts keeps no responses to continue from.
    previous_response_id: Option<String>,
    /// Always false, whatever was asked: nothing is stored.
    store: bool,
    temperature: Option<f32>,
    text: TextSettings,
    tool_choice: ToolChoiceEcho,
    tools: EmptyList,
    top_p: Option<f32>,
    truncation: &'static str,
    usage: Option<Usage>,
    user: Option<String>,
}

/// How a finish reason ends the response and its message.
fn outcome(reason: FinishReason) -> (Status, ItemStatus, Option<IncompleteDetails>) {
    let incomplete = |reason| {
        (
            Status::Incomplete,
            ItemStatus::Incomplete,
            Some(IncompleteDetails { reason }),
        )
    };
    match reason {
        FinishReason::Stop => (Status::Completed, ItemStatus::Completed, None),
        FinishReason::Length => incomplete(IncompleteReason::MaxOutputTokens),
        FinishReason::ContentFilter => incomplete(IncompleteReason::ContentFilter),
    }
}

/// The message status a finish reason gives.
pub(super) fn item_status(reason: FinishReason) -> ItemStatus {
    outcome(reason).1
}

impl ResponseView {
    /// A response just begun: in progress, with no output yet.
    pub(super) fn begun(id: String, created_at: i64, model: String, echo: Echo) -> Self {
        Self {
            id,
            object: "response",
            created_at,
            status: Status::InProgress,
            background: false,
            completed_at: None,
            error: None,
            incomplete_details: None,
            instructions: echo.instructions,
            max_output_tokens: echo.max_output_tokens,
            metadata: echo.metadata,
            model,
            output: Vec::new(),
            parallel_tool_calls: echo.parallel_tool_calls,
            previous_response_id: None,
            store: false,
            temperature: echo.temperature,
            text: TextSettings {
                format: TextFormat { kind: "text" },
            },
            tool_choice: echo.tool_choice,
            tools: EmptyList,
            top_p: echo.top_p,
            truncation: "disabled",
            usage: None,
            user: echo.user,
        }
    }

    /// Ends the response with its message: completed, or incomplete when the model stopped
    /// at the token cap or a filter. `usage` is `None` when the provider reported none.
    pub(super) fn finish(
        &mut self,
        message: Message,
        reason: FinishReason,
        usage: Option<TokenUsage>,
        completed_at: i64,
    ) {
        let (status, _, details) = outcome(reason);
        self.status = status;
        self.incomplete_details = details;
        self.output = vec![message];
        self.usage = usage.map(Usage::from);
        // OpenAI sets `completed_at` only on completed responses.
        self.completed_at = (status == Status::Completed).then_some(completed_at);
    }

    /// Ends the response as failed, keeping what was written before the failure.
    pub(super) fn fail(&mut self, partial: Option<Message>, error: ResponseError) {
        self.status = Status::Failed;
        self.error = Some(error);
        self.output = partial.into_iter().collect();
    }

    pub(super) fn status(&self) -> Status {
        self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Through the wire text, as a client reads it (`to_value` would widen `f32`s first).
    fn wire(view: &ResponseView) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&serde_json::to_string(view)?)
    }

    fn echo() -> Echo {
        Echo {
            instructions: Some("be brief".into()),
            max_output_tokens: Some(50),
            metadata: BTreeMap::from([("run".to_owned(), "7".to_owned())]),
            temperature: Some(0.7),
            top_p: None,
            user: Some("u1".into()),
            parallel_tool_calls: true,
            tool_choice: ToolChoiceEcho::Auto,
        }
    }

    fn usage() -> TokenUsage {
        TokenUsage {
            prompt_tokens: 3,
            completion_tokens: 5,
        }
    }

    #[test]
    fn a_completed_response_has_the_documented_fields() -> Result<(), serde_json::Error> {
        let mut view = ResponseView::begun("resp_1".into(), 100, "demo-text".into(), echo());
        let text = "hello".to_owned();
        let message = Message::with_text("msg_1".into(), text, ItemStatus::Completed);
        view.finish(message, FinishReason::Stop, Some(usage()), 101);
        let v = wire(&view)?;
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["completed_at"], 101);
        assert_eq!(v["incomplete_details"], Value::Null);
        assert_eq!(v["temperature"], json!(0.7));
        assert_eq!(v["metadata"], json!({"run": "7"}));
        assert_eq!(v["tools"], json!([]));
        assert_eq!(v["tool_choice"], "auto");
        assert_eq!(v["text"], json!({"format": {"type": "text"}}));
        assert_eq!(
            v["output"],
            json!([{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "hello", "annotations": [], "logprobs": []}]}])
        );
        assert_eq!(v["usage"]["input_tokens"], 3);
        assert_eq!(v["usage"]["output_tokens"], 5);
        assert_eq!(v["usage"]["total_tokens"], 8);
        assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 0);
        Ok(())
    }

    #[test]
    fn a_reply_cut_at_the_cap_is_incomplete() -> Result<(), serde_json::Error> {
        let mut view = ResponseView::begun("resp_1".into(), 100, "m".into(), echo());
        let status = item_status(FinishReason::Length);
        let message = Message::with_text("msg_1".into(), "hel".into(), status);
        view.finish(message, FinishReason::Length, None, 101);
        let v = wire(&view)?;
        assert_eq!(v["status"], "incomplete");
        assert_eq!(
            v["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(v["output"][0]["status"], "incomplete");
        assert_eq!(v["completed_at"], Value::Null);
        assert_eq!(v["usage"], Value::Null);
        Ok(())
    }

    #[test]
    fn a_failed_response_carries_the_code_and_hides_internal_details() {
        let internal = ResponseError::from(&Error::internal("database password is hunter2"));
        assert_eq!(internal.code, "internal_error");
        assert_eq!(internal.message, "internal error");
        let cut = ResponseError::from(&Error::coded(ErrorCode::ProviderStreamCut, "cut"));
        assert_eq!(cut.code, "provider_stream_cut");
        assert_eq!(cut.message, "cut");
    }
}
