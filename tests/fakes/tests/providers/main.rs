//! The real provider adapters of molts-core, sent through molts-reqwest over real HTTP to the
//! fake providers: success mapping, streaming whole and cut, every error class, and the
//! Gateway's routing (fallbacks, Retry-After, quota settled with provider usage or refunded).
//! One test binary for all of it, to link once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anthropic;
mod callbacks;
mod common;
mod control;
mod elevenlabs;
mod gemini;
mod heygen;
mod ideogram;
mod instance_keys;
mod job_outputs;
mod jobs;
mod openai;
mod pexels;
mod routing;
mod shotstack;
mod tavus;
mod template;
mod veo;
