//! The template provider: an HTTP provider described entirely by a model config's
//! `payload_mapping` — the predecessor's payload mapper, done right.
//!
//! ```json
//! {"endpoint": "https://api.example.com/v1/generate", "method": "POST",
//!  "headers": {"Authorization": "Bearer {api_key}"},
//!  "body": {"prompt": "{prompt}", "max_tokens": "{max_tokens}", "stream": false},
//!  "defaults": {"max_tokens": 256},
//!  "response_mapping": {"text": "$.choices[0].text", "completion_tokens": "$.usage.output"},
//!  "key_from": "openai"}
//! ```
//!
//! A string that is exactly one `{name}` takes the value with its JSON type (numbers stay
//! numbers, objects stay objects); placeholders inside longer strings are interpolated. Values come
//! from `defaults`, then from the request (an absent or null input never overrides a default). A
//! placeholder with no value is a 400 naming it — never a literal `"{name}"` sent upstream.
//! `{api_key}` is the configured key of the provider named by `key_from`.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde_json::{Map, Value};

use crate::domain::{Modality, ModelConfig, Provider};
use crate::error::{Error, Result};
use crate::ports::HttpClient;
use crate::validate;

use super::adapter::{Call, ProviderAdapter};
use super::types::{
    FinishReason, GeneratedImage, ImageData, ImageRequest, Role, SpeechRequest, SpeechResponse,
    TextRequest, TextResponse, TokenUsage,
};
use super::{audio, wire};

/// The template adapter, over any `HttpClient`.
pub struct TemplateAdapter {
    http: Arc<dyn HttpClient>,
}

impl TemplateAdapter {
    /// A template adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }
}

/// The provider whose configured key fills `{api_key}` for a template model.
pub fn key_provider(model: &ModelConfig) -> Option<Provider> {
    model
        .payload_mapping
        .as_ref()
        .and_then(|m| m.get("key_from"))
        .and_then(Value::as_str)
        .and_then(Provider::parse)
}

/// Translates `$.a.b[0].c` into the JSON pointer `/a/b/0/c`.
fn pointer(path: &str) -> Option<String> {
    let rest = path.strip_prefix('$')?;
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                if key.is_empty()
                    || !key
                        .chars()
                        .all(|k| k.is_alphanumeric() || k == '_' || k == '-')
                {
                    return None;
                }
                out.push('/');
                out.push_str(&key);
            }
            '[' => {
                let mut index = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    index.push(n);
                }
                index.parse::<usize>().ok()?;
                out.push('/');
                out.push_str(&index);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The placeholders in `s`, in order: each one's byte span (braces included) and name.
fn placeholder_spans(s: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find('{').map(|i| from + i) {
        let after = open + 1;
        match s[after..].find('}').map(|i| after + i) {
            Some(close) if is_name(&s[after..close]) => {
                out.push((open..close + 1, &s[after..close]));
                from = close + 1;
            }
            // `{` is one byte, so the next search starts on a character boundary.
            _ => from = after,
        }
    }
    out
}

