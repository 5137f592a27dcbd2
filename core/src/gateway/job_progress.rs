//! Moving a durable job forward: submitting it to its provider, checking on it, storing its
//! output and finishing it. Called from the submitting request, from a read of a stale job,
//! from a verified provider callback and from the scheduled work — possibly at once, on several
//! replicas. Every step is safe to repeat:
//!
//! - A worker first *claims* the job: a compare-and-swap that pushes `next_check_at` a lease
//!   ahead. Losing the swap means someone else is on it.
//! - The output is stored under keys derived from the job id, so a repeated store overwrites
//!   the same object and finds the same artifact record.
//! - Finishing is a compare-and-swap to a final status; only then is the quota settled or
//!   refunded. If the process dies between the two, the hold's expiry finds the finished job
//!   and closes the hold the same way (see `scheduled.rs`).
//! - Webhook deliveries are queued *before* the final swap, with ids derived from the job, so a
//!   crash cannot lose the event and a repeat cannot double it; a delivery whose job did not end
//!   the way the event says is dropped by the sender.

use futures::StreamExt;

use crate::domain::{Artifact, ArtifactKind, Job, JobError, JobKind, JobStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{Call, Download, JobProgress, is_retryable};

use super::Gateway;
use super::jobs::chrono_of;
use super::routing::{Output, Work};

/// Largest job output molts will copy (a long 4K video is well under this).
const MAX_OUTPUT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// How much of an output is read before storing it, to check what it is (12 bytes tell every
/// format checked; the rest is for the message).
const SNIFF_BYTES: usize = 16;

impl Gateway {
    /// Pushes one job as far as it goes now and answers it as stored afterwards.
    pub(crate) async fn advance_job(&self, job: Job) -> Result<Job> {
        if job.status.is_final() {
            return Ok(job);
        }
        let id = job.id.clone();
        let Some(job) = self.claim(job).await? else {
            // Another worker has it; answer what it has stored so far.
            return self.reload_job(&id).await;
        };
        if self.now() >= job.deadline_at {
            return self
                .finish_failed(
                    job,
                    "timed_out",
                    "the provider did not finish the job in time",
                )
                .await;
        }
        match job.status {
            JobStatus::Queued => self.submit_to_provider(job, None).await,
            _ => self.check_with_provider(job).await,
        }
    }

    /// Takes the job for this worker: bumps attempts and leases it. `None` if another worker
    /// changed it first.
    async fn claim(&self, job: Job) -> Result<Option<Job>> {
        let now = self.now();
        let claimed = Job {
            attempts: job.attempts + 1,
            next_check_at: now + chrono_of(self.config.jobs.lease),
            updated_at: now,
            ..job.clone()
        };
        if self
            .ports
            .stores
            .jobs
            .update_job(&claimed, job.version)
            .await?
        {
            Ok(Some(Job {
                version: job.version + 1,
                ..claimed
            }))
        } else {
            Ok(None)
        }
    }

    /// Writes `next` over `current` (whose version it must still have); `None` if it lost.
    async fn swap(&self, current: &Job, next: Job) -> Result<Option<Job>> {
        let next = Job {
            updated_at: self.now(),
            ..next
        };
        if self
            .ports
            .stores
            .jobs
            .update_job(&next, current.version)
            .await?
        {
            Ok(Some(Job {
                version: current.version + 1,
                ..next
            }))
        } else {
            Ok(None)
        }
    }

    /// Hands a queued job to its provider (with the routing's retries and fallbacks). The
    /// caller holds the job's lease. `token` is the callback secret made at submission; a
    /// resubmission makes a new one.
    pub(super) async fn submit_to_provider(&self, job: Job, token: Option<&str>) -> Result<Job> {
        let (token, token_hash) = match token {
            Some(t) => (t.to_owned(), job.callback_token_hash.clone()),
            None => {
                let mut bytes = [0u8; 32];
                self.ports.ids.fill_secret(&mut bytes)?;
                let t = hex::encode(bytes);
                let h = crate::secret::hash(&t);
                (t, h)
            }
        };
        let callback_url = self
            .config
            .public_url
            .as_ref()
            .map(|_| format!("{}/v1/callbacks/{}/{token}", self.public_base(), job.id));
        let instance = self.job_instance(&job).await?;
        let model = self.job_model(&job).await?;
        let mut chain = vec![model];
        for id in chain[0].fallbacks.clone() {
            if let Ok(m) = self.resolve_model(&instance, &id, None).await
                && m.modality == chain[0].modality
            {
                chain.push(m);
            }
        }
        let routed = match job.kind {
            JobKind::Video => {
                let mut request = Self::video_request(&job, callback_url);
                if request.avatar_id.is_none() {
                    // The agent's own persona at this provider, when it has one.
                    request.avatar_id = self
                        .default_persona(&job.agent_id, chain[0].provider)
                        .await?;
                }
                self.route(&instance, &chain, Work::SubmitVideo(&request))
                    .await
            }
            JobKind::Render => {
                let request = Self::render_request(&job, callback_url);
                self.route(&instance, &chain, Work::SubmitRender(&request))
                    .await
            }
            JobKind::Persona => {
                let request = match self.persona_request(&job, callback_url).await {
                    Ok(r) => r,
                    // The photo is gone or too big: no retry will change that.
                    Err(e) if !is_retryable(&e) => {
                        return self.finish_failed(job, "invalid_input", e.message()).await;
                    }
                    Err(e) => return Err(e),
                };
                self.route(&instance, &chain, Work::SubmitPersona(&request))
                    .await
            }
        };
        match routed {
            Ok((model, Output::Submitted(submitted))) => {
                tracing::info!(job = %job.id, provider = model.provider.as_str(), provider_job = %submitted.provider_job_id, "job submitted");
                let next = Job {
                    status: JobStatus::Processing,
                    model_id: model.id,
                    provider: model.provider,
                    provider_job_id: Some(submitted.provider_job_id),
                    callback_token_hash: token_hash,
                    next_check_at: self.now() + chrono_of(self.config.jobs.first_check),
                    error: None,
                    ..job.clone()
                };
                Ok(self.swap(&job, next).await?.unwrap_or(job))
            }
            Ok(_) => Err(Error::internal(
                "provider adapter answered with the wrong kind of output",
            )),
            Err(e) if is_retryable(&e) && job.attempts < self.config.jobs.max_submit_attempts => {
                // Every provider is down or busy: try again later, backing off.
                tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "job submission deferred");
                let next = Job {
                    next_check_at: self.now() + self.check_interval(job.attempts),
                    error: Some(JobError {
                        code: "provider_unavailable".into(),
                        message: e.message().to_owned(),
                    }),
                    ..job.clone()
                };
                Ok(self.swap(&job, next).await?.unwrap_or(job))
            }
            Err(e) => {
                let code = if is_retryable(&e) {
                    "provider_unavailable"
                } else {
                    "provider_rejected"
                };
                self.finish_failed(job, code, e.message()).await
            }
        }
    }

    /// Asks the provider where a processing job stands and acts on the answer.
    async fn check_with_provider(&self, job: Job) -> Result<Job> {
        let Some(provider_job_id) = job.provider_job_id.clone() else {
            return self.submit_to_provider(job, None).await;
        };
        let instance = self.job_instance(&job).await?;
        let model = self.job_model(&job).await?;
        let adapter = self.providers.adapter(model.provider)?.clone();
        let credentials = self.credentials_for(&instance, model.provider).await?;
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: self.providers.timeout(model.provider),
        };
        let progress = if job.kind == JobKind::Persona {
            adapter.persona_progress(call, &provider_job_id).await
        } else {
            adapter.job_progress(call, &provider_job_id).await
        };
        tracing::info!(job = %job.id, provider = model.provider.as_str(), outcome = ?progress.as_ref().map(progress_name), "job checked");
        match progress {
            Ok(JobProgress::Queued | JobProgress::Processing) => {
                let next = Job {
                    next_check_at: self.now() + self.check_interval(job.attempts),
                    ..job.clone()
                };
                Ok(self.swap(&job, next).await?.unwrap_or(job))
            }
            // A persona is an id at the provider: there is nothing to copy.
            Ok(JobProgress::Ready { .. }) if job.kind == JobKind::Persona => {
                self.finish_ready(job, None, None).await
            }
            Ok(JobProgress::Ready {
                url,
                duration,
                content_type,
            }) => {
                let download = match adapter.download(call, &url).await {
                    Ok(Some(d)) => {
                        let served = d.content_type.clone();
                        Ok((d, served))
                    }
                    Ok(None) => self.plain_download(&url, content_type.clone()).await,
                    Err(e) => Err(e),
                };
                let stored = match download {
                    Ok((d, served)) => {
                        self.store_job_output(&job, d, content_type, served.as_deref())
                            .await
                    }
                    Err(e) => Err(e),
                };
                match stored {
                    Ok(artifact) => self.finish_ready(job, Some(artifact), duration).await,
                    // An outage or a full store may pass; a refused output will not. An output
                    // that is not the media it claims to be (an error page served with 200) is
                    // the provider's bad response, retried like one: the next check asks the
                    // provider again for a fresh URL, and the job's deadline ends the retries.
                    Err(e) if is_retryable(&e) => {
                        self.retry_later(job, "download_failed", &e).await
                    }
                    Err(e) => {
                        self.finish_failed(job, "download_failed", e.message())
                            .await
                    }
                }
            }
            Ok(JobProgress::Failed { message }) => {
                self.finish_failed(job, "provider_failed", &message).await
            }
            Err(e) if is_retryable(&e) => self.retry_later(job, "provider_unavailable", &e).await,
            Err(e) => {
                self.finish_failed(job, "provider_rejected", e.message())
                    .await
            }
        }
    }

    /// Leaves the job as it is, due again after a backoff, noting why.
    async fn retry_later(&self, job: Job, code: &str, error: &Error) -> Result<Job> {
        tracing::warn!(job = %job.id, code, error = %error, "job check failed; will retry");
        let next = Job {
            next_check_at: self.now() + self.check_interval(job.attempts),
            error: Some(JobError {
                code: code.to_owned(),
                message: error.message().to_owned(),
            }),
            ..job.clone()
        };
        Ok(self.swap(&job, next).await?.unwrap_or(job))
    }

    /// The wait before check number `attempts + 1`: doubling from the first check, capped.
    fn check_interval(&self, attempts: u32) -> chrono::Duration {
        let timing = &self.config.jobs;
        let wait = timing
            .first_check
            .saturating_mul(1u32 << attempts.min(16))
            .min(timing.max_check_interval);
        chrono_of(wait)
    }

    /// GETs an output URL (pre-signed by the provider, so no key is sent); also answers the
    /// content type the server gave, for messages.
    async fn plain_download(
        &self,
        url: &str,
        content_type: Option<String>,
    ) -> Result<(Download, Option<String>)> {
        let request = http::Request::get(url)
            .body(bytes::Bytes::new())
            .map_err(|_| Error::unavailable("the provider gave an output URL that is not valid"))?;
        let response = self
            .http()?
            .send(request, crate::ports::RequestOptions::default())
            .await?;
        if !response.status().is_success() {
            return Err(Error::unavailable(format!(
                "fetching the output answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let header_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((
            Download {
                content_type: content_type.or_else(|| header_type.clone()),
                body: response.into_body(),
            },
            header_type,
        ))
    }

    /// Copies a job's output into the blob store and records it, once its first bytes show it
    /// is the media it claims to be (`served` is the type the server answered with, for the
    /// message). Keys derive from the job id: repeating this overwrites the same object and
    /// finds the same record.
    async fn store_job_output(
        &self,
        job: &Job,
        download: Download,
        content_type: Option<String>,
        served: Option<&str>,
    ) -> Result<Artifact> {
        let declared = download.content_type.or(content_type);
        let content_type = declared.clone().unwrap_or_else(|| "video/mp4".to_owned());
        let ext = extension_for(&content_type);
        let suffix = job.id.trim_start_matches("job_");
        let artifact_id = format!("art_{suffix}");
        if let Some(existing) = self
            .ports
            .stores
            .artifacts
            .get_artifact(&artifact_id)
            .await?
        {
            return Ok(existing);
        }
        // Only the first chunks are held, never the whole output.
        let mut body = download.body;
        let mut head = Vec::new();
        let mut held = 0;
        while held < SNIFF_BYTES {
            let Some(chunk) = body.next().await else {
                break;
            };
            let chunk = chunk?;
            held += chunk.len();
            head.push(chunk);
        }
        let first: Vec<u8> = head
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(SNIFF_BYTES)
            .collect();
        check_output(declared.as_deref(), served, &first, held).map_err(|message| {
            Error::unavailable(format!("provider '{}' {message}", job.provider.as_str()))
                .with_code("provider_bad_response")
        })?;
        let key = format!("jobs/{}/{}/output.{ext}", job.agent_id, job.id);
        let mut seen = 0u64;
        let body = futures::stream::iter(head.into_iter().map(Ok))
            .chain(body)
            .map(move |chunk| {
                let chunk = chunk?;
                seen += chunk.len() as u64;
                if seen > MAX_OUTPUT_BYTES {
                    return Err(Error::unavailable("the job's output is too large to store"));
                }
                Ok(chunk)
            })
            .boxed();
        let meta = self.blobs()?.put(&key, &content_type, body).await?;
        let artifact = Artifact {
            id: artifact_id,
            instance_id: job.instance_id.clone(),
            agent_id: job.agent_id.clone(),
            kind: ArtifactKind::Output,
            job_id: Some(job.id.clone()),
            // Unique per agent (the store keeps names unique per kind and version).
            name: format!("{}.{ext}", job.id),
            version: 1,
            blob_key: key,
            content_type,
            size: meta.size,
            sha256: meta.sha256,
            created_at: self.now(),
        };
        match self.ports.stores.artifacts.insert_artifact(&artifact).await {
            Ok(()) => Ok(artifact),
            Err(e) if e.kind() == ErrorKind::Conflict => self
                .ports
                .stores
                .artifacts
                .get_artifact(&artifact.id)
                .await?
                .ok_or(e),
            Err(e) => Err(e),
        }
    }

    async fn finish_ready(
        &self,
        job: Job,
        artifact: Option<Artifact>,
        duration: Option<f64>,
    ) -> Result<Job> {
        let now = self.now();
        let ready = Job {
            status: JobStatus::Ready,
            artifact_id: artifact.map(|a| a.id),
            duration_seconds: duration.or(job.duration_seconds),
            error: None,
            finished_at: Some(now),
            ..job.clone()
        };
        self.queue_job_events(&ready).await?;
        let Some(done) = self.swap(&job, ready).await? else {
            return self.reload_job(&job.id).await;
        };
        tracing::info!(job = %done.id, "job ready");
        self.close_job_hold(&done).await;
        Ok(done)
    }

    pub(super) async fn finish_failed(&self, job: Job, code: &str, message: &str) -> Result<Job> {
        let now = self.now();
        let failed = Job {
            status: JobStatus::Failed,
            error: Some(JobError {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            finished_at: Some(now),
            ..job.clone()
        };
        self.queue_job_events(&failed).await?;
        let Some(done) = self.swap(&job, failed).await? else {
            return self.reload_job(&job.id).await;
        };
        tracing::warn!(job = %done.id, code, message, "job failed");
        self.close_job_hold(&done).await;
        Ok(done)
    }

    /// Settles a ready job's hold or refunds any other finished job's. Closing twice is fine.
    pub(super) async fn close_job_hold(&self, job: &Job) {
        let now = self.now();
        let quota = &self.ports.stores.quota;
        let result = if job.status == JobStatus::Ready {
            quota.settle(&job.reservation_id, job.units, now).await
        } else {
            quota.refund(&job.reservation_id, now).await
        };
        match result {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) => {
                // The hold's expiry closes it the same way later.
                tracing::error!(job = %job.id, error = %e, "closing the job's quota hold failed");
            }
        }
    }

    pub(super) async fn refund_job_hold(&self, reservation_id: &str) {
        match self
            .ports
            .stores
            .quota
            .refund(reservation_id, self.now())
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) => tracing::error!(reservation = %reservation_id, error = %e, "refund failed"),
        }
    }

    /// The provider request for a persona job, with the photo read back from the blob store.
    async fn persona_request(
        &self,
        job: &Job,
        callback_url: Option<String>,
    ) -> Result<crate::providers::PersonaRequest> {
        let text = |k: &str| job.input.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let image = match text("image_artifact_id") {
            Some(id) => {
                let artifact = self
                    .ports
                    .stores
                    .artifacts
                    .get_artifact(&id)
                    .await?
                    .ok_or_else(|| Error::invalid("image_file", "the persona photo was deleted"))?;
                let object = self.blobs()?.get(&artifact.blob_key, None).await?;
                let mut bytes = Vec::new();
                let mut body = object.body;
                while let Some(chunk) = body.next().await {
                    bytes.extend_from_slice(&chunk?);
                    if bytes.len() as u64 > super::jobs::MAX_PERSONA_IMAGE_BYTES {
                        return Err(Error::invalid(
                            "image_file",
                            "the photo may be at most 10 MiB",
                        ));
                    }
                }
                Some((bytes::Bytes::from(bytes), artifact.content_type))
            }
            None => None,
        };
        Ok(crate::providers::PersonaRequest {
            name: text("name"),
            image,
            video_url: text("video_url"),
            consent_video_url: text("consent_video_url"),
            callback_url,
            job_id: job.id.clone(),
        })
    }

    async fn reload_job(&self, id: &str) -> Result<Job> {
        self.ports
            .stores
            .jobs
            .get_job(id)
            .await?
            .ok_or_else(|| Error::not_found("job", id))
    }

    async fn job_instance(&self, job: &Job) -> Result<crate::domain::Instance> {
        self.ports
            .stores
            .instances
            .get_instance(&job.instance_id)
            .await?
            .ok_or_else(|| Error::not_found("instance", &job.instance_id))
    }

    async fn job_model(&self, job: &Job) -> Result<crate::domain::ModelConfig> {
        self.ports
            .stores
            .models
            .get_model(&job.model_id)
            .await?
            .ok_or_else(|| {
                Error::unavailable(format!(
                    "model config '{}' was removed while the job ran",
                    job.model_id
                ))
            })
    }
}

