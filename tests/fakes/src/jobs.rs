//! Long-running jobs for the video and render fakes (HeyGen, Tavus, Veo, Shotstack) and Tavus'
//! replica training: a submitted job reports queued on its first status poll and processing on
//! the next ones, then finishes once it has been polled `ready_after` times (default 2, or the
//! server's [`crate::FakeServer::set_job_polls`], or the submit request's `ready-after=N` fault)
//! — ready with a URL the fake itself serves (`GET /_fake/videos/{id}.mp4`; a replica has none),
//! or failed when the submit request carried the `fail-job` fault. The `never-finish` fault
//! keeps a job processing for ever (for deadline tests), the `html-output` fault makes its URL
//! answer 200 with an HTML error page instead of the output; `POST /_fake/jobs/{id}/finish`
//! finishes any job at once.
//!
//! When a job finishes (the poll that first reports it ready or failed, or a finish through the
//! control endpoint) the fake calls the job's callback as the real provider would (see
//! [`crate::callbacks`]).

use serde::Serialize;

use crate::faults::Fault;

/// How many polls a job answers "not yet" before it finishes, unless told otherwise.
pub const DEFAULT_POLLS: u32 = 2;

/// The message a job failed by the `fail-job` fault reports.
pub const FAILURE_MESSAGE: &str = "fake job failure injected by molts-fakes";

/// Where a job stands on one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The first poll of an unfinished job.
    Queued,
    /// Later polls of an unfinished job; the number counts polls (1-based).
    Processing(u32),
    /// Done: the output is served at the job's URL.
    Ready,
    /// Given up, with this message.
    Failed(String),
}

/// One submitted job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Which provider holds it.
    pub provider: String,
    /// Its id at that provider (the `id` part of a Veo operation name).
    pub id: String,
    /// Status polls answered so far.
    pub polls: u32,
    /// Polls answered "not yet" before it finishes.
    pub ready_after: u32,
    /// Why it will fail, if it will.
    pub fail: Option<String>,
    /// Seconds of output it will report, when the provider reports one.
    pub duration: Option<f64>,
    /// The output's file extension (`mp4`, `mp3`, ...).
    pub ext: String,
    /// What the submit request asked for, for providers that echo it (callback id, prompt...).
    pub echo: serde_json::Value,
    /// Where the provider calls back when the job finishes (Shotstack's `callback`, Tavus' and
    /// HeyGen's `callback_url`), if the submit request gave one.
    pub callback_url: Option<String>,
    /// Finished through `POST /_fake/jobs/{id}/finish`, whatever its polls say.
    pub finished: bool,
    /// Whether the job's finish has been announced (its callback sent, or attempted).
    pub announced: bool,
    /// Whether its output URL answers with an HTML error page (the `html-output` fault).
    pub html_output: bool,
}

impl Job {
    /// The URL the finished output is served at.
    pub fn url(&self, origin: &str) -> String {
        format!("{origin}/_fake/videos/{}.{}", self.id, self.ext)
    }

    /// Whether the job has finished (ready or failed).
    pub fn is_done(&self) -> bool {
        self.finished || self.polls > self.ready_after
    }

    /// How the job ends: failed with its message, or ready.
    pub(crate) fn final_stage(&self) -> Stage {
        match &self.fail {
            Some(message) => Stage::Failed(message.clone()),
            None => Stage::Ready,
        }
    }
}

/// Every job the fake holds.
#[derive(Debug)]
pub(crate) struct Jobs {
    /// Oldest first (a fake holds few).
    jobs: Vec<Job>,
    next: u64,
    /// Polls before finishing, for jobs whose submit named none.
    pub(crate) default_polls: u32,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            jobs: Vec::new(),
            next: 0,
            default_polls: DEFAULT_POLLS,
        }
    }
}

/// What a new job needs besides the fault.
pub(crate) struct NewJob<'a> {
    pub(crate) provider: &'a str,
    pub(crate) duration: Option<f64>,
    pub(crate) ext: &'a str,
    pub(crate) echo: serde_json::Value,
    /// Where the provider calls back when the job finishes.
    pub(crate) callback_url: Option<String>,
    /// Makes the provider's id shape from a serial number.
    pub(crate) id: fn(u64) -> String,
}

impl Jobs {
    /// Accepts a job as `fault` says and returns it.
    pub(crate) fn submit(&mut self, new: NewJob<'_>, fault: &Fault) -> Job {
        self.next += 1;
        let job = Job {
            provider: new.provider.to_owned(),
            id: (new.id)(self.next),
            polls: 0,
            ready_after: if fault.never_finish {
                u32::MAX
            } else {
                fault.ready_after.unwrap_or(self.default_polls)
            },
            fail: fault.fail_job.then(|| FAILURE_MESSAGE.to_owned()),
            duration: new.duration,
            ext: new.ext.to_owned(),
            echo: new.echo,
            callback_url: new.callback_url,
            finished: false,
            announced: false,
            html_output: fault.html_output,
        };
        self.jobs.push(job.clone());
        job
    }

