//! Contract checks for durable jobs: every field round-trips, idempotency keys, listing, the
//! compare-and-swap update and the due sweep.
//!
//! The due sweep (`due_jobs`) sees every agent's rows, so its check works a year in the past,
//! looks only at its own agent's rows where order matters, and finishes its rows afterwards;
//! every other job here is due only in ten years.

use chrono::Duration;
use futures::future::join_all;
use serde_json::json;

use crate::domain::{Job, JobError, JobKind, JobQuery, JobStatus, Provider};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

use super::{far_future, kind, now_ms, unique, winners};

/// A queued video job with every optional field empty.
fn bare_job(agent_id: &str) -> Job {
    let now = now_ms();
    Job {
        id: unique("job"),
        instance_id: "inst-jobs".to_owned(),
        agent_id: agent_id.to_owned(),
        kind: JobKind::Video,
        model_id: "demo-video".to_owned(),
        provider: Provider::Demo,
        provider_job_id: None,
        status: JobStatus::Queued,
        input: json!({}),
        units: 1,
        reservation_id: unique("rsv"),
        idempotency_key: None,
        callback_token_hash: "cd".repeat(32),
        webhook_url: None,
        attempts: 0,
        next_check_at: far_future(),
        deadline_at: far_future() + Duration::hours(1),
        error: None,
        artifact_id: None,
        duration_seconds: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        version: 0,
    }
}

/// A job with every optional field set and values that stress each column's type.
fn full_job(agent_id: &str) -> Job {
    let now = now_ms();
    Job {
        kind: JobKind::Render,
        model_id: "shotstack-render".to_owned(),
        provider: Provider::Shotstack,
        provider_job_id: Some("render-7f3a".to_owned()),
        status: JobStatus::Failed,
        input: json!({
            "script": "Hello ✨ — \"quoted\" and \\ backslashed\nnew line",
            "timeline": {"tracks": [{"clips": [{"start": 0, "length": 2.5}]}], "fps": 25},
            "flags": [true, false, null],
            "big": 9_007_199_254_740_993u64,
            "negative": -42,
            "empty": {}
        }),
        units: 5_000_000_000,
        idempotency_key: Some(unique("idem")),
        webhook_url: Some("https://hooks.test/molts?job=1&x=%20".to_owned()),
        attempts: 3,
        next_check_at: far_future(),
        deadline_at: far_future() + Duration::minutes(90),
        error: Some(JobError {
            code: "provider_failed".to_owned(),
            message: "the render failed: 'bad clip' ✨".to_owned(),
        }),
        artifact_id: Some(unique("art")),
        duration_seconds: Some(250.0 / 3.0),
        created_at: now - Duration::seconds(90),
        updated_at: now,
        finished_at: Some(now + Duration::milliseconds(1)),
        version: 7,
        ..bare_job(agent_id)
    }
}

