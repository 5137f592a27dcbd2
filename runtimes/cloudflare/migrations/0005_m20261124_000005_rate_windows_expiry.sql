-- Generated from the molts-migrations crate (migration m20261124_000005_rate_windows_expiry); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
CREATE INDEX IF NOT EXISTS "idx_rate_windows_expires" ON "rate_windows" ("expires_at");
