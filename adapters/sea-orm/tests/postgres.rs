//! The store contract on a real PostgreSQL server. Each run creates its own database and drops it
//! afterwards, so runs never collide.
//!
//! The server is `MOLTS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! used only to create and drop the run's database. When it is unreachable the tests skip with a
//! note on stderr, unless `CI=true` or `MOLTS_REQUIRE_POSTGRES=1`, where they fail.

mod common;

use molts_core::{ErrorKind, testkit};
use molts_sea_orm::{SeaOrmStore, SqlRateLimiter};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("MOLTS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Whether something listens at the URL's host and port; a quick answer, where the store's own
/// connect would retry until its acquire timeout.
async fn listening(url: &url::Url) -> bool {
    let Some(host) = url.host_str() else {
        // A socket-directory URL: let the real connect decide.
        return true;
    };
    let port = url.port().unwrap_or(5432);
    let probe = tokio::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(3), probe).await,
        Ok(Ok(_))
    )
}

/// A fresh database on the server.
struct TempDb {
    admin: SeaOrmStore,
    name: String,
    url: String,
}

impl TempDb {
    /// `None` when the server is unreachable and not required.
    async fn create() -> Result<Option<Self>, Box<dyn std::error::Error + Send + Sync>> {
        let admin_url =
            std::env::var("MOLTS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let mut url = url::Url::parse(&admin_url)?;
        if !listening(&url).await {
            if required() {
                return Err(format!("postgres unreachable at {admin_url} (required here)").into());
            }
            eprintln!("skipping: postgres unreachable at {admin_url}");
            return Ok(None);
        }
        let admin = match SeaOrmStore::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(e) if e.kind() == ErrorKind::Unavailable && !required() => {
                eprintln!("skipping: postgres unreachable at {admin_url}: {e}");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let name = format!("molts_test_{}", uuid::Uuid::now_v7().simple());
        execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await?;
        url.set_path(&name);
        Ok(Some(Self {
            admin,
            name,
            url: url.to_string(),
        }))
    }

    async fn drop_database(self) -> TestResult {
        let plain = format!("DROP DATABASE IF EXISTS \"{}\"", self.name);
        if execute(&self.admin, &plain).await.is_err() {
            // A connection the pool did not close yet; PostgreSQL 13+ can end it for us.
            execute(&self.admin, &format!("{plain} WITH (FORCE)")).await?;
        }
        self.admin.close().await?;
        Ok(())
    }
}

async fn execute(store: &SeaOrmStore, sql: &str) -> Result<(), sea_orm::DbErr> {
    let db = store.connection();
    db.execute(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map(|_| ())
}

/// Runs `check` against a migrated fresh database, then drops it even if `check` panicked.
async fn with_database<F, Fut>(check: F) -> TestResult
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = TestResult> + Send + 'static,
{
    let Some(db) = TempDb::create().await? else {
        return Ok(());
    };
    // A spawned task turns a panicking assertion into a JoinError, so cleanup still runs.
    let outcome = tokio::spawn(check(db.url.clone())).await;
    db.drop_database().await?;
    match outcome {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_contract() -> TestResult {
    with_database(|url| async move {
        let store = SeaOrmStore::connect(&url).await?;
        store.migrate().await?;
        // Applying again finds nothing pending.
        store.migrate().await?;
        testkit::run_all(&store.clone().into_stores()).await?;
        store.close().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_rate_limiter_passes_the_contract_and_is_shared_by_two_stores() -> TestResult {
    with_database(|url| async move {
        let one = SeaOrmStore::connect(&url).await?;
        one.migrate().await?;
        // Unlogged: no WAL flush per request for counts a crash may lose.
        let persistence = one
            .connection()
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                "SELECT relpersistence::text AS p FROM pg_class WHERE relname = 'rate_windows'",
            ))
            .await?
            .ok_or("no rate_windows table")?;
        assert_eq!(persistence.try_get::<String>("", "p")?, "u");
        testkit::run_rate_suite(&SqlRateLimiter::new(one.clone())).await?;
        // A second pool on the same database stands for a second replica.
        let two = SeaOrmStore::connect(&url).await?;
        common::rate_shared_and_swept(&one, &two).await?;
        one.close().await?;
        two.close().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_ledger_paths() -> TestResult {
    with_database(|url| async move {
        let store = SeaOrmStore::connect(&url).await?;
        store.migrate().await?;
        common::ledger_paths(&store.clone().into_stores()).await?;
        store.close().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_database_stay_exact() -> TestResult {
    with_database(|url| async move {
        let a = SeaOrmStore::connect(&url).await?;
        a.migrate().await?;
        let b = SeaOrmStore::connect(&url).await?;
        common::two_pools_stay_exact(&a.clone().into_stores(), &b.clone().into_stores(), 200, 10)
            .await?;
        a.close().await?;
        b.close().await?;
        Ok(())
    })
    .await
}
