//! Durable jobs, as agents see them: submitting a video or render, reading one, listing and
//! canceling (`jobs/cancel.rs`). Submission stores the job and holds its quota *before* any
//! provider call, so a crash at any point leaves a job the scheduled work finishes (see
//! `job_progress.rs`).
//!
//! Order of writes on submit: hold the quota under the job's own id, store the job, then call
//! the provider. A crash after the hold but before the job is stored leaves a hold with no job;
//! when it expires the scheduled work refunds it instead of charging it (see `scheduled.rs`).
//! A submission with an `Idempotency-Key` stores its job first and holds after, so its
//! concurrent copies never hold quota (`jobs/claim.rs`).

use crate::ErrorCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::Timestamp;
use crate::domain::{Job, JobKind, JobQuery, JobStatus, Modality};
use crate::error::{Error, Result};
use crate::providers::{RenderRequest, VideoRequest};

use super::admin::Page;
use super::{AgentPrincipal, Gateway};

mod cancel;
mod claim;

use claim::{Claimed, quota_refusal};

/// Longest script a video job takes, in characters.
pub const MAX_SCRIPT_CHARS: usize = 5000;
/// Longest idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// How jobs are paced. Tests shorten these; the defaults suit real providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTiming {
    /// The first status check after the provider accepted a job.
    pub first_check: Duration,
    /// Checks back off up to this.
    pub max_check_interval: Duration,
    /// A worker working on a job pushes its next check this far ahead, so no other worker
    /// takes it meanwhile; if the worker dies, the job is picked up again after this.
    pub lease: Duration,
    /// A job not ready after this fails with `timed_out` and is refunded.
    pub deadline: Duration,
    /// Submissions tried (each with the routing's own retries and fallbacks) before a job
    /// whose providers are all down fails with `provider_unavailable`.
    pub max_submit_attempts: u32,
}

impl Default for JobTiming {
    fn default() -> Self {
        Self {
            first_check: Duration::from_secs(5),
            max_check_interval: Duration::from_secs(60),
            lease: Duration::from_secs(120),
            deadline: Duration::from_secs(3 * 3600),
            max_submit_attempts: 5,
        }
    }
}

/// An avatar or text-to-video request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSubmission {
    /// Model config id, alias or `provider:model`; the instance's default video model if absent.
    #[serde(default)]
    pub model: Option<String>,
    /// What the avatar says (or what Veo shows).
    pub script: String,
    /// Extra context: a scene, a tone.
    #[serde(default)]
    pub context: Option<String>,
    /// Provider avatar or replica id.
    #[serde(default)]
    pub avatar_id: Option<String>,
    /// Provider voice id.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// `16:9`, `9:16` or `1:1`.
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    /// Where `job.ready` / `job.failed` go for this job.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// A timeline render request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderSubmission {
    /// Model config id or alias; the instance's default render model if absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The Shotstack-style timeline.
    pub timeline: serde_json::Value,
    /// Output settings (`{"format": "mp4", "resolution": "sd"}`).
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// Where `job.ready` / `job.failed` go for this job.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// A request to make the caller's avatar persona at a provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaSubmission {
    /// A video model config whose provider makes the persona (HeyGen, Tavus, demo); the
    /// instance's default video model if absent.
    #[serde(default)]
    pub model: Option<String>,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The caller's uploaded photo (`PUT /v1/files/{name}`), for a HeyGen talking photo.
    #[serde(default)]
    pub image_file: Option<String>,
    /// The photo itself, base64 (kept as the upload `persona-photo`), where there is no upload
    /// yet (at registration).
    #[serde(default)]
    pub image_base64: Option<String>,
    /// The photo's MIME type when given as base64 (`image/jpeg` by default).
    #[serde(default)]
    pub image_content_type: Option<String>,
    /// A training video the provider fetches (Tavus).
    #[serde(default)]
    pub video_url: Option<String>,
    /// Tavus' consent video, when separate.
    #[serde(default)]
    pub consent_video_url: Option<String>,
}

