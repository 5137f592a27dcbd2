-- Generated from the molts-migrations crate (migration m20261124_000001_initial); do not edit.
-- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files
CREATE TABLE IF NOT EXISTS "instances" ( "id" text NOT NULL PRIMARY KEY, "name" text NOT NULL, "registration_mode" text NOT NULL, "registration_token_hash" text NULL, "default_tier" text NOT NULL, "allowed_models" text NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "projects" ( "id" text NOT NULL PRIMARY KEY, "instance_id" text NOT NULL, "name" text NOT NULL, "description" text NULL, "created_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "agents" ( "id" text NOT NULL PRIMARY KEY, "instance_id" text NOT NULL, "project_id" text NULL, "name" text NOT NULL, "email" text NULL, "soul_md" text NOT NULL, "voice_sample_ref" text NULL, "tier_id" text NOT NULL, "status" text NOT NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "api_keys" ( "id" text NOT NULL PRIMARY KEY, "agent_id" text NOT NULL, "instance_id" text NOT NULL, "name" text NOT NULL, "prefix" text NOT NULL, "hash" text NOT NULL, "created_at" bigint NOT NULL, "expires_at" bigint NULL, "revoked_at" bigint NULL );
CREATE TABLE IF NOT EXISTS "admin_keys" ( "id" text NOT NULL PRIMARY KEY, "instance_id" text NULL, "read_only" boolean NOT NULL, "name" text NOT NULL, "prefix" text NOT NULL, "hash" text NOT NULL, "created_at" bigint NOT NULL, "expires_at" bigint NULL, "revoked_at" bigint NULL );
CREATE TABLE IF NOT EXISTS "tiers" ( "id" text NOT NULL PRIMARY KEY, "name" text NOT NULL, "description" text NOT NULL, "limits" text NOT NULL, "requests_per_minute" bigint NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "model_configs" ( "id" text NOT NULL PRIMARY KEY, "provider" text NOT NULL, "modality" text NOT NULL, "provider_model" text NOT NULL, "display_name" text NOT NULL, "description" text NOT NULL, "capabilities" text NOT NULL, "pricing" text NOT NULL, "status" text NOT NULL, "enabled" boolean NOT NULL, "payload_mapping" text NULL, "fallbacks" text NOT NULL, "alias" text NULL, "weight" bigint NOT NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "quota_reservations" ( "id" text NOT NULL PRIMARY KEY, "agent_id" text NOT NULL, "unit" text NOT NULL, "reserved" bigint NOT NULL, "charged" bigint NULL, "state" text NOT NULL, "day_key" text NOT NULL, "month_key" text NOT NULL, "created_at" bigint NOT NULL, "closed_at" bigint NULL, "expires_at" bigint NOT NULL );
CREATE TABLE IF NOT EXISTS "quota_counters" ( "agent_id" text NOT NULL, "unit" text NOT NULL, "period" text NOT NULL, "period_key" text NOT NULL, "used" bigint NOT NULL, PRIMARY KEY ("agent_id", "unit", "period", "period_key") );
CREATE TABLE IF NOT EXISTS "instance_provider_keys" ( "instance_id" text NOT NULL, "provider" text NOT NULL, "sealed_key" text NOT NULL, "key_hint" text NOT NULL, "base_url" text NULL, "updated_at" bigint NOT NULL, PRIMARY KEY ("instance_id", "provider") );
CREATE UNIQUE INDEX IF NOT EXISTS "ux_projects_instance_name" ON "projects" ("instance_id", "name");
CREATE UNIQUE INDEX IF NOT EXISTS "ux_agents_instance_email" ON "agents" ("instance_id", "email");
CREATE INDEX IF NOT EXISTS "idx_agents_instance" ON "agents" ("instance_id");
CREATE INDEX IF NOT EXISTS "idx_agents_tier" ON "agents" ("tier_id");
CREATE INDEX IF NOT EXISTS "idx_api_keys_prefix" ON "api_keys" ("prefix");
CREATE INDEX IF NOT EXISTS "idx_api_keys_agent" ON "api_keys" ("agent_id");
CREATE INDEX IF NOT EXISTS "idx_admin_keys_prefix" ON "admin_keys" ("prefix");
CREATE INDEX IF NOT EXISTS "idx_model_configs_modality" ON "model_configs" ("modality");
CREATE INDEX IF NOT EXISTS "idx_model_configs_status" ON "model_configs" ("status");
CREATE INDEX IF NOT EXISTS "idx_model_configs_alias" ON "model_configs" ("alias");
CREATE INDEX IF NOT EXISTS "idx_quota_reservations_agent" ON "quota_reservations" ("agent_id");
CREATE INDEX IF NOT EXISTS "idx_quota_reservations_open" ON "quota_reservations" ("state", "expires_at");
