//! Contract checks for storage counting and retention's listing: uploads' bytes are counted per
//! agent and per instance atomically with their records, caps are never passed however many
//! uploads race, deleting gives the bytes back exactly once, outputs never count, and the oldest
//! outputs are found by age.

use futures::future::join_all;

use crate::Timestamp;
use crate::domain::{
    Artifact, ArtifactKind, StorageLimits, StorageOutcome, StorageScope, StorageUsed,
};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

use super::{kind, now_ms, unique};

fn upload(instance_id: &str, agent_id: &str, name: &str, version: u32, size: u64) -> Artifact {
    let id = unique("art");
    Artifact {
        blob_key: format!("uploads/{agent_id}/{id}"),
        id,
        instance_id: instance_id.to_owned(),
        agent_id: agent_id.to_owned(),
        kind: ArtifactKind::Upload,
        job_id: None,
        name: name.to_owned(),
        version,
        content_type: "audio/wav".to_owned(),
        size,
        sha256: "cd".repeat(32),
        created_at: now_ms(),
    }
}

fn used(agent: u64, instance: u64) -> StorageUsed {
    StorageUsed { agent, instance }
}

/// Counting: uploads add their size to their agent's and instance's count, outputs nothing; a
/// cap without room refuses and counts nothing (the agent's cap named before the instance's);
/// a taken version counts nothing; deleting gives the bytes back once; a plain
/// `insert_artifact` of an upload counts it with no cap.
pub async fn storage_accounting(stores: &Stores) -> Result<()> {
    let s = &stores.artifacts;
    let instance = unique("inst");
    let (a, b) = (unique("agt"), unique("agt"));
    assert_eq!(s.storage_used(&a, &instance).await?, used(0, 0));

    let caps = StorageLimits {
        agent: Some(1_000),
        instance: Some(1_500),
    };
    let first = upload(&instance, &a, "voice.wav", 1, 600);
    assert_eq!(s.insert_upload(&first, caps).await?, StorageOutcome::Stored);
    assert_eq!(s.get_artifact(&first.id).await?, Some(first.clone()));
    assert_eq!(s.storage_used(&a, &instance).await?, used(600, 600));

    // An output of the same agent is never counted.
    let output = Artifact {
        kind: ArtifactKind::Output,
        job_id: Some(unique("job")),
        ..upload(&instance, &a, "video.mp4", 1, 50_000)
    };
    s.insert_artifact(&output).await?;
    assert_eq!(
        s.insert_upload(
            &Artifact {
                id: unique("art"),
                name: "other.mp4".to_owned(),
                ..output.clone()
            },
            caps
        )
        .await?,
        StorageOutcome::Stored,
        "an output is recorded whatever the caps"
    );
    assert_eq!(s.storage_used(&a, &instance).await?, used(600, 600));

    // 600 + 401 > 1000: the agent's cap; nothing recorded or counted.
    let too_big = upload(&instance, &a, "voice.wav", 2, 401);
    assert_eq!(
        s.insert_upload(&too_big, caps).await?,
        StorageOutcome::Exceeded {
            scope: StorageScope::Agent,
            max: 1_000,
            used: 600
        }
    );
    assert_eq!(s.get_artifact(&too_big.id).await?, None);
    let exactly = upload(&instance, &a, "voice.wav", 2, 400);
    assert_eq!(
        s.insert_upload(&exactly, caps).await?,
        StorageOutcome::Stored
    );
    assert_eq!(s.storage_used(&a, &instance).await?, used(1_000, 1_000));

    // Another agent of the instance: its own cap has room, the instance's has 500.
    let over_instance = upload(&instance, &b, "SOUL.md", 1, 501);
    assert_eq!(
        s.insert_upload(&over_instance, caps).await?,
        StorageOutcome::Exceeded {
            scope: StorageScope::Instance,
            max: 1_500,
            used: 1_000
        }
    );
    let fits = upload(&instance, &b, "SOUL.md", 1, 500);
    assert_eq!(s.insert_upload(&fits, caps).await?, StorageOutcome::Stored);
    assert_eq!(s.storage_used(&b, &instance).await?, used(500, 1_500));

    // A taken version: Conflict, and nothing counted.
    let same_version = upload(&instance, &b, "SOUL.md", 1, 1);
    assert_eq!(
        kind(s.insert_upload(&same_version, StorageLimits::NONE).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(s.storage_used(&b, &instance).await?, used(500, 1_500));

    // Deleting gives the bytes back, once.
    assert!(s.delete_artifact(&first.id).await?);
    assert!(!s.delete_artifact(&first.id).await?);
    assert_eq!(s.storage_used(&a, &instance).await?, used(400, 900));
    assert!(s.delete_artifact(&output.id).await?);
    assert_eq!(s.storage_used(&a, &instance).await?, used(400, 900));

    // No cap: counted all the same.
    let plain = upload(&instance, &a, "big.bin", 1, 5_000_000_000);
    s.insert_artifact(&plain).await?;
    assert_eq!(
        s.storage_used(&a, &instance).await?,
        used(5_000_000_400, 5_000_000_900)
    );
    assert_eq!(
        s.storage_used(&b, &instance).await?,
        used(500, 5_000_000_900)
    );
    Ok(())
}

/// `racers` uploads of `size` bytes each, racing under an agent cap with room for `room` of
/// them (and, for a second agent, under the instance's cap): exactly that many are stored, and
/// the counts are exactly their bytes. Racing deletes give the bytes back exactly once.
pub async fn storage_concurrent_caps(stores: &Stores, racers: usize) -> Result<()> {
    let s = &stores.artifacts;
    let instance = unique("inst");
    let (a, b) = (unique("agt"), unique("agt"));
    let size = 1_000u64;
    let room = racers / 3;
    let caps = StorageLimits {
        // Room for `room` uploads and most of one more.
        agent: Some(size * room as u64 + size - 1),
        // Room for half as many more in the instance: the second agent meets this cap first.
        instance: Some(size * (room + room / 2) as u64 + size / 2),
    };
    let race = |agent: String| {
        let instance = instance.clone();
        async move {
            let uploads: Vec<Artifact> = (0..racers)
                .map(|i| upload(&instance, &agent, &format!("f{i}.wav"), 1, size))
                .collect();
            let outcomes = join_all(
                uploads
                    .iter()
                    .map(|u| stores.artifacts.insert_upload(u, caps)),
            )
            .await;
            let mut stored = Vec::new();
            for (u, outcome) in uploads.into_iter().zip(outcomes) {
                match outcome? {
                    StorageOutcome::Stored => stored.push(u),
                    StorageOutcome::Exceeded { .. } => {
                        assert_eq!(stores.artifacts.get_artifact(&u.id).await?, None);
                    }
                }
            }
            Ok::<_, crate::Error>(stored)
        }
    };
    let stored_a = race(a.clone()).await?;
    assert_eq!(
        stored_a.len(),
        room,
        "the agent's cap let in {}",
        stored_a.len()
    );
    let stored_b = race(b.clone()).await?;
    assert_eq!(
        stored_b.len(),
        room / 2,
        "the instance's cap let in {}",
        stored_b.len()
    );
    let (bytes, bytes_b) = (size * room as u64, size * (room / 2) as u64);
    assert_eq!(
        s.storage_used(&a, &instance).await?,
        used(bytes, bytes + bytes_b)
    );

    // Every stored upload deleted by two racers at once: one `true` each, and the bytes back.
    let deletes = stored_a
        .iter()
        .flat_map(|u| [u.id.clone(), u.id.clone()])
        .map(|id| async move { stores.artifacts.delete_artifact(&id).await });
    let answers = join_all(deletes).await;
    let mut deleted = 0;
    for answer in answers {
        deleted += usize::from(answer?);
    }
    assert_eq!(deleted, room);
    assert_eq!(s.storage_used(&a, &instance).await?, used(0, bytes_b));
    assert_eq!(s.storage_used(&b, &instance).await?, used(bytes_b, bytes_b));
    Ok(())
}

/// `outputs_created_before`: outputs older than the cutoff, oldest first, up to the limit; no
/// uploads and nothing at or after the cutoff.
pub async fn outputs_by_age(stores: &Stores) -> Result<()> {
    let s = &stores.artifacts;
    // Times in 2001, which no other check uses: whatever a crashed earlier run left there is
    // cleared first, so the answers below are this run's alone.
    let at = |ms: i64| Timestamp::from_timestamp_millis(978_307_200_000 + ms).unwrap_or_default();
    for left in s.outputs_created_before(at(1_000_000), 1_000).await? {
        s.delete_artifact(&left.id).await?;
    }
    let (instance, agent) = (unique("inst"), unique("agt"));
    let output = |ms: i64| Artifact {
        kind: ArtifactKind::Output,
        job_id: Some(unique("job")),
        created_at: at(ms),
        ..upload(&instance, &agent, &unique("out"), 1, 10)
    };
    let (o1, o2, o3, later) = (output(10), output(20), output(30), output(40));
    let old_upload = Artifact {
        created_at: at(5),
        ..upload(&instance, &agent, "old.wav", 1, 10)
    };
    // Inserted out of order: the answer is by age, not by insertion or id.
    for a in [&o3, &later, &o1, &old_upload, &o2] {
        s.insert_artifact(a).await?;
    }
    let ids = |rows: Vec<Artifact>| rows.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.outputs_created_before(at(40), 100).await?),
        [o1.id.clone(), o2.id.clone(), o3.id.clone()]
    );
    assert_eq!(
        ids(s.outputs_created_before(at(40), 2).await?),
        [o1.id.clone(), o2.id.clone()]
    );
    assert!(s.outputs_created_before(at(10), 100).await?.is_empty());
    for a in [&o1, &o2, &o3, &later, &old_upload] {
        assert!(s.delete_artifact(&a.id).await?);
    }
    assert!(s.outputs_created_before(at(1_000), 100).await?.is_empty());
    Ok(())
}
