-- Generated from the molts-migrations crate (migration m20261124_000003_ledger_indexes); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
DROP INDEX IF EXISTS "idx_quota_reservations_agent";
DROP INDEX IF EXISTS "idx_quota_reservations_open";
CREATE INDEX IF NOT EXISTS "idx_quota_reservations_open" ON "quota_reservations" ("expires_at") WHERE "state" = 'reserved';
