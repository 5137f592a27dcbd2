//! Server-Sent Events: splitting a streamed body into events, and running a provider's
//! [`StreamMapper`] over them to make a [`TextStream`] that ends with an error when cut short.

use std::collections::VecDeque;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::ports::ByteStream;

use super::adapter::Call;
use super::types::{TextChunk, TextStream};

/// One Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` name, if any.
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// Splits a byte stream into SSE events (`event:`/`data:` fields, blank-line dispatch, comments
/// and unknown fields ignored). A body that breaks yields its error and ends.
pub(crate) fn sse_events(body: ByteStream) -> BoxStream<'static, Result<SseEvent>> {
    struct State {
        body: ByteStream,
        buf: Vec<u8>,
        current: SseEvent,
        has_data: bool,
        ready: VecDeque<SseEvent>,
        done: bool,
    }
    impl State {
        fn line(&mut self, line: &str) {
            if line.is_empty() {
                if self.has_data || self.current.event.is_some() {
                    self.ready.push_back(std::mem::take(&mut self.current));
                }
                self.has_data = false;
                return;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => self.current.event = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        fn drain_lines(&mut self) {
            while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&raw);
                let line = text.trim_end_matches(['\n', '\r']).to_owned();
                self.line(&line);
            }
        }
    }
    let state = State {
        body,
        buf: Vec::new(),
        current: SseEvent::default(),
        has_data: false,
        ready: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.ready.pop_front() {
                return Some((Ok(event), s));
            }
            if s.done {
                return None;
            }
            match s.body.next().await {
                Some(Ok(chunk)) => {
                    s.buf.extend_from_slice(&chunk);
                    s.drain_lines();
                }
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
                None => {
                    // A last event without its blank line still counts.
                    s.done = true;
                    if !s.buf.is_empty() {
                        let rest = String::from_utf8_lossy(&s.buf).into_owned();
                        s.buf.clear();
                        s.line(rest.trim_end_matches('\r'));
                    }
                    s.line("");
                }
            }
        }
    })
    .boxed()
}

/// A provider's streaming protocol: turns events into chunks and says when the stream is done.
pub(crate) trait StreamMapper: Send + 'static {
    /// Chunks for one event; `Ok(true)` in the tuple's second place ends the stream cleanly.
    fn on_event(&mut self, event: SseEvent) -> Result<(Vec<TextChunk>, bool)>;
    /// The body ended without the end event: the chunks that still complete the stream, or the
    /// error for a stream cut mid-way.
    fn on_end(&mut self) -> Result<Vec<TextChunk>>;
}

/// The error for a stream that ended before its provider said it was done.
pub(crate) fn cut_short(call: &Call<'_>) -> Error {
    Error::unavailable(format!(
        "provider '{}' ended the stream before it was complete",
        call.model.provider.as_str()
    ))
    .with_code("provider_stream_cut")
}

/// Maps an SSE body through `mapper` into a text stream. After the first error nothing follows.
pub(crate) fn text_stream(body: ByteStream, mapper: impl StreamMapper) -> TextStream {
    struct State<M> {
        events: BoxStream<'static, Result<SseEvent>>,
        mapper: M,
        pending: VecDeque<Result<TextChunk>>,
        finished: bool,
    }
    let state = State {
        events: sse_events(body),
        mapper,
        pending: VecDeque::new(),
        finished: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.pending.pop_front() {
                return Some((item, s));
            }
            if s.finished {
                return None;
            }
            let step = match s.events.next().await {
                Some(Ok(event)) => s.mapper.on_event(event),
                Some(Err(e)) => Err(e),
                None => s.mapper.on_end().map(|chunks| (chunks, true)),
            };
            match step {
                Ok((chunks, done)) => {
                    s.pending.extend(chunks.into_iter().map(Ok));
                    s.finished = done;
                }
                Err(e) => {
                    s.pending.push_back(Err(e));
                    s.finished = true;
                }
            }
        }
    })
    .boxed()
}

/// What a stream mapper keeps of the call (a `Call` borrows; the stream outlives it).
pub(crate) struct CallInfo {
    model: crate::domain::ModelConfig,
    credentials: super::adapter::Credentials,
}

impl CallInfo {
    pub(crate) fn of(call: &Call<'_>) -> Self {
        Self {
            model: call.model.clone(),
            credentials: call.credentials.clone(),
        }
    }

    pub(crate) fn call(&self) -> Call<'_> {
        Call {
            model: &self.model,
            credentials: &self.credentials,
            timeout: std::time::Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn events(raw: &[&'static str]) -> Vec<SseEvent> {
        let chunks: Vec<Result<Bytes>> = raw.iter().map(|c| Ok(Bytes::from(*c))).collect();
        let stream = sse_events(futures::stream::iter(chunks).boxed());
        futures::executor::block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    #[test]
    fn sse_events_survive_arbitrary_chunk_boundaries() {
        let got = events(&[
            "event: a\r\nda",
            "ta: {\"x\":1}\r\n\r\n: comment\n\ndata: one\ndata: two\n\n",
            "data: [DONE]",
        ]);
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: Some("a".into()),
                    data: "{\"x\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "one\ntwo".into()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }
}
