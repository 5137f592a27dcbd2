//! Contract checks for artifacts: every field round-trips, ids and (agent, kind, name, version)
//! are unique even under racing uploads, listing and paging, the latest upload version, delete.

use futures::future::join_all;

use crate::domain::{Artifact, ArtifactKind, ArtifactQuery};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

use super::{kind, now_ms, unique, winners};

fn artifact(agent_id: &str, kind: ArtifactKind, name: &str, version: u32) -> Artifact {
    let id = unique("art");
    Artifact {
        blob_key: format!("artifacts/{agent_id}/{id}"),
        id,
        instance_id: "inst-artifacts".to_owned(),
        agent_id: agent_id.to_owned(),
        kind,
        job_id: None,
        name: name.to_owned(),
        version,
        content_type: "text/markdown; charset=utf-8".to_owned(),
        size: 1234,
        sha256: "ab".repeat(32),
        created_at: now_ms(),
    }
}

/// Artifacts: every field round-trips; ids and (agent, kind, name, version) are unique; listing
/// is newest first with kind and name filters and `before` paging; `latest_upload` is the
/// highest upload version; delete once.
pub async fn artifacts(stores: &Stores) -> Result<()> {
    let s = &stores.artifacts;
    let (agent, other) = (unique("agt"), unique("agt"));
    let output = Artifact {
        job_id: Some(unique("job")),
        content_type: "video/mp4".to_owned(),
        size: 5_000_000_000,
        sha256: "0123456789abcdef".repeat(4),
        ..artifact(&agent, ArtifactKind::Output, "video.mp4", 1)
    };
    let soul1 = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 1);
    let soul3 = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 3);
    let soul2 = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 2);
    // Same name and a higher version, but an output: not an upload version.
    let soul_output = artifact(&agent, ArtifactKind::Output, "SOUL.md", 9);
    let voice = Artifact {
        size: 0,
        ..artifact(&agent, ArtifactKind::Upload, "voice sample ✨.wav", 1)
    };
    let others = artifact(&other, ArtifactKind::Upload, "SOUL.md", 1);
    for a in [
        &output,
        &soul1,
        &soul3,
        &soul2,
        &soul_output,
        &voice,
        &others,
    ] {
        s.insert_artifact(a).await?;
    }
    assert_eq!(s.get_artifact(&output.id).await?, Some(output.clone()));
    assert_eq!(s.get_artifact(&voice.id).await?, Some(voice.clone()));
    assert_eq!(s.get_artifact(&unique("art")).await?, None);

    let same_id = Artifact {
        version: 50,
        ..soul1.clone()
    };
    assert_eq!(
        kind(s.insert_artifact(&same_id).await),
        Some(ErrorKind::Conflict)
    );
    let same_version = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 2);
    assert_eq!(
        kind(s.insert_artifact(&same_version).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(s.get_artifact(&same_version.id).await?, None);

    assert_eq!(
        s.latest_upload(&agent, "SOUL.md").await?,
        Some(soul3.clone())
    );
    assert_eq!(s.latest_upload(&other, "SOUL.md").await?, Some(others));
    assert_eq!(s.latest_upload(&agent, "video.mp4").await?, None);
    assert_eq!(s.latest_upload(&agent, "soul.md").await?, None);

    let list =
        |kind: Option<ArtifactKind>, name: Option<&str>, before: Option<&Artifact>, limit| {
            let query = ArtifactQuery {
                agent_id: agent.clone(),
                kind,
                name: name.map(str::to_owned),
                before: before.map(|a| a.id.clone()),
                limit,
            };
            async move {
                let rows = s.list_artifacts(&query).await?;
                Ok::<_, crate::Error>(rows.into_iter().map(|a| a.id).collect::<Vec<_>>())
            }
        };
    let ids = |rows: &[&Artifact]| rows.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        list(None, None, None, 100).await?,
        ids(&[&voice, &soul_output, &soul2, &soul3, &soul1, &output])
    );
    assert_eq!(
        list(Some(ArtifactKind::Upload), None, None, 100).await?,
        ids(&[&voice, &soul2, &soul3, &soul1])
    );
    assert_eq!(
        list(None, Some("SOUL.md"), None, 100).await?,
        ids(&[&soul_output, &soul2, &soul3, &soul1])
    );
    assert_eq!(
        list(Some(ArtifactKind::Output), Some("SOUL.md"), None, 100).await?,
        ids(&[&soul_output])
    );
    assert_eq!(
        list(None, None, None, 2).await?,
        ids(&[&voice, &soul_output])
    );
    assert_eq!(
        list(None, None, Some(&soul_output), 2).await?,
        ids(&[&soul2, &soul3])
    );
    assert_eq!(
        list(None, None, Some(&soul3), 2).await?,
        ids(&[&soul1, &output])
    );
    assert!(list(None, None, Some(&output), 2).await?.is_empty());
    assert_eq!(
        list(Some(ArtifactKind::Upload), Some("SOUL.md"), Some(&soul2), 1).await?,
        ids(&[&soul3])
    );

    assert!(s.delete_artifact(&soul3.id).await?);
    assert!(!s.delete_artifact(&soul3.id).await?);
    assert_eq!(s.get_artifact(&soul3.id).await?, None);
    assert_eq!(
        s.latest_upload(&agent, "SOUL.md").await?,
        Some(soul2.clone())
    );
    assert_eq!(
        list(Some(ArtifactKind::Upload), Some("SOUL.md"), None, 100).await?,
        ids(&[&soul2, &soul1])
    );
    // A deleted version is free again.
    let soul3_again = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 3);
    s.insert_artifact(&soul3_again).await?;
    assert_eq!(s.latest_upload(&agent, "SOUL.md").await?, Some(soul3_again));
    Ok(())
}

/// `racers` concurrent uploads of one version of one name: exactly one is stored, the others
/// fail with `Conflict`.
pub async fn artifacts_concurrent_versions(stores: &Stores, racers: usize) -> Result<()> {
    let agent = unique("agt");
    let v1 = artifact(&agent, ArtifactKind::Upload, "SOUL.md", 1);
    stores.artifacts.insert_artifact(&v1).await?;
    let uploads: Vec<Artifact> = (0..racers)
        .map(|_| artifact(&agent, ArtifactKind::Upload, "SOUL.md", 2))
        .collect();
    let outcomes = join_all(uploads.iter().map(|a| stores.artifacts.insert_artifact(a))).await;
    let won: Vec<Artifact> = uploads
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(a, _)| a.clone())
        .collect();
    let count = winners(outcomes)?;
    assert_eq!(count, 1, "{count} of {racers} uploads took one version");
    assert_eq!(
        stores.artifacts.latest_upload(&agent, "SOUL.md").await?,
        won.into_iter().next()
    );
    Ok(())
}
