//! Server-Sent Events: splitting a streamed body into events, and running a provider's
//! [`StreamMapper`] over them to make a [`TextStream`] that ends with an error when cut short.

use crate::ErrorCode;
use std::collections::VecDeque;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::ports::ByteStream;

use super::adapter::Call;
use super::types::{TextChunk, TextStream};

/// Longest line a provider's stream may send before molts gives up on it.
pub(crate) const MAX_SSE_LINE_BYTES: usize = 1 << 20;
/// Largest event (its `data:` lines joined) a provider's stream may send.
pub(crate) const MAX_SSE_EVENT_BYTES: usize = 1 << 20;

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
        /// How much of `buf` is known to hold no `\n` (so a long line is scanned once).
        scanned: usize,
        current: SseEvent,
        has_data: bool,
        ready: VecDeque<SseEvent>,
        /// Why the stream broke, told after the events completed before it.
        failed: Option<Error>,
        done: bool,
    }
    impl State {
        fn line(&mut self, line: &str) -> Result<()> {
            if line.is_empty() {
                if self.has_data || self.current.event.is_some() {
                    self.ready.push_back(std::mem::take(&mut self.current));
                }
                self.has_data = false;
                return Ok(());
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => self.current.event = Some(value.to_owned()),
                "data" => {
                    if self.current.data.len() + value.len() + 1 > MAX_SSE_EVENT_BYTES {
                        return Err(too_large("an event"));
                    }
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
            Ok(())
        }
        fn drain_lines(&mut self) -> Result<()> {
            while let Some(at) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + at;
                self.scanned = 0;
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&raw);
                let line = text.trim_end_matches(['\n', '\r']).to_owned();
                self.line(&line)?;
            }
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_SSE_LINE_BYTES {
                return Err(too_large("a line"));
            }
            Ok(())
        }
    }
    let state = State {
        body,
        buf: Vec::new(),
        scanned: 0,
        current: SseEvent::default(),
        has_data: false,
        ready: VecDeque::new(),
        failed: None,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.ready.pop_front() {
                return Some((Ok(event), s));
            }
            if let Some(e) = s.failed.take() {
                return Some((Err(e), s));
            }
            if s.done {
                return None;
            }
            let step = match s.body.next().await {
                Some(Ok(chunk)) => {
                    s.buf.extend_from_slice(&chunk);
                    s.drain_lines()
                }
                Some(Err(e)) => Err(e),
                None => {
                    // A last event without its blank line still counts.
                    s.done = true;
                    let rest = String::from_utf8_lossy(&std::mem::take(&mut s.buf)).into_owned();
                    s.line(rest.trim_end_matches('\r'))
                        .and_then(|()| s.line(""))
                }
            };
            if let Err(e) = step {
                s.buf = Vec::new();
                s.done = true;
                s.failed = Some(e);
            }
        }
    })
    .boxed()
}

/// The error for a stream that sent more than molts holds for one line or event.
fn too_large(what: &str) -> Error {
    Error::unavailable(format!(
        "the provider's stream sent {what} longer than {} KiB",
        MAX_SSE_LINE_BYTES >> 10
    ))
    .with_code(ErrorCode::ProviderBadResponse)
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
    .with_code(ErrorCode::ProviderStreamCut)
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
    use proptest::prelude::*;

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

    /// The events before the stream's first error, the error, and how many items followed it.
    fn outcome(chunks: Vec<Bytes>) -> (Vec<SseEvent>, Option<crate::Error>, usize) {
        let stream = sse_events(futures::stream::iter(chunks.into_iter().map(Ok)).boxed());
        let mut items = futures::executor::block_on(stream.collect::<Vec<_>>()).into_iter();
        let mut events = Vec::new();
        for item in items.by_ref() {
            match item {
                Ok(e) => events.push(e),
                Err(e) => return (events, Some(e), items.count()),
            }
        }
        (events, None, 0)
    }

    #[test]
    fn a_line_past_the_limit_is_a_provider_error_not_unbounded_memory() {
        let chunk = Bytes::from(vec![b'a'; 64 << 10]);
        let chunks = vec![chunk; MAX_SSE_LINE_BYTES / (64 << 10) + 2];
        let (events, error, after) = outcome(chunks);
        assert!(events.is_empty() && after == 0);
        assert_eq!(error.map(|e| e.kind()), Some(crate::ErrorKind::Unavailable));
    }

    #[test]
    fn an_event_past_the_limit_is_a_provider_error() {
        let line = Bytes::from(format!("data: {}\n", "x".repeat(60 << 10)));
        let chunks = vec![line; MAX_SSE_EVENT_BYTES / (60 << 10) + 2];
        let (_, error, after) = outcome(chunks);
        assert_eq!(after, 0);
        assert_eq!(error.map(|e| e.kind()), Some(crate::ErrorKind::Unavailable));
    }

    /// Bytes that look like an event stream often enough to matter, and anything else too.
    fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"event: ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b": comment\n".to_vec()),
            "[ -~]{0,12}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..8),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_split_anywhere_give_the_same_events(
            bytes in stream_bytes(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
        ) {
            let whole = outcome(vec![Bytes::from(bytes.clone())]);
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            at.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for to in at.into_iter().chain([bytes.len()]) {
                chunks.push(Bytes::copy_from_slice(&bytes[from..to]));
                from = to;
            }
            let split = outcome(chunks);
            prop_assert!(whole.1.is_none() && split.1.is_none());
            prop_assert_eq!(&whole.0, &split.0);
            for event in &whole.0 {
                // Each byte that is not UTF-8 becomes one U+FFFD (three bytes).
                prop_assert!(event.data.len() <= 3 * bytes.len());
            }
        }
    }
}
