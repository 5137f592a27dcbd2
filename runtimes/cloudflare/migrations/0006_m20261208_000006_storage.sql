-- Generated from the molts-migrations crate (migration m20261208_000006_storage); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
ALTER TABLE "tiers" ADD COLUMN "storage_bytes" bigint NULL;
ALTER TABLE "instances" ADD COLUMN "storage_bytes" bigint NULL;
CREATE TABLE IF NOT EXISTS "storage_usage" ( "scope" text NOT NULL, "owner_id" text NOT NULL, "bytes" bigint NOT NULL, PRIMARY KEY ("scope", "owner_id") );
CREATE INDEX IF NOT EXISTS "idx_artifacts_kind_created" ON "artifacts" ("kind", "created_at");
