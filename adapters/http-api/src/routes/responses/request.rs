//! The body of `POST /v1/responses` and its translation into core's [`TextRequest`]. Fields
//! molts has no use for are ignored (SDKs send them by default); fields that would change what
//! is asked for, and that molts cannot do (tools, images and files, stored responses, structured
//! output), are refused with a 400 naming the parameter rather than silently dropped.

use std::collections::BTreeMap;

use molts_core::providers::{ChatMessage, Role, TextRequest};
use molts_core::{Error, ErrorCode, ErrorKind};
use serde::Deserialize;
use serde_json::Value;

use super::view::{Echo, ToolChoiceEcho};

/// OpenAI's limits on `metadata`, kept so the echo stays bounded.
const METADATA_PAIRS: usize = 16;
const METADATA_KEY_CHARS: usize = 64;
const METADATA_VALUE_CHARS: usize = 512;

/// `input`: a string (one user message) or a list of items.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// One input item. Its `type` is read as text so a refusal can name what was sent.
#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or a list of parts.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// `text`: only the plain `{"format": {"type": "text"}}` is served.
#[derive(Deserialize)]
struct TextConfig {
    #[serde(default)]
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    #[serde(rename = "type")]
    kind: String,
}

/// `POST /v1/responses`'s body.
#[derive(Deserialize)]
pub(crate) struct CreateResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<Input>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    user: Option<String>,
    /// Accepted for compatibility (type-checked, then unused): molts keeps no responses.
    #[serde(rename = "store", default)]
    _store: Option<bool>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    previous_response_id: Option<String>,
    #[serde(default)]
    conversation: Option<Value>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    /// A mode, or an object forcing one tool (refused, as tools are).
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    text: Option<TextConfig>,
}

/// A 400 `invalid_value` naming a parameter built at run time (`input[2].content[0]`).
fn invalid_at(param: String, message: String) -> Error {
    Error::new(ErrorKind::Invalid, message)
        .with_code(ErrorCode::InvalidValue)
        .with_param(param)
}

/// A request molts can serve: the model asked for, whether to stream, the core request, and
/// what the answer echoes back.
pub(super) struct Parsed {
    pub(super) model: Option<String>,
    pub(super) stream: bool,
    pub(super) request: TextRequest,
    pub(super) echo: Echo,
}

impl CreateResponse {
    /// Refuses what molts cannot serve, then builds the core request: `instructions` as the
    /// first system message, then the input's messages in order.
    pub(super) fn parse(self) -> Result<Parsed, Error> {
        self.refuse_unsupported()?;
        let mut messages = Vec::new();
        if let Some(instructions) = &self.instructions {
            messages.push(ChatMessage {
                role: Role::System,
                content: instructions.clone(),
            });
        }
        match self.input {
            None => return Err(Error::invalid("input", "input is required")),
            Some(Input::Text(text)) => messages.push(ChatMessage {
                role: Role::User,
                content: text,
            }),
            Some(Input::Items(items)) if items.is_empty() => {
                return Err(Error::invalid("input", "input must not be an empty list"));
            }
            Some(Input::Items(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    messages.push(message(i, item)?);
                }
            }
        }
        let request = TextRequest {
            messages,
            max_tokens: self.max_output_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            ..TextRequest::default()
        };
        let tool_choice = match self.tool_choice.as_ref().and_then(Value::as_str) {
            Some("none") => ToolChoiceEcho::None,
            _ => ToolChoiceEcho::Auto,
        };
        Ok(Parsed {
            model: self.model,
            stream: self.stream == Some(true),
            request,
            echo: Echo {
                instructions: self.instructions,
                max_output_tokens: self.max_output_tokens,
                metadata: self.metadata.unwrap_or_default(),
                temperature: self.temperature,
                top_p: self.top_p,
                user: self.user,
                parallel_tool_calls: self.parallel_tool_calls.unwrap_or(true),
                tool_choice,
            },
        })
    }

