//! Inbound provider callbacks. A verified callback is only a nudge: molts then asks the provider
//! itself where the job stands and moves it as a check would, so a forged, duplicate, reordered
//! or late event can change nothing that a status check would not.
//!
//! - Shotstack, Tavus and HeyGen's per-video `callback_url` reach
//!   `/v1/callbacks/{job_id}/{token}`: the token is a per-job secret (only its SHA-256 is stored).
//! - HeyGen's account webhooks reach `/v1/callbacks/heygen`, signed with HMAC-SHA256 of the raw
//!   body under the endpoint's secret (`HEYGEN_WEBHOOK_SECRET`), hex in `Signature`.

use crate::ErrorCode;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{Job, Provider};
use crate::error::{Error, Result};

use super::Gateway;

fn refused(why: &str) -> Error {
    Error::unauthorized(format!("callback refused: {why}")).with_code(ErrorCode::CallbackRefused)
}

impl Gateway {
    /// A callback to a job's secret URL.
    pub async fn job_callback(&self, job_id: &str, token: &str) -> Result<()> {
        let job = self.inner.ports.stores.jobs.get_job(job_id).await?;
        let Some(job) = job.filter(|j| crate::secret::verify(token, &j.callback_token_hash)) else {
            // Unknown job and wrong token look the same to the caller.
            tracing::warn!(job = %job_id, "callback with an unknown job or a wrong token refused");
            return Err(refused("unknown job or wrong token"));
        };
        self.nudge(job).await
    }

    /// A HeyGen account webhook: `signature` is the `Signature` (or `X-HeyGen-Signature`)
    /// header, `body` the raw request body.
    pub async fn heygen_callback(&self, signature: Option<&str>, body: &[u8]) -> Result<()> {
        let Some(secret) = self.inner.heygen_webhook_secret.as_deref() else {
            tracing::warn!("HeyGen webhook refused: HEYGEN_WEBHOOK_SECRET is not configured");
            return Err(refused("HeyGen webhooks are not configured"));
        };
        let presented = signature
            .and_then(|s| hex::decode(s.trim()).ok())
            .ok_or_else(|| {
                tracing::warn!("HeyGen webhook without a valid signature refused");
                refused("missing or malformed signature")
            })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| Error::internal("the HeyGen webhook secret could not key HMAC"))?;
        mac.update(body);
        if mac.verify_slice(&presented).is_err() {
            tracing::warn!("HeyGen webhook with a wrong signature refused");
            return Err(refused("signature does not match"));
        }
        let event: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| Error::invalid("body", "the webhook body is not JSON"))?;
        let data = &event["event_data"];
        let (Some(job_id), Some(video_id)) =
            (data["callback_id"].as_str(), data["video_id"].as_str())
        else {
            // A signed event that is not about a molts job (another integration's video).
            tracing::info!(event = %event["event_type"], "HeyGen event without a molts job ignored");
            return Ok(());
        };
        let job = self.inner.ports.stores.jobs.get_job(job_id).await?;
        match job {
            Some(job)
                if job.provider == Provider::Heygen
                    && job.provider_job_id.as_deref() == Some(video_id) =>
            {
                self.nudge(job).await
            }
            _ => {
                tracing::warn!(job = %job_id, "HeyGen event for a job that does not match ignored");
                Ok(())
            }
        }
    }

    /// Checks a job now (a final job stays as it is).
    async fn nudge(&self, job: Job) -> Result<()> {
        if job.status.is_final() {
            tracing::info!(job = %job.id, "callback for a finished job ignored");
            return Ok(());
        }
        tracing::info!(job = %job.id, "callback received; checking the job");
        self.advance_job(job).await.map(|_| ())
    }
}
