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

use crate::ErrorCode;
use futures::StreamExt;

use crate::domain::{Artifact, ArtifactKind, Job, JobError, JobKind, JobStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;
use crate::providers::{Call, Download, Fetch, JobProgress, is_retryable};

use super::Gateway;
use super::jobs::chrono_of;
use super::outbound::tenant_refusal;
use super::output_check::{SNIFF_BYTES, check_output};
use super::request_notes::RequestNotes;
use super::routing::{Output, Work};

/// Largest job output molts will copy (a long 4K video is well under this).
const MAX_OUTPUT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

impl Gateway {
    /// Pushes one job as far as it goes now and answers it as stored afterwards.
    pub(crate) async fn advance_job(&self, job: Job) -> Result<Job> {
        if job.status.is_final() {
            return Ok(job);
        }
        if job.status == JobStatus::Queued
            && job.attempts == 0
            && !self.unconfirmed_claim_is_held(&job).await?
        {
            // A keyed submission's claim whose request died before it held the quota.
            return self.give_up_unconfirmed_claim(job).await;
        }
        let id = job.id.clone();
        let last_error = job.error.clone();
        let Some(job) = self.claim(job).await? else {
            // Another worker has it; answer what it has stored so far.
            return self.reload_job(&id).await;
        };
        if self.now() >= job.deadline_at {
            // Keep what went wrong last (a refused download, an outage): it is usually why.
            let message = match &last_error {
                Some(last) => format!(
                    "the provider did not finish the job in time; the last attempt failed \
                     ({}): {}",
                    last.code, last.message
                ),
                None => "the provider did not finish the job in time".to_owned(),
            };
            return self.finish_failed(job, "timed_out", &message).await;
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
            next_check_at: now + chrono_of(self.inner.config.jobs.lease),
            updated_at: now,
            // A queued job without an error is one being submitted right now: a cancel must
            // not refund it before the provider's answer is known (see `jobs/cancel.rs`).
            error: match job.status {
                JobStatus::Queued => None,
                _ => job.error.clone(),
            },
            ..job.clone()
        };
        if self
            .inner
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

    /// Writes `next` over `current` (whose version it must still have), stamped now; the stored
    /// job, or `None` if another writer moved it first.
    pub(super) async fn swap(&self, current: &Job, next: Job) -> Result<Option<Job>> {
        let next = Job {
            updated_at: self.now(),
            ..next
        };
        if self
            .inner
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
                self.inner.ports.ids.fill_secret(&mut bytes)?;
                let t = hex::encode(bytes);
                let h = crate::secret::hash(&t);
                (t, h)
            }
        };
        let callback_url = self
            .inner
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
                self.route(
                    &instance,
                    &RequestNotes::default(),
                    &chain,
                    Work::SubmitVideo(&request),
                )
                .await
            }
            JobKind::Render => {
                let request = Self::render_request(&job, callback_url);
                self.route(
                    &instance,
                    &RequestNotes::default(),
                    &chain,
                    Work::SubmitRender(&request),
                )
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
                self.route(
                    &instance,
                    &RequestNotes::default(),
                    &chain,
                    Work::SubmitPersona(&request),
                )
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
                    next_check_at: self.now() + chrono_of(self.inner.config.jobs.first_check),
                    error: None,
                    ..job.clone()
                };
                Ok(self.swap(&job, next).await?.unwrap_or(job))
            }
            Ok(_) => Err(Error::internal(
                "provider adapter answered with the wrong kind of output",
            )),
            Err(e)
                if is_retryable(&e)
                    && job.attempts < self.inner.config.jobs.max_submit_attempts =>
            {
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
        let resolved = self.credentials_for(&instance, model.provider).await?;
        let adapter = self.adapter_for(&model, &resolved)?;
        let call = Call {
            model: &model,
            credentials: &resolved.credentials,
            timeout: self.inner.providers.timeout(model.provider),
        };
        // The provider's timeout bounds the whole check, not only each wait inside it.
        let checking = async {
            if job.kind == JobKind::Persona {
                adapter.persona_progress(call, &provider_job_id).await
            } else {
                adapter.job_progress(call, &provider_job_id).await
            }
        };
        let progress = self
            .within(call.timeout, "the provider's status check", checking)
            .await
            .map_err(|e| tenant_refusal(e, model.provider));
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
                let copying = async {
                    let (d, served) = match adapter.download(call, &url).await? {
                        Fetch::Fetched(d) => {
                            let served = d.content_type.clone();
                            (d, served)
                        }
                        // A URL the provider gave: where it may point is `outbound.rs`'s to judge.
                        Fetch::Get(url) => {
                            let operator = Self::operator_origin(&model, &resolved);
                            self.plain_download(&url, content_type.clone(), operator.as_ref())
                                .await?
                        }
                    };
                    self.store_job_output(&job, d, content_type, served.as_deref())
                        .await
                };
                // Past this worker's lease another may take the job: the copy ends by then.
                let lease_left = (job.next_check_at - self.now())
                    .to_std()
                    .unwrap_or_default();
                let stored = self
                    .within(lease_left, "copying the job's output", copying)
                    .await;
                match stored {
                    Ok(artifact) => self.finish_ready(job, Some(artifact), duration).await,
                    // An outage or a full store may pass; a refused output, or an output URL on
                    // an internal address, will not. An output that is not the media it claims
                    // to be (an error page served with 200) is the provider's bad response,
                    // retried like one: the next check asks the provider again for a fresh URL,
                    // and the job's deadline ends the retries.
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
        let timing = &self.inner.config.jobs;
        let wait = timing
            .first_check
            .saturating_mul(1u32 << attempts.min(16))
            .min(timing.max_check_interval);
        chrono_of(wait)
    }

    /// GETs an output URL (pre-signed by the provider, so no key is sent) through the client
    /// `operator`'s origin calls for (`outbound.rs`); also answers the content type the server
    /// gave, for messages.
    async fn plain_download(
        &self,
        url: &str,
        content_type: Option<String>,
        operator: Option<&url::Origin>,
    ) -> Result<(Download, Option<String>)> {
        let (http, request) = self.provider_url_get(url, operator)?;
        let response = http
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
            .inner
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
                .with_code(ErrorCode::ProviderBadResponse)
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
        match self
            .inner
            .ports
            .stores
            .artifacts
            .insert_artifact(&artifact)
            .await
        {
            Ok(()) => Ok(artifact),
            Err(e) if e.kind() == ErrorKind::Conflict => self
                .inner
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
        let stored_output = artifact.clone();
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
            let stored = self.reload_job(&job.id).await?;
            // Canceled (or failed) while its output was being copied: the output is never
            // served (reads check the job too), so it is not kept either.
            if stored.status.is_final()
                && stored.status != JobStatus::Ready
                && let Some(output) = stored_output
            {
                self.forget_output(&output).await;
            }
            return Ok(stored);
        };
        tracing::info!(job = %done.id, "job ready");
        self.close_job_hold(&done).await;
        Ok(done)
    }

    /// Deletes an output whose job did not end ready; a failure leaves bytes that are never
    /// served, so it is only logged.
    async fn forget_output(&self, output: &Artifact) {
        let deleted = match self.blobs() {
            Ok(blobs) => blobs.delete(&output.blob_key).await,
            Err(e) => Err(e),
        };
        let forgotten = self
            .inner
            .ports
            .stores
            .artifacts
            .delete_artifact(&output.id)
            .await;
        if let Err(e) = deleted.and(forgotten.map(|_| ())) {
            tracing::warn!(artifact = %output.id, error = %e, "deleting an unserved output failed");
        }
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

    /// Settles a ready job's hold (and a canceled one's the provider had accepted) or refunds
    /// any other finished job's. Closing twice is fine.
    pub(super) async fn close_job_hold(&self, job: &Job) {
        let now = self.now();
        let quota = &self.inner.ports.stores.quota;
        // A job canceled once its provider accepted it is charged: a cancel the provider
        // confirmed refunds the hold itself, before anything else could close it.
        let charged = match job.status {
            JobStatus::Ready => true,
            JobStatus::Canceled => job.provider_job_id.is_some(),
            _ => false,
        };
        let result = if charged {
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
            .inner
            .ports
            .stores
            .quota
            .refund(reservation_id, self.now())
            .await
        {
            Ok(_) => {}
            // Closed already, or never made (a keyed claim given up before its hold).
            Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {}
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
                    .inner
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

    pub(super) async fn reload_job(&self, id: &str) -> Result<Job> {
        self.inner
            .ports
            .stores
            .jobs
            .get_job(id)
            .await?
            .ok_or_else(|| Error::not_found("job", id))
    }

    pub(super) async fn job_instance(&self, job: &Job) -> Result<crate::domain::Instance> {
        self.inner
            .ports
            .stores
            .instances
            .get_instance(&job.instance_id)
            .await?
            .ok_or_else(|| Error::not_found("instance", &job.instance_id))
    }

    pub(super) async fn job_model(&self, job: &Job) -> Result<crate::domain::ModelConfig> {
        self.inner
            .ports
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