    fn refuse_unsupported(&self) -> Result<(), Error> {
        if self.previous_response_id.is_some() {
            return Err(Error::invalid(
                "previous_response_id",
                "molts does not keep responses, so previous_response_id cannot be used; send the conversation so far in input",
            ));
        }
        if self.conversation.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(Error::invalid(
                "conversation",
                "molts does not keep conversations; send the conversation so far in input",
            ));
        }
        if self.prompt.as_ref().is_some_and(|p| !p.is_null()) {
            return Err(Error::invalid(
                "prompt",
                "stored prompt templates are not supported; send the text in instructions and input",
            ));
        }
        if self.background == Some(true) {
            return Err(Error::invalid(
                "background",
                "background responses are not supported; molts answers within the request",
            ));
        }
        if self.tools.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::invalid(
                "tools",
                "tools are not supported; molts' Responses API generates text only",
            ));
        }
        match self.tool_choice.as_ref().map(|c| (c, c.as_str())) {
            None => {}
            Some((_, Some("auto" | "none"))) | Some((Value::Null, _)) => {}
            Some(_) => {
                return Err(Error::invalid(
                    "tool_choice",
                    "tools are not supported, so tool_choice may only be auto or none",
                ));
            }
        }
        if let Some(format) = self.text.as_ref().and_then(|t| t.format.as_ref())
            && format.kind != "text"
        {
            return Err(Error::invalid(
                "text.format",
                format!(
                    "text.format '{}' is not supported; only plain text is generated",
                    format.kind
                ),
            ));
        }
        if self.max_output_tokens == Some(0) {
            return Err(Error::invalid(
                "max_output_tokens",
                "max_output_tokens must be at least 1",
            ));
        }
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata)?;
        }
        Ok(())
    }
}

fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), Error> {
    if metadata.len() > METADATA_PAIRS {
        return Err(Error::invalid(
            "metadata",
            format!("metadata has at most {METADATA_PAIRS} pairs"),
        ));
    }
    for (key, value) in metadata {
        if key.chars().count() > METADATA_KEY_CHARS || value.chars().count() > METADATA_VALUE_CHARS
        {
            return Err(Error::invalid(
                "metadata",
                format!(
                    "metadata keys are at most {METADATA_KEY_CHARS} characters and values at most {METADATA_VALUE_CHARS}"
                ),
            ));
        }
    }
    Ok(())
}

/// One input item as a chat message: only messages with text are served.
fn message(i: usize, item: Item) -> Result<ChatMessage, Error> {
    let at = format!("input[{i}]");
    match item.kind.as_deref() {
        None | Some("message") => {}
        Some("item_reference") => {
            return Err(invalid_at(
                at,
                format!(
                    "input[{i}] is an item_reference; molts keeps no responses, so send the message itself (with the Vercel AI SDK, set providerOptions.openai.store to false)"
                ),
            ));
        }
        Some(other) => {
            return Err(invalid_at(
                at,
                format!(
                    "input[{i}] is a '{other}' item; only message items are supported (no tools, reasoning or other items)"
                ),
            ));
        }
    }
    let role = match item.role.as_deref() {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system" | "developer") => Role::System,
        Some(other) => {
            return Err(invalid_at(
                format!("{at}.role"),
                format!(
                    "input[{i}].role '{other}' is not supported; use user, assistant, system or developer"
                ),
            ));
        }
        None => {
            return Err(invalid_at(
                format!("{at}.role"),
                format!("input[{i}] needs a role"),
            ));
        }
    };
    let content = match item.content {
        None => {
            return Err(invalid_at(
                format!("{at}.content"),
                format!("input[{i}] needs content"),
            ));
        }
        Some(Content::Text(text)) => text,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.into_iter().enumerate() {
                text.push_str(&part_text(i, j, part)?);
            }
            text
        }
    };
    Ok(ChatMessage { role, content })
}

