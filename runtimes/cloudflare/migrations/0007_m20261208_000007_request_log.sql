-- Generated from the molts-migrations crate (migration m20261208_000007_request_log); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
CREATE TABLE IF NOT EXISTS "request_log" ( "id" text NOT NULL PRIMARY KEY, "request_id" text NOT NULL, "at" bigint NOT NULL, "instance_id" text NULL, "caller" text NOT NULL, "agent_id" text NULL, "key_id" text NULL, "key_prefix" text NULL, "method" text NOT NULL, "route" text NOT NULL, "model" text NULL, "provider" text NULL, "attempts" text NOT NULL, "status" bigint NOT NULL, "error_code" text NULL, "latency_ms" bigint NOT NULL, "unit" text NULL, "units_held" bigint NOT NULL, "units_charged" bigint NOT NULL, "streamed" boolean NOT NULL, "bytes_in" bigint NOT NULL, "bytes_out" bigint NOT NULL, "job_id" text NULL, "prompt" text NULL );
CREATE INDEX IF NOT EXISTS "idx_request_log_instance" ON "request_log" ("instance_id", "id");
CREATE INDEX IF NOT EXISTS "idx_request_log_agent" ON "request_log" ("agent_id", "id");
CREATE INDEX IF NOT EXISTS "idx_request_log_job" ON "request_log" ("job_id");
