-- Generated from the molts-migrations crate (migration m20261124_000004_rate_windows); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
CREATE TABLE IF NOT EXISTS "rate_windows" ( "key" text NOT NULL, "window_start" bigint NOT NULL, "hits" bigint NOT NULL, "expires_at" bigint NOT NULL, PRIMARY KEY ("key", "window_start") );
