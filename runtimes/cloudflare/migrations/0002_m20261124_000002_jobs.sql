-- Generated from the molts-migrations crate (migration m20261124_000002_jobs); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
CREATE TABLE IF NOT EXISTS "jobs" ( "id" text NOT NULL PRIMARY KEY, "instance_id" text NOT NULL, "agent_id" text NOT NULL, "kind" text NOT NULL, "model_id" text NOT NULL, "provider" text NOT NULL, "provider_job_id" text NULL, "status" text NOT NULL, "input" text NOT NULL, "units" bigint NOT NULL, "reservation_id" text NOT NULL, "idempotency_key" text NULL, "callback_token_hash" text NOT NULL, "webhook_url" text NULL, "attempts" bigint NOT NULL, "next_check_at" bigint NOT NULL, "deadline_at" bigint NOT NULL, "error" text NULL, "artifact_id" text NULL, "duration_seconds" double NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "finished_at" bigint NULL, "version" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "artifacts" ( "id" text NOT NULL PRIMARY KEY, "instance_id" text NOT NULL, "agent_id" text NOT NULL, "kind" text NOT NULL, "job_id" text NULL, "name" text NOT NULL, "version" bigint NOT NULL, "blob_key" text NOT NULL, "content_type" text NOT NULL, "size" bigint NOT NULL, "sha256" text NOT NULL, "created_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "webhook_endpoints" ( "agent_id" text NOT NULL PRIMARY KEY, "url" text NULL, "secret" text NOT NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "webhook_deliveries" ( "id" text NOT NULL PRIMARY KEY, "agent_id" text NOT NULL, "job_id" text NOT NULL, "event_type" text NOT NULL, "url" text NOT NULL, "payload" text NOT NULL, "status" text NOT NULL, "attempts" bigint NOT NULL, "next_attempt_at" bigint NOT NULL, "last_status" bigint NULL, "last_error" text NULL, "created_at" bigint NOT NULL, "delivered_at" bigint NULL );
CREATE UNIQUE INDEX IF NOT EXISTS "ux_jobs_agent_idempotency" ON "jobs" ("agent_id", "idempotency_key");
CREATE INDEX IF NOT EXISTS "idx_jobs_agent" ON "jobs" ("agent_id", "id");
CREATE INDEX IF NOT EXISTS "idx_jobs_due" ON "jobs" ("status", "next_check_at");
CREATE UNIQUE INDEX IF NOT EXISTS "ux_artifacts_agent_kind_name_version" ON "artifacts" ("agent_id", "kind", "name", "version");
CREATE INDEX IF NOT EXISTS "idx_artifacts_agent" ON "artifacts" ("agent_id", "id");
CREATE INDEX IF NOT EXISTS "idx_webhook_deliveries_due" ON "webhook_deliveries" ("status", "next_attempt_at");
CREATE INDEX IF NOT EXISTS "idx_webhook_deliveries_agent" ON "webhook_deliveries" ("agent_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_webhook_deliveries_job" ON "webhook_deliveries" ("job_id");