/// Largest persona photo.
pub(super) const MAX_PERSONA_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// A submission's answer: the job, and whether it was an earlier submission replayed by its
/// idempotency key.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The job.
    pub job: JobView,
    /// `true` when the key matched an earlier submission (nothing new was charged).
    pub replayed: bool,
}

/// A job as its agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// `job_…`.
    pub id: String,
    /// `video` or `render`.
    pub kind: JobKind,
    /// Where it stands.
    pub status: JobStatus,
    /// The model config serving it.
    pub model: String,
    /// What was asked for.
    pub input: serde_json::Value,
    /// The stored output, once ready.
    pub artifact_id: Option<String>,
    /// Where to download it (`/v1/artifacts/{id}/content`), once ready.
    pub url: Option<String>,
    /// Seconds of video, when known.
    pub duration: Option<f64>,
    /// Why it failed.
    pub error: Option<crate::domain::JobError>,
    /// The agent that owns it.
    pub agent: JobAgent,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Reached a final status.
    pub finished_at: Option<Timestamp>,
}

/// The owner, as the seed's video API showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobAgent {
    /// The agent's id.
    pub id: String,
    /// The agent's name.
    pub name: String,
}

/// Plain `Duration` to chrono's, saturating.
pub(super) fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Gateway {
    /// The agent-facing view of `job`.
    pub(super) fn job_view(&self, job: &Job, agent_name: &str) -> JobView {
        JobView {
            id: job.id.clone(),
            kind: job.kind,
            status: job.status,
            model: job.model_id.clone(),
            input: job.input.clone(),
            url: job
                .artifact_id
                .as_ref()
                .map(|a| format!("{}/v1/artifacts/{a}/content", self.public_base())),
            artifact_id: job.artifact_id.clone(),
            duration: job.duration_seconds,
            error: job.error.clone(),
            agent: JobAgent {
                id: job.agent_id.clone(),
                name: agent_name.to_owned(),
            },
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }

    /// The public URL without a trailing `/`, or empty (then URLs are relative).
    pub(super) fn public_base(&self) -> &str {
        self.inner
            .config
            .public_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
    }

    /// Starts a video job.
    pub async fn submit_video(
        &self,
        principal: &AgentPrincipal,
        request: VideoSubmission,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted> {
        let script = request.script.trim();
        if script.is_empty() {
            return Err(Error::invalid("script", "script must not be empty"));
        }
        if script.chars().count() > MAX_SCRIPT_CHARS {
            return Err(Error::invalid(
                "script",
                format!("script is longer than {MAX_SCRIPT_CHARS} characters"),
            ));
        }
        if let Some(ratio) = &request.aspect_ratio
            && !matches!(ratio.as_str(), "16:9" | "9:16" | "1:1")
        {
            return Err(Error::invalid(
                "aspect_ratio",
                "aspect_ratio must be one of 16:9, 9:16, 1:1",
            ));
        }
        let input = json!({
            "script": script,
            "context": request.context,
            "avatar_id": request.avatar_id,
            "voice_id": request.voice_id,
            "aspect_ratio": request.aspect_ratio,
        });
        self.submit_job(
            principal,
            JobKind::Video,
            request.model.as_deref(),
            input,
            request.webhook_url,
            idempotency_key,
        )
        .await
    }

    /// Starts a render job.
    pub async fn submit_render(
        &self,
        principal: &AgentPrincipal,
        request: RenderSubmission,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted> {
        let tracks = request
            .timeline
            .get("tracks")
            .and_then(|t| t.as_array())
            .ok_or_else(|| Error::invalid("timeline", "timeline.tracks must be an array"))?;
        if tracks.is_empty() {
            return Err(Error::invalid(
                "timeline",
                "timeline.tracks must not be empty",
            ));
        }
        if let Some(output) = &request.output
            && !output.is_object()
        {
            return Err(Error::invalid("output", "output must be an object"));
        }
        let input = json!({
            "timeline": request.timeline,
            "output": request.output.unwrap_or_else(|| json!({"format": "mp4", "resolution": "sd"})),
        });
        self.submit_job(
            principal,
            JobKind::Render,
            request.model.as_deref(),
            input,
            request.webhook_url,
            idempotency_key,
        )
        .await
    }

    /// Starts making the caller's avatar persona. When ready, its provider id is used for the
    /// caller's videos at that provider unless a video names its own `avatar_id`. Free.
    pub async fn submit_persona(
        &self,
        principal: &AgentPrincipal,
        request: PersonaSubmission,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted> {
        if let Some(url) = &request.video_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::invalid(
                "video_url",
                "video_url must be an http(s) URL",
            ));
        }
        // A retry must not upload the photo again (a new version would make the request look
        // different): answer the earlier job before touching anything.
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
            if let Some(earlier) = self
                .inner
                .ports
                .stores
                .jobs
                .find_job_by_idempotency_key(&principal.agent.id, key)
                .await?
            {
                let text = |k: &str| earlier.input.get(k).and_then(|v| v.as_str());
                let same = earlier.kind == JobKind::Persona
                    && text("name") == request.name.as_deref()
                    && text("video_url") == request.video_url.as_deref();
                if !same {
                    return Err(Error::conflict(
                        "this Idempotency-Key was used for a different request",
                    )
                    .with_code(ErrorCode::IdempotencyKeyReused));
                }
                if let Some(refusal) = quota_refusal(&earlier) {
                    return Err(refusal);
                }
                return Ok(Submitted {
                    job: self.job_view(&earlier, &principal.agent.name),
                    replayed: true,
                });
            }
        }
        let image_file = match (&request.image_file, &request.image_base64) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "image_file",
                    "send either image_file or image_base64, not both",
                ));
            }
            (Some(name), None) => Some(self.file(principal, name, None).await?),
            (None, Some(b64)) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| Error::invalid("image_base64", "image_base64 is not base64"))?;
                if bytes.len() as u64 > MAX_PERSONA_IMAGE_BYTES {
                    return Err(Error::invalid(
                        "image_base64",
                        "the photo may be at most 10 MiB",
                    ));
                }
                let content_type = request
                    .image_content_type
                    .as_deref()
                    .unwrap_or("image/jpeg");
                if !content_type.starts_with("image/") {
                    return Err(Error::invalid(
                        "image_content_type",
                        "image_content_type must be an image type",
                    ));
                }
                let body = futures::stream::iter([Ok(bytes::Bytes::from(bytes))]);
                Some(
                    self.upload_file(principal, "persona-photo", content_type, Box::pin(body))
                        .await?,
                )
            }
            (None, None) => None,
        };
        if let Some(file) = &image_file
            && file.size > MAX_PERSONA_IMAGE_BYTES
        {
            return Err(Error::invalid(
                "image_file",
                "the photo may be at most 10 MiB",
            ));
        }
        if image_file.is_none() && request.video_url.is_none() {
            return Err(Error::invalid(
                "image_file",
                "a persona needs a photo (image_file or image_base64) or a training video_url",
            ));
        }
        let input = json!({
            "name": request.name,
            "image_file": image_file.as_ref().map(|f| &f.name),
            "image_artifact_id": image_file.as_ref().map(|f| &f.id),
            "video_url": request.video_url,
            "consent_video_url": request.consent_video_url,
        });
        self.submit_job(
            principal,
            JobKind::Persona,
            request.model.as_deref(),
            input,
            None,
            idempotency_key,
        )
        .await
    }

    /// The provider id of the agent's newest ready persona at `provider`, if any.
    pub(super) async fn default_persona(
        &self,
        agent_id: &str,
        provider: crate::domain::Provider,
    ) -> Result<Option<String>> {
        let personas = self
            .inner
            .ports
            .stores
            .jobs
            .list_jobs(&JobQuery {
                agent_id: agent_id.to_owned(),
                kind: Some(JobKind::Persona),
                status: Some(JobStatus::Ready),
                before: None,
                limit: 50,
            })
            .await?;
        Ok(personas
            .into_iter()
            .find(|p| p.provider == provider)
            .and_then(|p| p.provider_job_id))
    }

    /// Submits a job (or answers the one its idempotency key named), noting it for the
    /// request log.
    async fn submit_job(
        &self,
        principal: &AgentPrincipal,
        kind: JobKind,
        model: Option<&str>,
        input: serde_json::Value,
        webhook_url: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted> {
        if let Some(model) = model {
            principal.notes.model(model);
        }
        let submitted = self
            .store_and_start_job(principal, kind, model, input, webhook_url, idempotency_key)
            .await?;
        principal.notes.job(&submitted.job.id);
        Ok(submitted)
    }

    async fn store_and_start_job(
        &self,
        principal: &AgentPrincipal,
        kind: JobKind,
        model: Option<&str>,
        input: serde_json::Value,
        webhook_url: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted> {
        let agent = &principal.agent;
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
            if let Some(earlier) = self.replay(principal, kind, &input, key).await? {
                return Ok(earlier);
            }
        }
        let webhook_url = match webhook_url {
            Some(url) => Some(self.check_webhook_url(&url)?),
            None => None,
        };
        let modality = match kind {
            // Personas are made at the providers that make the agent's videos.
            JobKind::Video | JobKind::Persona => Modality::Video,
            JobKind::Render => Modality::Render,
        };
        let primary = match model {
            Some(requested) => self.model_chain(principal, requested, modality).await?,
            None => vec![self.default_model_for(principal, modality).await?],
        };
        let primary = primary
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("model", "no model can serve this request"))?;
        self.blobs()?;
        if webhook_url.is_some() {
            self.ensure_webhook_secret(&agent.id).await?;
        }

        let now = self.now();
        let id = self.new_id("job");
        let mut token = [0u8; 32];
        self.inner.ports.ids.fill_secret(&mut token)?;
        let token = hex::encode(token);
        let timing = &self.inner.config.jobs;
        let deadline = now + chrono_of(timing.deadline);
        // The hold outlives the deadline, so the job flow always closes it first.
        let hold_ttl = chrono_of(timing.deadline) + chrono::Duration::hours(1);
        let job = Job {
            id: id.clone(),
            instance_id: agent.instance_id.clone(),
            agent_id: agent.id.clone(),
            kind,
            model_id: primary.id.clone(),
            provider: primary.provider,
            provider_job_id: None,
            status: JobStatus::Queued,
            input,
            units: kind.units(),
            reservation_id: id.clone(),
            idempotency_key: idempotency_key.map(str::to_owned),
            callback_token_hash: crate::secret::hash(&token),
            webhook_url,
            // The submission this request makes is the first attempt.
            attempts: 1,
            // Leased to this request while it submits; the scheduled work takes over after.
            next_check_at: now + chrono_of(timing.lease),
            deadline_at: deadline,
            error: None,
            artifact_id: None,
            duration_seconds: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
            version: 0,
        };
        let job = match idempotency_key {
            None => {
                self.reserve_as(principal, id.clone(), kind.unit(), kind.units(), hold_ttl)
                    .await?;
                if let Err(e) = self.inner.ports.stores.jobs.insert_job(&job).await {
                    self.refund_job_hold(&id).await;
                    return Err(e);
                }
                job
            }
            Some(key) => match self
                .claim_key_then_hold(principal, job, key, hold_ttl)
                .await?
            {
                Claimed::Held(job) => job,
                Claimed::Answered(submitted) => return Ok(submitted),
            },
        };
        tracing::info!(job = %id, kind = kind.as_str(), model = %primary.id, "job stored");
        let job = self.submit_to_provider(job, Some(&token)).await?;
        if job.status == JobStatus::Failed
            && let Some(error) = &job.error
            && error.code != "provider_unavailable"
        {
            // The provider refused the request itself (a bad avatar id, say): the caller's
            // mistake, answered as such; the job stays on record as failed and refunded.
            return Err(Error::invalid("request", error.message.clone())
                .with_code(ErrorCode::ProviderRejected));
        }
        Ok(Submitted {
            job: self.job_view(&job, &agent.name),
            replayed: false,
        })
    }

    /// The earlier job submitted with `key`, if any; `Conflict` if it asked for something else.
    async fn replay(
        &self,
        principal: &AgentPrincipal,
        kind: JobKind,
        input: &serde_json::Value,
        key: &str,
    ) -> Result<Option<Submitted>> {
        let Some(earlier) = self
            .inner
            .ports
            .stores
            .jobs
            .find_job_by_idempotency_key(&principal.agent.id, key)
            .await?
        else {
            return Ok(None);
        };
        if earlier.kind != kind || &earlier.input != input {
            return Err(
                Error::conflict("this Idempotency-Key was used for a different request")
                    .with_code(ErrorCode::IdempotencyKeyReused),
            );
        }
        if let Some(refusal) = quota_refusal(&earlier) {
            // The submission this key names was refused: its copies and retries are too.
            return Err(refusal);
        }
        Ok(Some(Submitted {
            job: self.job_view(&earlier, &principal.agent.name),
            replayed: true,
        }))
    }

    /// The caller's job, checked with its provider first if a check is due (so a client polling
    /// sees progress even between scheduled rounds, never faster than the job's backoff).
    /// Another agent's job is `NotFound`, exactly like a missing one.
    pub async fn job(&self, principal: &AgentPrincipal, id: &str) -> Result<JobView> {
        let job = self.own_job(principal, id).await?;
        let job = if !job.status.is_final() && job.next_check_at <= self.now() {
            match self.advance_job(job.clone()).await {
                Ok(advanced) => advanced,
                Err(e) => {
                    // The reader still gets the job as stored; the scheduled work retries.
                    tracing::warn!(job = %id, error = %e, "check on read failed");
                    job
                }
            }
        } else {
            job
        };
        Ok(self.job_view(&job, &principal.agent.name))
    }

    pub(super) async fn own_job(&self, principal: &AgentPrincipal, id: &str) -> Result<Job> {
        principal.notes.job(id);
        match self.inner.ports.stores.jobs.get_job(id).await? {
            Some(job) if job.agent_id == principal.agent.id => Ok(job),
            _ => Err(Error::not_found("job", id)),
        }
    }

    /// A page of the caller's jobs, newest first.
    pub async fn list_jobs(
        &self,
        principal: &AgentPrincipal,
        kind: Option<JobKind>,
        status: Option<JobStatus>,
        before: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<JobView>> {
        let limit = limit
            .unwrap_or(20)
            .clamp(1, self.inner.config.max_page_size);
        let mut jobs = self
            .inner
            .ports
            .stores
            .jobs
            .list_jobs(&JobQuery {
                agent_id: principal.agent.id.clone(),
                kind,
                status,
                before,
                limit: limit + 1,
            })
            .await?;
        let has_more = jobs.len() > limit as usize;
        jobs.truncate(limit as usize);
        Ok(Page {
            data: jobs
                .iter()
                .map(|j| self.job_view(j, &principal.agent.name))
                .collect(),
            has_more,
        })
    }

    /// Builds the provider request for a stored job.
    pub(super) fn video_request(job: &Job, callback_url: Option<String>) -> VideoRequest {
        let text = |k: &str| job.input.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        VideoRequest {
            script: text("script").unwrap_or_default(),
            context: text("context"),
            avatar_id: text("avatar_id"),
            voice_id: text("voice_id"),
            aspect_ratio: text("aspect_ratio"),
            callback_url,
            job_id: job.id.clone(),
        }
    }

    /// Builds the provider request for a stored render job.
    pub(super) fn render_request(job: &Job, callback_url: Option<String>) -> RenderRequest {
        RenderRequest {
            edit: json!({
                "timeline": job.input.get("timeline").cloned().unwrap_or_default(),
                "output": job.input.get("output").cloned().unwrap_or_default(),
            }),
            callback_url,
            job_id: job.id.clone(),
        }
    }
}

fn check_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
            ),
        ));
    }
    Ok(())
}