    /// Counts one poll of `provider`'s job `id` and says where it stands, or `None` for a job
    /// that provider never gave out. The third value is `true` on the poll that first finds
    /// the job finished, when its callback is due.
    pub(crate) fn poll(&mut self, provider: &str, id: &str) -> Option<(Stage, Job, bool)> {
        let job = self
            .jobs
            .iter_mut()
            .find(|j| j.id == id && j.provider == provider)?;
        job.polls = job.polls.saturating_add(1);
        let stage = if !job.is_done() {
            if job.polls == 1 {
                Stage::Queued
            } else {
                Stage::Processing(job.polls)
            }
        } else {
            job.final_stage()
        };
        let announce = job.is_done() && !job.announced;
        if announce {
            job.announced = true;
        }
        Some((stage, job.clone(), announce))
    }

    /// Finishes job `id` now (its next poll reports it ready, or failed if it was set to fail)
    /// and answers it with its final stage, or `None` for an unknown job.
    pub(crate) fn finish(&mut self, id: &str) -> Option<(Stage, Job)> {
        let job = self.jobs.iter_mut().find(|j| j.id == id)?;
        job.finished = true;
        job.announced = true;
        Some((job.final_stage(), job.clone()))
    }

    /// The finished job whose output is `id.ext`, if there is one.
    pub(crate) fn output(&self, id: &str, ext: &str) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|j| j.id == id && j.ext == ext && j.fail.is_none() && j.is_done())
    }

    /// Every job, oldest first.
    pub(crate) fn list(&self) -> Vec<Job> {
        self.jobs.clone()
    }
}

/// A tiny MP4: an `ftyp` box and an empty `mdat` — recognisable as MP4, not playable.
pub fn mp4_stub() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&0x200u32.to_be_bytes());
    out.extend_from_slice(b"isommp41");
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(b"mdat");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> String {
        format!("job{n}")
    }

    #[test]
    fn jobs_finish_after_their_polls() {
        let mut jobs = Jobs::default();
        let new = || NewJob {
            provider: "heygen",
            duration: Some(1.0),
            ext: "mp4",
            echo: serde_json::Value::Null,
            callback_url: None,
            id,
        };
        let job = jobs.submit(new(), &Fault::default());
        let stages: Vec<Stage> = (0..3)
            .filter_map(|_| jobs.poll("heygen", &job.id).map(|(s, _, _)| s))
            .collect();
        assert_eq!(stages, [Stage::Queued, Stage::Processing(2), Stage::Ready]);
        assert!(jobs.output(&job.id, "mp4").is_some());
        assert!(jobs.poll("tavus", &job.id).is_none());

        let failing = Fault::parse("fail-job ready-after=0").unwrap_or_default();
        let job = jobs.submit(new(), &failing);
        assert_eq!(
            jobs.poll("heygen", &job.id)
                .map(|(s, _, announce)| (s, announce)),
            Some((Stage::Failed(FAILURE_MESSAGE.to_owned()), true))
        );
        assert_eq!(
            jobs.poll("heygen", &job.id)
                .map(|(_, _, announce)| announce),
            Some(false),
            "the finish is announced once"
        );
    }

    #[test]
    fn a_job_that_never_finishes_can_be_finished_by_hand() {
        let mut jobs = Jobs::default();
        let never = Fault::parse("never-finish").unwrap_or_default();
        let job = jobs.submit(
            NewJob {
                provider: "shotstack",
                duration: None,
                ext: "mp4",
                echo: serde_json::Value::Null,
                callback_url: None,
                id,
            },
            &never,
        );
        for _ in 0..100 {
            let (stage, _, announce) =
                jobs.poll("shotstack", &job.id)
                    .unwrap_or((Stage::Ready, job.clone(), true));
            assert!(matches!(stage, Stage::Queued | Stage::Processing(_)));
            assert!(!announce);
        }
        assert!(jobs.output(&job.id, "mp4").is_none());
        let finished = jobs.finish(&job.id).map(|(s, _)| s);
        assert_eq!(finished, Some(Stage::Ready));
        assert!(jobs.output(&job.id, "mp4").is_some());
        let (stage, _, announce) =
            jobs.poll("shotstack", &job.id)
                .unwrap_or((Stage::Queued, job.clone(), true));
        assert_eq!((stage, announce), (Stage::Ready, false));
        assert!(jobs.finish("nope").is_none());
    }
}
