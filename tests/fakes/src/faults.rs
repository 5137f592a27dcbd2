//! Fault injection: what a fault can do, how it is spelled (`status=503,retry-after=2`), and where
//! it comes from — the `x-fake-fault` request header, a `[[fake-fault:…]]` marker anywhere in the
//! request body (for callers that only control a prompt), or a queue filled through
//! `POST /_fake/faults` for the next requests to one provider (for black-box tests, where molts
//! makes the provider call and no header can be added).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// What to do to one request. The default does nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Answer with this status and the provider's own error body for it.
    pub status: Option<u16>,
    /// `Retry-After` header value (seconds).
    pub retry_after: Option<String>,
    /// `retry-after-ms` header value (Anthropic's hint).
    pub retry_after_ms: Option<u64>,
    /// Wait this long before answering (the head), to trip timeouts.
    pub delay_ms: u64,
    /// Answer 200 with a body that is not the provider's JSON (or SSE).
    pub malformed: bool,
    /// On streams and audio, send this many events (or chunks) and then break the connection.
    pub cut_stream_after: Option<usize>,
    /// On streams, send this many events and then the provider's in-stream error event
    /// (Anthropic's `event: error`, OpenAI's `{"error":…}` chunk).
    pub error_event_after: Option<usize>,
    /// On a job submission (video, render): the job fails instead of finishing.
    pub fail_job: bool,
    /// On a job submission: status polls answered "not yet" before the job finishes.
    pub ready_after: Option<u32>,
    /// On a job submission: the job never finishes by itself (only `POST
    /// /_fake/jobs/{id}/finish` ends it), for deadline tests.
    pub never_finish: bool,
    /// On a job submission: the finished job's output URL answers 200 with an HTML error page
    /// (as a CDN in trouble does) instead of the video or audio.
    pub html_output: bool,
}

impl Fault {
    /// Parses `status=503,retry-after=2;delay-ms=300 malformed cut-stream-after=2
    /// error-event-after=1 fail-job ready-after=3 never-finish html-output`
    /// (items separated by commas, semicolons or spaces).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut fault = Fault::default();
        for item in spec
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("fault '{name}' needs a number, got '{value}'"))
            };
            match name {
                "status" => {
                    let status = number()?;
                    fault.status = Some(
                        u16::try_from(status)
                            .ok()
                            .filter(|s| (100..=599).contains(s))
                            .ok_or_else(|| format!("status {status} is not an HTTP status"))?,
                    );
                }
                "retry-after" => fault.retry_after = Some(value.to_owned()),
                "retry-after-ms" => fault.retry_after_ms = Some(number()?),
                "delay-ms" => fault.delay_ms = number()?,
                "malformed" => fault.malformed = true,
                "cut-stream-after" => {
                    fault.cut_stream_after = Some(usize::try_from(number()?).unwrap_or(usize::MAX));
                }
                "error-event-after" => {
                    fault.error_event_after =
                        Some(usize::try_from(number()?).unwrap_or(usize::MAX));
                }
                "fail-job" => fault.fail_job = true,
                "never-finish" => fault.never_finish = true,
                "html-output" => fault.html_output = true,
                "ready-after" => {
                    fault.ready_after = Some(u32::try_from(number()?).unwrap_or(u32::MAX));
                }
                other => return Err(format!("unknown fault '{other}'")),
            }
        }
        Ok(fault)
    }

    /// Whether this fault changes anything.
    pub fn is_none(&self) -> bool {
        *self == Fault::default()
    }
}

/// The body of `POST /_fake/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueRequest {
    /// One of [`crate::PROVIDERS`].
    pub provider: String,
    /// The fault, spelled as for the header.
    pub fault: String,
    /// How many of the provider's next requests get it (default 1).
    #[serde(default = "one")]
    pub times: usize,
}

fn one() -> usize {
    1
}

/// Faults waiting for each provider's next requests.
#[derive(Debug, Default)]
pub struct FaultQueues {
    queues: HashMap<String, VecDeque<Fault>>,
}

impl FaultQueues {
    /// Queues `times` copies of `fault` for `provider`.
    pub fn push(&mut self, provider: &str, fault: Fault, times: usize) {
        let queue = self.queues.entry(provider.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// The next queued fault for `provider`, if any.
    pub fn pop(&mut self, provider: &str) -> Option<Fault> {
        self.queues.get_mut(provider)?.pop_front()
    }

    /// Forgets every queued fault.
    pub fn clear(&mut self) {
        self.queues.clear();
    }

    /// How many faults wait per provider.
    pub fn pending(&self) -> HashMap<String, usize> {
        self.queues
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect()
    }
}

/// The spec inside a `[[fake-fault:…]]` marker in `body`, if there is one.
pub fn marker(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("[[fake-fault:")? + "[[fake-fault:".len();
    let end = text[start..].find("]]")? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_item_and_refuses_unknown_ones() {
        let f = Fault::parse("status=429, retry-after=2;delay-ms=10 malformed cut-stream-after=3")
            .unwrap_or_default();
        assert_eq!(f.status, Some(429));
        assert_eq!(f.retry_after.as_deref(), Some("2"));
        assert_eq!(f.delay_ms, 10);
        assert!(f.malformed);
        assert_eq!(f.cut_stream_after, Some(3));
        assert!(Fault::parse("explode").is_err());
        let job = Fault::parse("fail-job,ready-after=4").unwrap_or_default();
        assert!(job.fail_job);
        assert_eq!(job.ready_after, Some(4));
        assert!(Fault::parse("never-finish").is_ok_and(|f| f.never_finish));
        assert!(Fault::parse("html-output").is_ok_and(|f| f.html_output));
        assert!(Fault::parse("status=99").is_err());
        assert_eq!(
            marker(br#"{"prompt":"a cat [[fake-fault:status=503]]"}"#).as_deref(),
            Some("status=503")
        );
    }
}