/// A content part's text: `input_text`, or `output_text` from an earlier assistant turn.
fn part_text(i: usize, j: usize, part: Part) -> Result<String, Error> {
    let at = format!("input[{i}].content[{j}]");
    match part.kind.as_str() {
        "input_text" | "output_text" => part
            .text
            .ok_or_else(|| invalid_at(format!("{at}.text"), format!("{at} needs text"))),
        other => Err(invalid_at(
            at.clone(),
            format!(
                "{at} is an '{other}' part; only text (input_text) is supported, not images, files or audio"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    fn request(body: &str) -> Result<TextRequest, Error> {
        let parsed: CreateResponse = parse_json(body.as_bytes())?;
        Ok(parsed.parse()?.request)
    }

    fn refusal(body: &str) -> (Option<ErrorCode>, Option<String>) {
        match request(body) {
            Ok(_) => (None, None),
            Err(e) => (e.code(), e.param().map(str::to_owned)),
        }
    }

    #[test]
    fn a_string_input_is_one_user_message_after_the_instructions() -> Result<(), Error> {
        let r = request(
            r#"{"model":"m","input":"hi","instructions":"be brief","max_output_tokens":20,"temperature":0.5}"#,
        )?;
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User]);
        assert_eq!(r.messages[0].content, "be brief");
        assert_eq!(r.messages[1].content, "hi");
        assert_eq!(r.max_tokens, Some(20));
        assert_eq!(r.temperature, Some(0.5));
        Ok(())
    }

    #[test]
    fn items_keep_their_roles_and_join_their_text_parts() -> Result<(), Error> {
        let r = request(
            r#"{"input":[
                {"role":"developer","content":"rules"},
                {"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
                {"role":"assistant","content":[{"type":"output_text","text":"ok"}],"id":"msg_1"},
                {"role":"user","content":"again"}
            ],"tools":[],"tool_choice":"auto","store":true,"text":{"format":{"type":"text"}}}"#,
        )?;
        let got: Vec<(Role, &str)> = r
            .messages
            .iter()
            .map(|m| (m.role, m.content.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Role::System, "rules"),
                (Role::User, "ab"),
                (Role::Assistant, "ok"),
                (Role::User, "again"),
            ]
        );
        Ok(())
    }

    #[test]
    fn what_molts_cannot_do_is_refused_naming_the_parameter() {
        let invalid = |param: &str| (Some(ErrorCode::InvalidValue), Some(param.to_owned()));
        let cases = [
            (
                r#"{"input":"x","previous_response_id":"resp_1"}"#,
                "previous_response_id",
            ),
            (r#"{"input":"x","conversation":"conv_1"}"#, "conversation"),
            (r#"{"input":"x","background":true}"#, "background"),
            (
                r#"{"input":"x","tools":[{"type":"function","name":"f"}]}"#,
                "tools",
            ),
            (r#"{"input":"x","tool_choice":"required"}"#, "tool_choice"),
            (
                r#"{"input":"x","text":{"format":{"type":"json_schema"}}}"#,
                "text.format",
            ),
            (
                r#"{"input":"x","max_output_tokens":0}"#,
                "max_output_tokens",
            ),
            (r#"{"model":"m"}"#, "input"),
            (r#"{"input":[]}"#, "input"),
            (
                r#"{"input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x"}]}]}"#,
                "input[0].content[0]",
            ),
            (
                r#"{"input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_text","text":"b"},{"type":"input_file","file_id":"f"}]}]}"#,
                "input[1].content[1]",
            ),
            (
                r#"{"input":[{"type":"function_call_output","call_id":"c","output":"o"}]}"#,
                "input[0]",
            ),
            (
                r#"{"input":[{"type":"item_reference","id":"msg_1"}]}"#,
                "input[0]",
            ),
            (
                r#"{"input":[{"role":"tool","content":"x"}]}"#,
                "input[0].role",
            ),
            (r#"{"input":[{"content":"x"}]}"#, "input[0].role"),
            (r#"{"input":[{"role":"user"}]}"#, "input[0].content"),
        ];
        for (body, param) in cases {
            assert_eq!(refusal(body), invalid(param), "{body}");
        }
        let many: BTreeMap<String, String> =
            (0..17).map(|n| (format!("k{n}"), "v".to_owned())).collect();
        let body = serde_json::json!({"input": "x", "metadata": many}).to_string();
        assert_eq!(refusal(&body), invalid("metadata"));
    }

    #[test]
    fn wrong_types_are_400s_at_the_field() {
        for (body, param) in [
            (r#"{"input":5}"#, "input"),
            (
                r#"{"input":"x","max_output_tokens":-1}"#,
                "max_output_tokens",
            ),
            (r#"{"input":"x","metadata":{"k":1}}"#, "metadata.k"),
            (r#"{"input":"x","stream":"yes"}"#, "stream"),
        ] {
            let (code, got) = refusal(body);
            assert_eq!(code, Some(ErrorCode::InvalidValue), "{body}");
            assert_eq!(got.as_deref(), Some(param), "{body}");
        }
    }
}
