//! The D1 migration files committed under runtimes/cloudflare/migrations are exactly what the one
//! migrations source generates: no file missing, none extra, none edited by hand.
//! `MOLTS_WRITE_D1_MIGRATIONS=1` writes them instead of checking (after adding a migration).

use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(molts_migrations::D1_MIGRATIONS_DIR)
}

fn committed() -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(name, std::fs::read_to_string(&path)?);
        }
    }
    Ok(files)
}

#[test]
fn committed_d1_migrations_match_the_source() -> std::io::Result<()> {
    let generated: BTreeMap<String, String> =
        molts_migrations::d1_migration_files().into_iter().collect();
    if std::env::var_os("MOLTS_WRITE_D1_MIGRATIONS").is_some() {
        std::fs::create_dir_all(dir())?;
        for (name, text) in &generated {
            std::fs::write(dir().join(name), text)?;
        }
    }
    let committed = committed()?;
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "the D1 migration files differ from the migrations source; regenerate them with \
         MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files"
    );
    for (name, text) in &generated {
        assert_eq!(
            committed.get(name),
            Some(text),
            "{name} differs from what the migrations source generates; regenerate it with \
             MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files"
        );
    }
    Ok(())
}

#[test]
fn d1_files_are_numbered_in_order_and_create_every_table() {
    let files = molts_migrations::d1_migration_files();
    for (i, (name, text)) in files.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name}");
        assert!(text.starts_with("-- Generated"), "{name}");
    }
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for table in [
        "instances",
        "agents",
        "quota_counters",
        "instance_provider_keys",
    ] {
        assert!(
            all.contains(&format!("CREATE TABLE IF NOT EXISTS \"{table}\"")),
            "{table}"
        );
    }
}