/// The placeholder names in `s`, in order.
fn placeholders(s: &str) -> Vec<&str> {
    placeholder_spans(s)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

fn missing(name: &str) -> Error {
    if name == "api_key" {
        return Error::unavailable("this template model has no key configured (set payload_mapping.key_from and that provider's key)")
            .with_code(ErrorCode::ProviderNotConfigured);
    }
    Error::invalid(
        "payload",
        format!("the model needs a value for '{name}' and none was given"),
    )
    .with_code(ErrorCode::MissingTemplateValue)
    .with_param(name.to_owned())
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fills one string: a lone placeholder keeps the value's JSON type. One pass over the template,
/// so a value that itself holds `{name}` (a caller's prompt of `{api_key}`) stays text.
fn fill_str(s: &str, vars: &Map<String, Value>, encode: bool) -> Result<Value> {
    let spans = placeholder_spans(s);
    if let [(span, name)] = spans.as_slice()
        && *span == (0..s.len())
        && !encode
    {
        return vars.get(*name).cloned().ok_or_else(|| missing(name));
    }
    let mut out = String::with_capacity(s.len());
    let mut from = 0;
    for (span, name) in spans {
        let value = vars.get(name).ok_or_else(|| missing(name))?;
        out.push_str(&s[from..span.start]);
        let text = as_text(value);
        if encode {
            out.extend(url::form_urlencoded::byte_serialize(text.as_bytes()));
        } else {
            out.push_str(&text);
        }
        from = span.end;
    }
    out.push_str(&s[from..]);
    Ok(Value::String(out))
}

/// Fills every string of a JSON template.
fn fill(template: &Value, vars: &Map<String, Value>) -> Result<Value> {
    Ok(match template {
        Value::String(s) => fill_str(s, vars, false)?,
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill(v, vars)).collect::<Result<_>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill(v, vars)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Checks a template mapping when its model config is saved, so mistakes surface then and not
/// at call time.
pub fn validate_mapping(model: &ModelConfig) -> Result<()> {
    let bad = |param: &'static str, message: &str| Err(Error::invalid(param, message.to_owned()));
    let Some(mapping) = model.payload_mapping.as_ref().and_then(Value::as_object) else {
        return bad(
            "payload_mapping",
            "a template model needs a payload_mapping object",
        );
    };
    let Some(endpoint) = mapping.get("endpoint").and_then(Value::as_str) else {
        return bad(
            "payload_mapping.endpoint",
            "payload_mapping.endpoint must be a string",
        );
    };
    // Placeholders may fill the path or query, never the scheme or host.
    let probe = fill_str(
        endpoint,
        &placeholders(endpoint)
            .into_iter()
            .map(|n| (n.to_owned(), Value::from("x")))
            .collect(),
        true,
    )?;
    validate::http_url("payload_mapping.endpoint", &as_text(&probe))?;
    // The authority (user info, host, port) ends at the first `/`, `?` or `#` after `://`.
    if let Some(authority) = endpoint
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?', '#']).next())
    {
        if authority.contains('{') {
            return bad(
                "payload_mapping.endpoint",
                "placeholders may not stand in the endpoint's host",
            );
        }
    }
    if let Some(method) = mapping.get("method") {
        if !matches!(method.as_str(), Some("GET" | "POST" | "PUT" | "PATCH")) {
            return bad(
                "payload_mapping.method",
                "payload_mapping.method must be GET, POST, PUT or PATCH",
            );
        }
    }
    for (field, param) in [
        ("headers", "payload_mapping.headers"),
        ("defaults", "payload_mapping.defaults"),
        ("response_mapping", "payload_mapping.response_mapping"),
    ] {
        if mapping.get(field).is_some_and(|v| !v.is_object()) {
            return Err(Error::invalid(param, format!("{param} must be an object")));
        }
    }
    if let Some(headers) = mapping.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() || !value.is_string() {
                return bad(
                    "payload_mapping.headers",
                    "headers must map valid header names to strings",
                );
            }
        }
    }
    let responses = mapping.get("response_mapping").and_then(Value::as_object);
    for (key, path) in responses.into_iter().flatten() {
        if path.as_str().and_then(pointer).is_none() {
            return Err(Error::invalid(
                "payload_mapping.response_mapping",
                format!("response_mapping.{key} must be a path like $.data[0].url"),
            ));
        }
    }
    let has = |k: &str| responses.is_some_and(|r| r.contains_key(k));
    match model.modality {
        Modality::Text if !has("text") => bad(
            "payload_mapping.response_mapping",
            "a text template needs response_mapping.text",
        ),
        Modality::Image if !has("image_url") && !has("image_b64") => bad(
            "payload_mapping.response_mapping",
            "an image template needs response_mapping.image_url or image_b64",
        ),
        Modality::Text | Modality::Image | Modality::Speech => {
            if let Some(from) = mapping.get("key_from") {
                if from.as_str().and_then(Provider::parse).is_none() {
                    return bad(
                        "payload_mapping.key_from",
                        "key_from must name a provider, like openai",
                    );
                }
            }
            Ok(())
        }
        _ => bad("modality", "template models serve text, image or speech"),
    }
}

impl TemplateAdapter {
    /// Fills the template with `inputs` and sends it; answers the response head and body.
    async fn exchange(
        &self,
        call: Call<'_>,
        inputs: Map<String, Value>,
    ) -> Result<http::Response<Bytes>> {
        let mapping = call
            .model
            .payload_mapping
            .as_ref()
            .and_then(Value::as_object)
            .ok_or_else(|| {
                Error::internal(format!(
                    "template model '{}' has no payload_mapping",
                    call.model.id
                ))
            })?;
        let mut vars = Map::new();
        if let Some(defaults) = mapping.get("defaults").and_then(Value::as_object) {
            vars.extend(
                defaults
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        vars.extend(inputs.into_iter().filter(|(_, v)| !v.is_null()));
        if let Some(key) = &call.credentials.api_key {
            vars.insert("api_key".to_owned(), Value::String(key.clone()));
        }
        let endpoint = mapping
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let url = as_text(&fill_str(endpoint, &vars, true)?);
        let method = match mapping
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("POST")
        {
            "GET" => Method::GET,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            _ => Method::POST,
        };
        let mut headers = Vec::new();
        for (name, value) in mapping
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let template = value.as_str().unwrap_or_default();
            let filled = as_text(&fill_str(template, &vars, false)?);
            let value = if placeholders(template).contains(&"api_key") {
                wire::secret_header(&filled)?
            } else {
                HeaderValue::from_str(&filled).map_err(|_| {
                    Error::invalid("payload", format!("header '{name}' would not be valid"))
                })?
            };
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::internal("template header name became invalid"))?;
            headers.push((name, value));
        }
        let body = match (mapping.get("body"), &method) {
            (Some(template), m) if m != Method::GET => Some(fill(template, &vars)?),
            _ => None,
        };
        let request = wire::request(method, &url, headers, body.as_ref())?;
        wire::send_bytes(self.http.as_ref(), &call, request, wire::MAX_MEDIA_BYTES).await
    }
}

/// Picks `key`'s value out of a JSON answer by its response-mapping path.
fn pick<'a>(call: &Call<'_>, answer: &'a Value, key: &str) -> Option<&'a Value> {
    let path = call
        .model
        .payload_mapping
        .as_ref()?
        .get("response_mapping")?
        .get(key)?
        .as_str()?;
    answer.pointer(&pointer(path)?).filter(|v| !v.is_null())
}

/// The completion cap to send: the caller's, or, when the caller set none, the template's own
/// default if it is no larger than molts' default cap (which the hold was sized for).
fn max_tokens(call: &Call<'_>, request: &TextRequest) -> Option<u32> {
    let template_default = call
        .model
        .payload_mapping
        .as_ref()
        .and_then(|m| m.pointer("/defaults/max_tokens"))
        .and_then(Value::as_u64)
        .and_then(|d| u32::try_from(d).ok());
    match (request.max_tokens, template_default) {
        (Some(cap), Some(default)) if request.max_tokens_is_default => Some(default.min(cap)),
        (cap, _) => cap,
    }
}

fn text_inputs(call: &Call<'_>, request: &TextRequest) -> Map<String, Value> {
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.clone());
    let system = request
        .messages
        .iter()
        .find(|m| m.role == Role::System)
        .map(|m| m.content.clone());
    let mut vars = Map::new();
    vars.insert("prompt".into(), last_user.clone().into());
    vars.insert("user_prompt".into(), last_user.into());
    vars.insert("system".into(), system.into());
    vars.insert(
        "messages".into(),
        serde_json::to_value(&request.messages).unwrap_or(Value::Null),
    );
    vars.insert("max_tokens".into(), max_tokens(call, request).into());
    vars.insert(
        "temperature".into(),
        request.temperature.map(f64::from).into(),
    );
    vars.insert("top_p".into(), request.top_p.map(f64::from).into());
    vars
}

#[async_trait]
impl ProviderAdapter for TemplateAdapter {
    async fn text(&self, call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let response = self.exchange(call, text_inputs(&call, request)).await?;
        let answer: Value = wire::decode(&call, response.body())?;
        let text = pick(&call, &answer, "text")
            .map(as_text)
            .ok_or_else(|| wire::bad_response(&call, "response_mapping.text found nothing"))?;
        let estimated = wire::estimated_usage(&request.messages, &text);
        let count = |k: &str| pick(&call, &answer, k).and_then(Value::as_u64);
        let finish_reason = match pick(&call, &answer, "finish_reason").and_then(Value::as_str) {
            Some("length" | "max_tokens" | "MAX_TOKENS") => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        Ok(TextResponse {
            usage: TokenUsage {
                prompt_tokens: count("prompt_tokens").unwrap_or(estimated.prompt_tokens),
                completion_tokens: count("completion_tokens")
                    .unwrap_or(estimated.completion_tokens),
            },
            text,
            finish_reason,
        })
    }

    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let mut images = Vec::new();
        for _ in 0..request.n.max(1) {
            let mut vars = Map::new();
            vars.insert("prompt".into(), request.prompt.clone().into());
            vars.insert("user_prompt".into(), request.prompt.clone().into());
            vars.insert("size".into(), request.size.clone().into());
            vars.insert("aspect_ratio".into(), request.aspect_ratio.clone().into());
            vars.insert("style".into(), request.style.clone().into());
            vars.insert(
                "negative_prompt".into(),
                request.negative_prompt.clone().into(),
            );
            let response = self.exchange(call, vars).await?;
            let answer: Value = wire::decode(&call, response.body())?;
            let data = if let Some(b64) = pick(&call, &answer, "image_b64").and_then(Value::as_str)
            {
                let bytes = wire::decode_base64(&call, b64)?;
                ImageData::Bytes {
                    content_type: wire::image_content_type(&bytes).to_owned(),
                    bytes,
                }
            } else if let Some(url) = pick(&call, &answer, "image_url").and_then(Value::as_str) {
                ImageData::Url(url.to_owned())
            } else {
                return Err(wire::bad_response(&call, "response_mapping found no image"));
            };
            let revised_prompt = pick(&call, &answer, "revised_prompt").map(as_text);
            images.push(GeneratedImage {
                data,
                revised_prompt,
            });
        }
        Ok(images)
    }

    async fn speech(&self, call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        let format = request.format.clone().unwrap_or_else(|| "mp3".to_owned());
        let mut vars = Map::new();
        vars.insert("text".into(), request.text.clone().into());
        vars.insert("input".into(), request.text.clone().into());
        vars.insert("voice".into(), request.voice.clone().into());
        vars.insert("format".into(), Value::String(format.clone()));
        vars.insert("speed".into(), request.speed.map(f64::from).into());
        let response = self.exchange(call, vars).await?;
        // Audio comes back raw, unless the mapping points at base64 audio inside JSON.
        let mapped = call
            .model
            .payload_mapping
            .as_ref()
            .and_then(|m| m.get("response_mapping"))
            .and_then(|r| r.get("audio_b64"))
            .is_some();
        let audio = if mapped {
            let answer: Value = wire::decode(&call, response.body())?;
            let b64 = pick(&call, &answer, "audio_b64")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    wire::bad_response(&call, "response_mapping.audio_b64 found nothing")
                })?;
            wire::decode_base64(&call, b64)?
        } else {
            response.body().clone()
        };
        let duration_seconds = audio::measure_duration(&audio, &format)
            .unwrap_or_else(|| audio::estimate_speech_seconds(&request.text));
        Ok(SpeechResponse {
            content_type: audio::content_type(&format).to_owned(),
            audio,
            duration_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lone_placeholders_keep_their_json_type() -> Result<()> {
        let t = json!({"n": "{max_tokens}", "flag": "{stream}", "obj": "{opts}", "s": "say {prompt}!", "keep": 3});
        let out = fill(
            &t,
            &vars(json!({"max_tokens": 1000, "stream": false, "opts": {"a": [1]}, "prompt": "hi"})),
        )?;
        assert_eq!(
            out,
            json!({"n": 1000, "flag": false, "obj": {"a": [1]}, "s": "say hi!", "keep": 3})
        );
        Ok(())
    }

    #[test]
    fn a_missing_value_is_a_400_naming_it() {
        let e = fill(&json!({"a": "{aspect_ratio}"}), &Map::new()).err();
        assert_eq!(e.as_ref().and_then(|e| e.param()), Some("aspect_ratio"));
        assert_eq!(
            e.as_ref().map(|e| e.kind()),
            Some(crate::ErrorKind::Invalid)
        );
        let e = fill(&json!({"h": "Bearer {api_key}"}), &Map::new()).err();
        assert_eq!(e.map(|e| e.kind()), Some(crate::ErrorKind::Unavailable));
    }

    #[test]
    fn paths_become_pointers() {
        assert_eq!(pointer("$.data[0].url").as_deref(), Some("/data/0/url"));
        assert_eq!(pointer("$").as_deref(), Some(""));
        assert_eq!(pointer("$.a.b-c[12]").as_deref(), Some("/a/b-c/12"));
        assert_eq!(pointer("data.url"), None);
        assert_eq!(pointer("$.a[x]"), None);
        assert_eq!(pointer("$..a"), None);
    }

    #[test]
    fn braces_that_are_not_names_stay() -> Result<()> {
        assert_eq!(
            fill(&json!("{\"json\": true} {x}"), &vars(json!({"x": 1})))?,
            json!("{\"json\": true} 1")
        );
        Ok(())
    }

    #[test]
    fn a_value_cannot_plant_a_placeholder_for_a_later_one() -> Result<()> {
        // A caller's prompt of "{api_key}" must reach the provider as that text, never as the key.
        let filled = fill(
            &json!({"h": "{prompt} {api_key}"}),
            &vars(json!({"prompt": "{api_key}", "api_key": "SECRET"})),
        )?;
        assert_eq!(filled, json!({"h": "{api_key} SECRET"}));
        Ok(())
    }

    /// Template text: placeholders, stray braces and any other characters.
    fn template_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "\\{[a-c_]{1,2}\\}",
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("{}".to_owned()),
            "[ -~]{0,6}",
            any::<String>().prop_map(|s| s.chars().take(4).collect()),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    /// JSON text-ish values, some holding placeholders of their own.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            template_text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn placeholders_are_spans_of_braced_names(text in template_text()) {
            for (span, name) in placeholder_spans(&text) {
                prop_assert_eq!(&text[span], format!("{{{name}}}"));
                prop_assert!(is_name(name));
            }
        }

        #[test]
        fn every_placeholder_is_filled_once_with_its_value_verbatim(
            template in template_text(),
            values in proptest::collection::vec(template_text(), 6),
        ) {
            let names = ["a", "b", "c", "_", "a_", "ab"];
            let vars: Map<String, Value> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| ((*n).to_owned(), Value::from(v.clone())))
                .collect();
            let spans = placeholder_spans(&template);
            let filled = fill_str(&template, &vars, false);
            let all_known = spans.iter().all(|(_, n)| vars.contains_key(*n));
            prop_assert_eq!(filled.is_ok(), all_known);
            let Ok(Value::String(out)) = filled else { return Ok(()) };
            // Walk the template and the output side by side: text between placeholders is kept,
            // and each placeholder became exactly its value, whatever braces that value holds.
            let (mut t, mut o) = (0, 0);
            for (span, name) in &spans {
                let kept = &template[t..span.start];
                prop_assert_eq!(out.get(o..o + kept.len()), Some(kept));
                o += kept.len();
                let value = as_text(&vars[*name]);
                prop_assert_eq!(out.get(o..o + value.len()), Some(value.as_str()), "{}", name);
                o += value.len();
                t = span.end;
            }
            prop_assert_eq!(out.get(o..), Some(&template[t..]));
        }

        #[test]
        fn filling_any_json_is_total(template in any_json(), values in any_json(), encode in any::<bool>()) {
            let vars = values.as_object().cloned().unwrap_or_default();
            let _ = fill(&template, &vars);
            if let Value::String(s) = &template {
                let _ = fill_str(s, &vars, encode);
            }
        }

        #[test]
        fn any_path_text_is_refused_or_a_pointer(text in "[$.\\[\\]0-9a-z_~/-]{0,16}|.{0,16}") {
            if let Some(p) = pointer(&text) {
                prop_assert!(p.is_empty() || p.starts_with('/'));
                prop_assert!(!p.contains('~'), "{}", p);
            }
        }

        #[test]
        fn a_path_finds_what_it_names(
            steps in proptest::collection::vec(
                prop_oneof!["[a-zA-Z0-9_-]{1,6}".prop_map(Ok), (0usize..4).prop_map(Err)],
                0..6,
            ),
            leaf in any::<i64>(),
        ) {
            let mut path = "$".to_owned();
            let mut answer = Value::from(leaf);
            for step in steps.iter().rev() {
                answer = match step {
                    Ok(key) => json!({ key.as_str(): answer }),
                    Err(i) => Value::Array([vec![Value::Null; *i], vec![answer]].concat()),
                };
            }
            for step in &steps {
                match step {
                    Ok(key) => path.push_str(&format!(".{key}")),
                    Err(i) => path.push_str(&format!("[{i}]")),
                }
            }
            let found = pointer(&path).and_then(|p| answer.pointer(&p).cloned());
            prop_assert_eq!(found, Some(Value::from(leaf)), "{}", path);
        }

        #[test]
        fn validating_any_mapping_is_total(
            fields in proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "endpoint", "method", "headers", "body", "defaults", "response_mapping",
                    "key_from",
                ]),
                prop_oneof![
                    any_json(),
                    template_text().prop_map(|t| Value::from(format!("https://{t}"))),
                    proptest::collection::btree_map("[a-z_]{1,6}", "[$.\\[\\]0-9a-z]{0,10}", 0..3)
                        .prop_map(|m| json!(m)),
                ],
                0..7,
            ),
            modality in 0usize..3,
        ) {
            let mapping = Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
            let model = ModelConfig {
                provider: Provider::Template,
                modality: [Modality::Text, Modality::Image, Modality::Speech][modality],
                payload_mapping: Some(mapping),
                ..crate::seed::models()
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| unreachable!("the seed has models"))
            };
            let _ = validate_mapping(&model);
            let _ = key_provider(&model);
        }
    }
}
