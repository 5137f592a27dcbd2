//! The route table: the one place paths are bound to handlers.

mod admin;
mod admin_agents;
mod admin_models;
mod agents;
mod artifacts;
mod callbacks;
mod generate;
mod health;
mod jobs;
mod logs;
mod openai;
mod responses;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};

use crate::ApiState;
use crate::middleware::agent_auth;
use crate::request_record::record_request;

pub(crate) fn routes(state: ApiState) -> Router {
    // Routes an agent calls with its key: authenticated and rate-limited together.
    let agent = Router::new()
        .route("/v1/agents/me", get(agents::me))
        .route("/agents/me", get(agents::me))
        .route("/v1/keys", get(agents::list_keys).post(agents::create_key))
        .route("/v1/keys/{id}", delete(agents::revoke_key))
        .route("/v1/usage", get(agents::usage))
        .route("/v1/logs", get(logs::agent_logs))
        .route("/v1/models", get(agents::models))
        .route("/v1/models/{id}", get(agents::model))
        .route("/v1/text/generate", post(generate::text))
        .route("/v1/images/generate", post(generate::images))
        .route("/v1/audio/voices", get(generate::voices))
        .route("/v1/stock/search", post(generate::stock))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(responses::create))
        .route("/v1/images/generations", post(openai::image_generations))
        .route("/v1/audio/speech", post(openai::speech))
        .route("/v1/videos/generate", post(jobs::generate_video))
        .route("/videos/generate", post(jobs::generate_video))
        .route("/v1/videos/{id}", get(jobs::get_video))
        .route("/videos/{id}", get(jobs::get_video))
        .route("/v1/renders", post(jobs::create_render))
        .route("/v1/renders/{id}", get(jobs::get_render))
        .route(
            "/v1/personas",
            get(jobs::list_personas).post(jobs::create_persona),
        )
        .route("/v1/jobs", get(jobs::list_jobs))
        .route("/v1/jobs/{id}", get(jobs::get_job))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel_job))
        .route("/v1/webhook", get(jobs::get_webhook).put(jobs::put_webhook))
        .route("/v1/webhook/deliveries", get(jobs::list_deliveries))
        .route("/v1/artifacts", get(artifacts::list))
        .route("/v1/artifacts/{id}", get(artifacts::get))
        .route("/v1/artifacts/{id}/content", get(artifacts::content))
        .route("/v1/artifacts/{id}/url", post(artifacts::signed_url))
        .route("/v1/files", get(artifacts::list_files))
        .route(
            "/v1/files/{name}",
            put(artifacts::upload)
                .get(artifacts::file)
                .delete(artifacts::delete_file),
        )
        .route("/v1/files/{name}/content", get(artifacts::file_content))
        .route_layer(from_fn_with_state(state.clone(), agent_auth));

    let admin = Router::new()
        .route("/v1/admin/whoami", get(admin::whoami))
        .route("/v1/admin/logs", get(logs::admin_logs))
        .route(
            "/v1/admin/instances",
            get(admin::list_instances).post(admin::create_instance),
        )
        .route(
            "/v1/admin/instances/{id}",
            get(admin::get_instance)
                .patch(admin::update_instance)
                .delete(admin::delete_instance),
        )
        .route(
            "/v1/admin/instances/{id}/provider-keys",
            get(admin::list_provider_keys),
        )
        .route(
            "/v1/admin/instances/{id}/provider-keys/{provider}",
            axum::routing::put(admin::put_provider_key).delete(admin::delete_provider_key),
        )
        .route(
            "/v1/admin/projects",
            get(admin::list_projects).post(admin::create_project),
        )
        .route("/v1/admin/projects/{id}", delete(admin::delete_project))
        .route(
            "/v1/admin/tiers",
            get(admin::list_tiers).post(admin::create_tier),
        )
        .route(
            "/v1/admin/tiers/{id}",
            get(admin::get_tier)
                .put(admin::replace_tier)
                .delete(admin::delete_tier),
        )
        .route(
            "/v1/admin/keys",
            get(admin::list_keys).post(admin::create_key),
        )
        .route("/v1/admin/keys/{id}", delete(admin::revoke_key))
        .route(
            "/v1/admin/agents",
            get(admin_agents::list).post(admin_agents::create),
        )
        .route(
            "/v1/admin/agents/{id}",
            get(admin_agents::get)
                .patch(admin_agents::update)
                .delete(admin_agents::remove),
        )
        .route("/v1/admin/agents/{id}/suspend", post(admin_agents::suspend))
        .route(
            "/v1/admin/agents/{id}/activate",
            post(admin_agents::activate),
        )
        .route(
            "/v1/admin/models",
            get(admin_models::list).post(admin_models::create),
        )
        .route(
            "/v1/admin/models/{id}",
            get(admin_models::get)
                .put(admin_models::replace)
                .patch(admin_models::update)
                .delete(admin_models::remove),
        );

    Router::new()
        .route("/health", get(health::health))
        .route("/v1/health", get(health::health))
        .route("/health/ready", get(health::ready))
        .route("/v1/agents/register", post(agents::register))
        .route("/agents/register", post(agents::register))
        .route("/v1/callbacks/heygen", post(callbacks::heygen))
        .route("/v1/callbacks/{job_id}/{token}", post(callbacks::job))
        .merge(agent)
        .merge(admin)
        // Outermost of the route layers, so it sees the matched route and every answer.
        .route_layer(from_fn_with_state(state.clone(), record_request))
        .with_state(state)
}