/// Jobs: every field round-trips (JSON input and error, optional fields, the f64 duration,
/// u64 units and version); a second insert of an id is a `Conflict`.
pub async fn jobs(stores: &Stores) -> Result<()> {
    let agent = unique("agt");
    let full = full_job(&agent);
    let bare = bare_job(&agent);
    stores.jobs.insert_job(&full).await?;
    stores.jobs.insert_job(&bare).await?;
    assert_eq!(stores.jobs.get_job(&full.id).await?, Some(full.clone()));
    assert_eq!(stores.jobs.get_job(&bare.id).await?, Some(bare.clone()));
    assert_eq!(stores.jobs.get_job(&unique("job")).await?, None);

    // The same id again, even with another idempotency key, is a conflict and changes nothing.
    let same_id = Job {
        idempotency_key: Some(unique("idem")),
        status: JobStatus::Queued,
        ..full.clone()
    };
    assert_eq!(
        kind(stores.jobs.insert_job(&same_id).await),
        Some(ErrorKind::Conflict)
    );
    let bare_again = Job {
        agent_id: unique("agt"),
        ..bare.clone()
    };
    assert_eq!(
        kind(stores.jobs.insert_job(&bare_again).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(stores.jobs.get_job(&full.id).await?, Some(full));
    assert_eq!(stores.jobs.get_job(&bare.id).await?, Some(bare));
    Ok(())
}

/// Idempotency keys: unique per agent (other agents and key-less jobs never clash), found by
/// agent and key.
pub async fn jobs_idempotency(stores: &Stores) -> Result<()> {
    let (a, b) = (unique("agt"), unique("agt"));
    let key = unique("idem");
    let first = Job {
        idempotency_key: Some(key.clone()),
        ..bare_job(&a)
    };
    stores.jobs.insert_job(&first).await?;
    let twin = Job {
        idempotency_key: Some(key.clone()),
        ..bare_job(&a)
    };
    assert_eq!(
        kind(stores.jobs.insert_job(&twin).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(stores.jobs.get_job(&twin.id).await?, None);
    let other_agent = Job {
        idempotency_key: Some(key.clone()),
        ..bare_job(&b)
    };
    stores.jobs.insert_job(&other_agent).await?;
    // Jobs without a key never clash.
    stores.jobs.insert_job(&bare_job(&a)).await?;
    stores.jobs.insert_job(&bare_job(&a)).await?;

    assert_eq!(
        stores.jobs.find_job_by_idempotency_key(&a, &key).await?,
        Some(first)
    );
    assert_eq!(
        stores.jobs.find_job_by_idempotency_key(&b, &key).await?,
        Some(other_agent)
    );
    assert_eq!(
        stores
            .jobs
            .find_job_by_idempotency_key(&a, &unique("idem"))
            .await?,
        None
    );
    assert_eq!(
        stores
            .jobs
            .find_job_by_idempotency_key(&unique("agt"), &key)
            .await?,
        None
    );
    Ok(())
}

/// `racers` concurrent submissions with one idempotency key store exactly one job; the others
/// fail with `Conflict`.
pub async fn jobs_idempotency_race(stores: &Stores, racers: usize) -> Result<()> {
    let agent = unique("agt");
    let key = unique("idem");
    let jobs: Vec<Job> = (0..racers)
        .map(|_| Job {
            idempotency_key: Some(key.clone()),
            ..bare_job(&agent)
        })
        .collect();
    let outcomes = join_all(jobs.iter().map(|j| stores.jobs.insert_job(j))).await;
    let won: Vec<&Job> = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(j, _)| j)
        .collect();
    let count = winners(outcomes)?;
    assert_eq!(
        count, 1,
        "{count} of {racers} submissions with one key were stored"
    );
    assert_eq!(
        stores
            .jobs
            .find_job_by_idempotency_key(&agent, &key)
            .await?,
        won.first().map(|j| (*j).clone())
    );
    Ok(())
}

/// Listing: one agent's jobs only, newest first, filtered by kind and status, paged by `before`.
pub async fn jobs_listing(stores: &Stores) -> Result<()> {
    let agent = unique("agt");
    let job = |kind: JobKind, status: JobStatus| Job {
        kind,
        status,
        ..bare_job(&agent)
    };
    // Created (so ids sort) in this order.
    let j0 = job(JobKind::Video, JobStatus::Queued);
    let j1 = job(JobKind::Render, JobStatus::Processing);
    let j2 = job(JobKind::Video, JobStatus::Ready);
    let j3 = job(JobKind::Video, JobStatus::Queued);
    let j4 = job(JobKind::Render, JobStatus::Queued);
    for j in [&j3, &j0, &j4, &j1, &j2] {
        stores.jobs.insert_job(j).await?;
    }
    stores.jobs.insert_job(&bare_job(&unique("agt"))).await?;

    let list = |kind: Option<JobKind>, status: Option<JobStatus>, before: Option<&Job>, limit| {
        let query = JobQuery {
            agent_id: agent.clone(),
            kind,
            status,
            before: before.map(|j| j.id.clone()),
            limit,
        };
        async move {
            let jobs = stores.jobs.list_jobs(&query).await?;
            Ok::<_, crate::Error>(jobs.into_iter().map(|j| j.id).collect::<Vec<_>>())
        }
    };
    let ids = |jobs: &[&Job]| jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>();

    assert_eq!(
        list(None, None, None, 10).await?,
        ids(&[&j4, &j3, &j2, &j1, &j0])
    );
    assert_eq!(
        stores
            .jobs
            .list_jobs(&JobQuery {
                agent_id: agent.clone(),
                kind: None,
                status: None,
                before: None,
                limit: 1,
            })
            .await?,
        vec![j4.clone()]
    );
    assert_eq!(
        list(Some(JobKind::Video), None, None, 10).await?,
        ids(&[&j3, &j2, &j0])
    );
    assert_eq!(
        list(None, Some(JobStatus::Queued), None, 10).await?,
        ids(&[&j4, &j3, &j0])
    );
    assert_eq!(
        list(Some(JobKind::Render), Some(JobStatus::Queued), None, 10).await?,
        ids(&[&j4])
    );
    assert!(
        list(None, Some(JobStatus::Canceled), None, 10)
            .await?
            .is_empty()
    );

    // Pages of two, each starting strictly before the previous page's last id.
    assert_eq!(list(None, None, None, 2).await?, ids(&[&j4, &j3]));
    assert_eq!(list(None, None, Some(&j3), 2).await?, ids(&[&j2, &j1]));
    assert_eq!(list(None, None, Some(&j1), 2).await?, ids(&[&j0]));
    assert!(list(None, None, Some(&j0), 2).await?.is_empty());
    // Filters and paging together.
    assert_eq!(
        list(Some(JobKind::Video), None, Some(&j3), 1).await?,
        ids(&[&j2])
    );
    assert_eq!(
        list(Some(JobKind::Video), None, Some(&j2), 5).await?,
        ids(&[&j0])
    );
    Ok(())
}

/// `update_job` is a compare-and-swap on `version`: a wrong version changes nothing, the right
/// one stores the job at `expected + 1` whatever version it carries, a job in a final status
/// never changes, an update cannot take another job's idempotency key, and a missing job is
/// `NotFound`.
pub async fn jobs_compare_and_swap(stores: &Stores) -> Result<()> {
    let agent = unique("agt");
    let queued = Job {
        version: 1,
        ..bare_job(&agent)
    };
    stores.jobs.insert_job(&queued).await?;

    let later = now_ms() + Duration::seconds(5);
    let processing = Job {
        status: JobStatus::Processing,
        provider_job_id: Some("vid-123".to_owned()),
        attempts: 1,
        next_check_at: far_future() + Duration::seconds(30),
        input: json!({"script": "edited"}),
        updated_at: later,
        // Ignored: the store writes expected + 1.
        version: 999,
        ..queued.clone()
    };
    assert!(!stores.jobs.update_job(&processing, 0).await?);
    assert!(!stores.jobs.update_job(&processing, 2).await?);
    assert_eq!(stores.jobs.get_job(&queued.id).await?, Some(queued.clone()));

    assert!(stores.jobs.update_job(&processing, 1).await?);
    let stored = Job {
        version: 2,
        ..processing.clone()
    };
    assert_eq!(stores.jobs.get_job(&queued.id).await?, Some(stored.clone()));
    // The same expected version again is stale now.
    assert!(!stores.jobs.update_job(&processing, 1).await?);
    assert_eq!(stores.jobs.get_job(&queued.id).await?, Some(stored));

    let ready = Job {
        status: JobStatus::Ready,
        artifact_id: Some(unique("art")),
        duration_seconds: Some(30.0),
        finished_at: Some(later),
        version: 2,
        ..processing.clone()
    };
    assert!(stores.jobs.update_job(&ready, 2).await?);
    let final_ready = Job {
        version: 3,
        ..ready.clone()
    };
    assert_eq!(
        stores.jobs.get_job(&queued.id).await?,
        Some(final_ready.clone())
    );
    // Final means final, even with the right version.
    let revived = Job {
        status: JobStatus::Processing,
        finished_at: None,
        ..final_ready.clone()
    };
    assert!(!stores.jobs.update_job(&revived, 3).await?);
    assert_eq!(stores.jobs.get_job(&queued.id).await?, Some(final_ready));

    // Jobs stored in a final status never change either.
    for status in JobStatus::ALL.into_iter().filter(|s| s.is_final()) {
        let done = Job {
            status,
            finished_at: Some(now_ms()),
            version: 4,
            ..bare_job(&agent)
        };
        stores.jobs.insert_job(&done).await?;
        let changed = Job {
            status: JobStatus::Queued,
            finished_at: None,
            ..done.clone()
        };
        assert!(
            !stores.jobs.update_job(&changed, 4).await?,
            "a {} job changed",
            status.as_str()
        );
        assert_eq!(stores.jobs.get_job(&done.id).await?, Some(done));
    }

    // An update cannot give the agent two jobs with one idempotency key.
    let keyed = Job {
        idempotency_key: Some(unique("idem")),
        ..bare_job(&agent)
    };
    let other = Job {
        idempotency_key: Some(unique("idem")),
        ..bare_job(&agent)
    };
    stores.jobs.insert_job(&keyed).await?;
    stores.jobs.insert_job(&other).await?;
    let taking = Job {
        idempotency_key: keyed.idempotency_key.clone(),
        ..other.clone()
    };
    assert_eq!(
        kind(stores.jobs.update_job(&taking, 0).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(stores.jobs.get_job(&other.id).await?, Some(other));

    let missing = bare_job(&agent);
    assert_eq!(
        kind(stores.jobs.update_job(&missing, 0).await),
        Some(ErrorKind::NotFound)
    );
    assert_eq!(stores.jobs.get_job(&missing.id).await?, None);
    Ok(())
}

/// `racers` concurrent compare-and-swaps on one version: exactly one wins, and the stored job is
/// the winner's at the next version.
pub async fn jobs_concurrent_updates(stores: &Stores, racers: usize) -> Result<()> {
    let job = Job {
        status: JobStatus::Processing,
        version: 5,
        ..bare_job(&unique("agt"))
    };
    stores.jobs.insert_job(&job).await?;
    let updates: Vec<Job> = (0..racers)
        .map(|i| Job {
            attempts: u32::try_from(i + 1).unwrap_or(u32::MAX),
            provider_job_id: Some(format!("racer-{i}")),
            ..job.clone()
        })
        .collect();
    let outcomes = join_all(updates.iter().map(|u| stores.jobs.update_job(u, 5))).await;
    let mut won = Vec::new();
    for (update, outcome) in updates.iter().zip(outcomes) {
        if outcome? {
            won.push(update);
        }
    }
    assert_eq!(
        won.len(),
        1,
        "{} of {racers} updates on one version won",
        won.len()
    );
    let expected = won.first().map(|w| Job {
        version: 6,
        ..(*w).clone()
    });
    assert_eq!(stores.jobs.get_job(&job.id).await?, expected);
    Ok(())
}

/// `due_jobs`: only unfinished jobs whose check time is at or before `now`, earliest first, at
/// most `limit`.
pub async fn jobs_due(stores: &Stores) -> Result<()> {
    let agent = unique("agt");
    let now = now_ms() - Duration::days(365);
    let job = |status: JobStatus, minutes: i64| Job {
        status,
        next_check_at: now + Duration::minutes(minutes),
        ..bare_job(&agent)
    };
    let late = job(JobStatus::Queued, -1);
    let early = job(JobStatus::Processing, -3);
    let mid = job(JobStatus::Queued, -2);
    let exactly_now = job(JobStatus::Processing, 0);
    let future = job(JobStatus::Queued, 1);
    let ready = job(JobStatus::Ready, -5);
    let failed = job(JobStatus::Failed, -4);
    let canceled = job(JobStatus::Canceled, -6);
    for j in [
        &late,
        &early,
        &mid,
        &exactly_now,
        &future,
        &ready,
        &failed,
        &canceled,
    ] {
        stores.jobs.insert_job(j).await?;
    }

    let all = stores.jobs.due_jobs(now, 1000).await?;
    assert!(
        all.iter()
            .all(|j| !j.status.is_final() && j.next_check_at <= now),
        "due_jobs listed a finished or not yet due job"
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].next_check_at <= w[1].next_check_at),
        "due_jobs is not earliest first"
    );
    let ours: Vec<&str> = all
        .iter()
        .filter(|j| j.agent_id == agent)
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(
        ours,
        vec![
            early.id.as_str(),
            mid.id.as_str(),
            late.id.as_str(),
            exactly_now.id.as_str()
        ]
    );
    assert_eq!(
        all.iter()
            .find(|j| j.id == early.id)
            .map(|j| (j.status, j.version)),
        Some((JobStatus::Processing, 0))
    );
    // The limit keeps the earliest.
    let two = stores.jobs.due_jobs(now, 2).await?;
    assert_eq!(
        two.iter().map(|j| j.next_check_at).collect::<Vec<_>>(),
        all.iter()
            .take(2)
            .map(|j| j.next_check_at)
            .collect::<Vec<_>>()
    );
    assert!(stores.jobs.due_jobs(now, 0).await?.is_empty());

    // Finish them, so no later sweep on a shared database sees them.
    for j in [&late, &early, &mid, &exactly_now, &future] {
        let done = Job {
            status: JobStatus::Canceled,
            finished_at: Some(now),
            ..j.clone()
        };
        assert!(stores.jobs.update_job(&done, j.version).await?);
    }
    assert!(
        !stores
            .jobs
            .due_jobs(now, 1000)
            .await?
            .iter()
            .any(|j| j.agent_id == agent)
    );
    Ok(())
}