fn progress_name(p: &JobProgress) -> &'static str {
    match p {
        JobProgress::Queued => "queued",
        JobProgress::Processing => "processing",
        JobProgress::Ready { .. } => "ready",
        JobProgress::Failed { .. } => "failed",
    }
}

/// A file extension for an output's MIME type.
fn extension_for(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or("").trim() {
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "image/gif" => "gif",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        _ => "mp4",
    }
}

/// What a job's output is, by its MIME type or by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Video,
    Image,
    Audio,
}

impl Media {
    fn noun(self) -> &'static str {
        match self {
            Media::Video => "a video",
            Media::Image => "an image",
            Media::Audio => "audio",
        }
    }
}

/// The media a MIME type claims, for the types job outputs come as and whose files molts can
/// recognise; `None` for any other type (`application/octet-stream`...).
fn claimed_media(content_type: &str) -> Option<Media> {
    match essence(content_type).as_str() {
        "video/mp4" | "video/quicktime" | "video/webm" => Some(Media::Video),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => Some(Media::Image),
        "audio/mpeg" | "audio/mp3" | "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/ogg" => {
            Some(Media::Audio)
        }
        _ => None,
    }
}

/// The media `head` (a file's first bytes, at least 12 of them when the file has them) starts
/// as, from its magic number; `None` when it is none molts recognises.
fn sniff_media(head: &[u8]) -> Option<Media> {
    let at = |range: std::ops::Range<usize>| head.get(range);
    // ISO BMFF (MP4, MOV): a 32-bit size, then a top-level box type.
    let bmff = matches!(
        at(4..8),
        Some(b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip" | b"pnot")
    );
    if bmff || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        // The second is EBML: WebM and Matroska.
        Some(Media::Video)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(&[0xff, 0xd8, 0xff])
        || head.starts_with(b"GIF87a")
        || head.starts_with(b"GIF89a")
        || (head.starts_with(b"RIFF") && at(8..12) == Some(b"WEBP"))
    {
        Some(Media::Image)
    } else if (head.starts_with(b"RIFF") && at(8..12) == Some(b"WAVE"))
        || head.starts_with(b"ID3")
        || head.starts_with(b"OggS")
        // An MPEG audio frame: eleven sync bits (JPEG's FF D8 does not have them).
        || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0)
    {
        Some(Media::Audio)
    } else {
        None
    }
}

