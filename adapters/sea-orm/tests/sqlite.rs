//! The store contract on a real SQLite file: a fresh temp database per test.

mod common;

use molts_core::{ErrorKind, testkit};
use molts_sea_orm::SeaOrmStore;
use sea_orm::{ConnectionTrait, Statement};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("molts.db").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_passes_the_contract() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SeaOrmStore::connect(&url(&dir)).await?;
    store.migrate().await?;
    // Applying again finds nothing pending.
    store.migrate().await?;
    testkit::run_all(&store.clone().into_stores()).await?;
    store.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_file_stay_exact() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = SeaOrmStore::connect(&url(&dir)).await?;
    a.migrate().await?;
    let b = SeaOrmStore::connect(&url(&dir)).await?;
    common::two_pools_stay_exact(&a.clone().into_stores(), &b.clone().into_stores(), 200, 10)
        .await?;
    a.close().await?;
    b.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_runs_in_wal_mode_and_migrates_a_reopened_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SeaOrmStore::connect(&url(&dir)).await?;
    store.migrate().await?;
    let db = store.connection();
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await?;
    let mode: String = row
        .map(|r| r.try_get("", "journal_mode"))
        .transpose()?
        .unwrap_or_default();
    assert_eq!(mode, "wal");
    store.close().await?;

    let reopened = SeaOrmStore::connect(&url(&dir)).await?;
    reopened.migrate().await?;
    testkit::tiers(&reopened.clone().into_stores()).await?;
    reopened.close().await?;
    Ok(())
}

#[tokio::test]
async fn unsupported_urls_are_invalid() {
    let err = SeaOrmStore::connect("mysql://localhost/molts").await.err();
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Invalid));
}
