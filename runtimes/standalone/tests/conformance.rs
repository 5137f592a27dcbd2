//! The black-box conformance suite against the real `molts` binary, on SQLite and on PostgreSQL.
//! The suite knows only a base URL and an admin token; these tests only start the server.

mod support;

use molts_conformance::{Target, run};
use molts_sea_orm::sea_orm::{ConnectionTrait, Database};
use support::{ADMIN_TOKEN, Server, serve_with_env, sqlite_url};

/// What every runtime under the suite is started with: its webhook receiver on loopback may be
/// reached, and the scheduled work (which delivers webhooks) runs every couple of seconds.
const SUITE_ENV: &[(&str, &str)] = &[
    ("MOLTS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1"),
    ("MOLTS_SCHEDULE_SECONDS", "2"),
];

fn serve(database_url: &str) -> Result<Server, String> {
    serve_with_env(database_url, Some(ADMIN_TOKEN), SUITE_ENV)
}

async fn run_suite(server: &Server) -> Result<(), String> {
    let target = Target {
        base_url: server.base_url.clone(),
        admin_token: ADMIN_TOKEN.to_owned(),
    };
    let report = run(&target, None).await;
    for outcome in &report.outcomes {
        println!("{outcome}");
    }
    println!("{}", report.summary());
    if report.ok() {
        Ok(())
    } else {
        Err(format!("{} against {}", report.summary(), server.base_url))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_sqlite() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let server = serve(&url)?;
    run_suite(&server).await
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create() -> Result<Option<Self>, String> {
        let admin_url = std::env::var("MOLTS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let required = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var("MOLTS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let db = match Database::connect(&admin_url).await {
            Ok(db) => db,
            Err(e) if required => {
                return Err(format!(
                    "PostgreSQL is required but unreachable at {admin_url}: {e}"
                ));
            }
            Err(e) => {
                eprintln!("skipping: postgres unreachable at {admin_url}: {e}");
                return Ok(None);
            }
        };
        let name = format!(
            "molts_conformance_{}_{}",
            std::process::id(),
            chrono_free_suffix()
        );
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| e.to_string())?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b)
            .to_owned();
        Ok(Some(Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }))
    }

    async fn drop_it(&self) {
        if let Ok(db) = Database::connect(&self.admin_url).await {
            let _ = db
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
}

fn chrono_free_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_postgres() -> Result<(), String> {
    let Some(db) = FreshDatabase::create().await? else {
        return Ok(());
    };
    let result = match serve(&db.url) {
        Ok(server) => {
            let result = run_suite(&server).await;
            drop(server);
            result
        }
        Err(e) => Err(e),
    };
    db.drop_it().await;
    result
}