/// Whether `head` opens a text document — HTML, XML or JSON — rather than a media file.
fn looks_like_document(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    matches!(
        text.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'<' | b'{' | b'[')
    )
}

/// Whether a MIME type is a text document's (an error page, an API's JSON), never media.
fn is_document_type(content_type: &str) -> bool {
    let t = essence(content_type);
    t.starts_with("text/")
        || matches!(t.as_str(), "application/json" | "application/xml")
        || t.ends_with("+json")
        || t.ends_with("+xml")
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Checks a job output's first bytes against the type it is declared as (by the provider or,
/// failing that, the server): a type molts recognises must be that kind of media, in any of
/// its formats (a video/mp4 that is WebM passes); any other type, or none, passes unless the
/// output is a text document. `received` is how many bytes were read (`head` is at most
/// [`SNIFF_BYTES`] of them). The refusal says what came instead and shows no more than those
/// first bytes.
fn check_output(
    declared: Option<&str>,
    served: Option<&str>,
    head: &[u8],
    received: usize,
) -> std::result::Result<(), String> {
    let claimed = declared.and_then(claimed_media);
    let found = sniff_media(head);
    let ok = match (claimed, found) {
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => false,
        (None, Some(_)) => true,
        (None, None) => !declared.is_some_and(is_document_type) && !looks_like_document(head),
    };
    if ok {
        return Ok(());
    }
    let expected = claimed.map_or("media", Media::noun);
    let declared = declared.unwrap_or("no content type");
    let served = served.unwrap_or("no content type");
    Err(if head.is_empty() {
        format!("sent an empty output instead of {expected} ({declared}), served as {served}")
    } else {
        format!(
            "sent an output that is not {expected} ({declared}): {} served as {served}, \
             starting `{}`{}",
            found.map_or_else(|| describe(head), Media::noun),
            escaped(head),
            if received > head.len() { "…" } else { "" }
        )
    })
}

/// A word for what a document looks like.
fn describe(head: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<!doctype html") || text.starts_with("<html") {
        "an HTML page"
    } else if text.starts_with("<?xml") || text.starts_with('<') {
        "an XML or HTML document"
    } else if text.starts_with('{') || text.starts_with('[') {
        "JSON"
    } else {
        "something unrecognised"
    }
}

