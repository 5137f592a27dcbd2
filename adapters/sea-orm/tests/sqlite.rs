//! The store contract on a real SQLite file: a fresh temp database per test.

mod common;

use std::time::Duration;

use molts_core::domain::Period;
use molts_core::{ErrorKind, testkit};
use molts_sea_orm::{SeaOrmStore, SqlRateLimiter, StoreOptions};
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
async fn sqlite_ledger_paths() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SeaOrmStore::connect(&url(&dir)).await?;
    store.migrate().await?;
    common::ledger_paths(&store.clone().into_stores()).await?;
    store.close().await?;
    Ok(())
}

async fn pragma(store: &SeaOrmStore, sql: &str) -> Result<Vec<i64>, sea_orm::DbErr> {
    let db = store.connection();
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let mut values = Vec::new();
    while let Ok(v) = row.try_get_by_index::<i64>(values.len()) {
        values.push(v);
    }
    Ok(values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_checkpoints_in_the_background() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions {
        sqlite_checkpoint_every: Some(Duration::from_millis(20)),
    };
    let store = SeaOrmStore::connect_with(&url(&dir), options).await?;
    store.migrate().await?;
    // Commits no longer cross SQLite's own threshold; the fallback sits above the restart size.
    assert_eq!(
        pragma(&store, "PRAGMA wal_autocheckpoint").await?,
        vec![10_000]
    );
    // A log that grew past the restart size is cut back to it when it starts afresh.
    assert_eq!(
        pragma(&store, "PRAGMA journal_size_limit").await?,
        vec![32 * 1024 * 1024]
    );
    common::ledger_paths(&store.clone().into_stores()).await?;
    let reservations = pragma(&store, "SELECT count(*) FROM quota_reservations").await?;
    // Within a few rounds the committed rows (the reservations) are in the database file
    // itself, not only in the log: a copy of the file alone has them.
    let mut backfilled = false;
    for round in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let copy = dir.path().join(format!("copy-{round}.db"));
        std::fs::copy(dir.path().join("molts.db"), &copy)?;
        let copy_url = format!("sqlite://{}?mode=rwc", copy.display());
        let Ok(copy) = SeaOrmStore::connect_with(
            &copy_url,
            StoreOptions {
                sqlite_checkpoint_every: None,
            },
        )
        .await
        else {
            continue;
        };
        let rows = pragma(&copy, "SELECT count(*) FROM quota_reservations").await;
        copy.close().await?;
        if rows.is_ok_and(|r| r == reservations) {
            backfilled = true;
            break;
        }
    }
    assert!(backfilled, "the log was not checkpointed in the background");
    store.close().await?;

    // Without background checkpoints SQLite keeps its own default.
    let options = StoreOptions {
        sqlite_checkpoint_every: None,
    };
    let store = SeaOrmStore::connect_with(&url(&dir), options).await?;
    assert_eq!(
        pragma(&store, "PRAGMA wal_autocheckpoint").await?,
        vec![1000]
    );
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

/// The ledger writes in place only when the write lock is free at once; while another
/// connection (here a second store's pool, as another process would be) holds it, a
/// reservation and a settlement wait for it and then succeed, never failing `busy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_writes_wait_for_another_writer() -> TestResult {
    use molts_core::domain::ReserveOutcome;
    use sea_orm::TransactionTrait;

    let dir = tempfile::tempdir()?;
    let store = SeaOrmStore::connect(&url(&dir)).await?;
    store.migrate().await?;
    let other = SeaOrmStore::connect(&url(&dir)).await?;
    let db = other.connection();
    db.execute_unprepared("CREATE TABLE lock_probe (x INTEGER)")
        .await?;
    let stores = store.clone().into_stores();
    let first = common::one_unit("agt_waits", 10);
    assert_eq!(
        stores.quota.reserve(&first).await?,
        ReserveOutcome::Reserved
    );

    let holder = db.begin().await?;
    holder
        .execute_unprepared("INSERT INTO lock_probe VALUES (1)")
        .await?;
    let second = common::one_unit("agt_waits", 10);
    let (quota, at) = (stores.quota.clone(), second.at);
    let reserving = tokio::spawn(async move { quota.reserve(&second).await });
    let quota = stores.quota.clone();
    let first_id = first.reservation_id.clone();
    // Settled below its hold of one, so the counters move too.
    let settling = tokio::spawn(async move { quota.settle(&first_id, 0, at).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !reserving.is_finished(),
        "reserved past another writer's lock"
    );
    assert!(
        !settling.is_finished(),
        "settled past another writer's lock"
    );
    holder.commit().await?;

    assert_eq!(reserving.await??, ReserveOutcome::Reserved);
    assert_eq!(settling.await??.charged, Some(0));
    let usage = stores
        .quota
        .usage("agt_waits", &[(Period::Month, "2026-11".to_owned())])
        .await?;
    assert_eq!(usage.iter().map(|c| c.used).sum::<u64>(), 1);
    other.close().await?;
    store.close().await?;
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

/// The expiry sweep reads the partial index of open holds, not the whole ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_expiry_sweep_reads_the_open_holds_index() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SeaOrmStore::connect(&url(&dir)).await?;
    store.migrate().await?;
    // On one connection, after a statement that reads the table: EXPLAIN alone does not check
    // whether the connection's copy of the schema predates the migration.
    let txn = sea_orm::TransactionTrait::begin(store.connection()).await?;
    let backend = txn.get_database_backend();
    txn.query_one(Statement::from_string(
        backend,
        "SELECT count(*) FROM quota_reservations",
    ))
    .await?;
    let plan = txn
        .query_all(Statement::from_string(
            backend,
            "EXPLAIN QUERY PLAN SELECT id FROM quota_reservations \
             WHERE state = 'reserved' AND expires_at <= 1 ORDER BY expires_at, id LIMIT 10",
        ))
        .await?;
    txn.commit().await?;
    let details: Vec<String> = plan
        .iter()
        .filter_map(|r| r.try_get::<String>("", "detail").ok())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX idx_quota_reservations_open")),
        "the sweep does not use the open holds index: {details:?}"
    );
    store.close().await?;
    Ok(())
}

#[tokio::test]
async fn unsupported_urls_are_invalid() {
    let err = SeaOrmStore::connect("mysql://localhost/molts").await.err();
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Invalid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_rate_limiter_passes_the_contract_and_is_shared_by_two_stores() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = SeaOrmStore::connect(&url(&dir)).await?;
    one.migrate().await?;
    testkit::run_rate_suite(&SqlRateLimiter::new(one.clone())).await?;
    // A second store on the same file stands for a second process.
    let two = SeaOrmStore::connect(&url(&dir)).await?;
    common::rate_shared_and_swept(&one, &two).await?;
    one.close().await?;
    two.close().await?;
    Ok(())
}
