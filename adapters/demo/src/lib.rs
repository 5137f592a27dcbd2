//! molts-demo: the offline `demo` provider. With no keys and no network, a fresh `molts serve`
//! answers every modality with real output: deterministic text (streamed word by word), a real
//! PNG drawn from the prompt, real WAV speech whose length follows the text, and stock search
//! over a small bundled catalogue. Outputs are deterministic in their input, so tests and
//! conformance runs can assert on them.

mod image;
mod speech;
mod stock;
mod text;

use async_trait::async_trait;
use molts_core::Result;
use molts_core::providers::{
    Call, GeneratedImage, ImageRequest, ProviderAdapter, SpeechRequest, SpeechResponse,
    StockRequest, StockResponse, TextRequest, TextResponse, TextStream, Voice,
};

pub use speech::{SAMPLE_RATE, VOICES};

/// The demo provider. Register it as `Provider::Demo`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoProvider;

#[async_trait]
impl ProviderAdapter for DemoProvider {
    async fn text(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        Ok(text::complete(request))
    }

    async fn text_stream(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        Ok(text::stream(request))
    }

    async fn images(&self, _call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        image::generate(request)
    }

    async fn speech(&self, _call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        speech::synthesise(request)
    }

    async fn voices(&self, _call: Call<'_>) -> Result<Vec<Voice>> {
        Ok(speech::voices())
    }

    async fn stock(&self, _call: Call<'_>, request: &StockRequest) -> Result<StockResponse> {
        Ok(stock::search(request))
    }
}

/// A stable 64-bit digest of some text, so outputs follow their inputs.
pub(crate) fn seed_of(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}