/// Bytes as printable ASCII, anything else as `\xNN`.
fn escaped(head: &[u8]) -> String {
    head.iter()
        .map(|&b| match b {
            b' '..=b'~' if b != b'`' && b != b'\\' => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00";
    const HTML: &[u8] = b"<!DOCTYPE html><html><body>Service Unavailable";

    fn check(content_type: &str, head: &[u8]) -> std::result::Result<(), String> {
        let head = &head[..head.len().min(SNIFF_BYTES)];
        check_output(Some(content_type), None, head, head.len())
    }

    /// The refusal's message (empty when it passed).
    fn refused(result: std::result::Result<(), String>) -> String {
        result.err().unwrap_or_default()
    }

    #[test]
    fn videos_are_recognised_by_their_boxes() {
        assert_eq!(check("video/mp4", MP4), Ok(()));
        for boxed in [&b"moov"[..], b"mdat", b"free", b"wide", b"skip"] {
            let mut head = vec![0, 0, 0, 8];
            head.extend_from_slice(boxed);
            head.extend_from_slice(&[0; 4]);
            assert_eq!(sniff_media(&head), Some(Media::Video), "{boxed:?}");
        }
        assert_eq!(check("video/quicktime", MP4), Ok(()));
        assert_eq!(
            check("video/webm", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00"),
            Ok(())
        );
        // Another container than claimed is still a video.
        assert_eq!(
            check("video/mp4", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00"),
            Ok(())
        );
    }

    #[test]
    fn images_and_audio_are_recognised_by_their_magic_numbers() {
        assert_eq!(
            check("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"),
            Ok(())
        );
        assert_eq!(check("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"), Ok(()));
        assert_eq!(check("image/gif", b"GIF89a\x01\x00\x01\x00"), Ok(()));
        assert_eq!(check("image/webp", b"RIFF\x24\x00\x00\x00WEBPVP8 "), Ok(()));
        assert_eq!(check("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), Ok(()));
        assert_eq!(
            check("audio/mpeg", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
            Ok(())
        );
        assert_eq!(
            check("audio/mpeg", b"\xff\xfb\x90\xc4\x00\x00\x00\x00"),
            Ok(())
        );
        assert_eq!(check("audio/ogg", b"OggS\x00\x02\x00\x00"), Ok(()));
        // A JPEG is not an MPEG audio frame, nor a WAV a WebP.
        assert_eq!(sniff_media(b"\xff\xd8\xff\xdb"), Some(Media::Image));
        assert!(check("image/webp", b"RIFF\x24\x00\x00\x00WAVEfmt ").is_err());
    }

    #[test]
    fn an_error_page_or_json_is_not_a_video() {
        let served = Some("text/html; charset=utf-8");
        assert_eq!(
            refused(check_output(
                Some("video/mp4"),
                served,
                &HTML[..16],
                HTML.len()
            )),
            "sent an output that is not a video (video/mp4): an HTML page served as \
             text/html; charset=utf-8, starting `<!DOCTYPE html><`…"
        );
        let e = refused(check("video/mp4", br#"{"error":"Forbidden"}"#));
        assert!(e.contains("JSON served as no content type"), "{e}");
        let e = refused(check("image/png", MP4));
        assert!(
            e.contains("not an image (image/png): a video served as"),
            "{e}"
        );
        let e = refused(check("video/mp4", b""));
        assert!(e.contains("empty output instead of a video"), "{e}");
        let e = refused(check("video/mp4", b"\x00\x01`\\z"));
        assert!(e.contains("something unrecognised"), "{e}");
        assert!(e.contains("starting `\\x00\\x01\\x60\\x5cz`"), "{e}");
    }

    #[test]
    fn an_unrecognised_type_or_none_is_refused_only_as_a_document() {
        assert_eq!(check("application/octet-stream", MP4), Ok(()));
        assert_eq!(
            check("application/octet-stream", b"\x00\x01\x02\x03"),
            Ok(())
        );
        assert_eq!(check("image/bmp", b"BM\x36\x00\x0c\x00"), Ok(()));
        assert_eq!(check_output(None, None, b"GIF89a\x01\x00", 8), Ok(()));
        assert!(check("application/octet-stream", b"  \n<html>").is_err());
        assert!(check("application/octet-stream", b"\xef\xbb\xbf{\"a\":1}").is_err());
        assert!(check("text/html", b"\x00\x01\x02\x03").is_err());
        assert!(check("application/problem+json", b"\x00\x01").is_err());
        let e = refused(check_output(None, Some("text/html"), b"<html>", 6));
        assert_eq!(
            e,
            "sent an output that is not media (no content type): an HTML page served as \
             text/html, starting `<html>`"
        );
    }
}
