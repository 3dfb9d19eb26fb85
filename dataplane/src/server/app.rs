//! The router of the whole data plane: the API prefixes behind the gateway, and the
//! operational endpoints `/health`, `/ready` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use http::{StatusCode, header};
use serde_json::json;

use super::gateway::gateway;
use super::project::Projects;

/// Largest request body any API accepts.
pub const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// The complete application for `projects`.
pub fn app(projects: Arc<Projects>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .nest("/auth/v1", crate::auth::router())
        // Plain routes rather than a nested router: nesting rewrites the URI and clones boxed
        // services on every request, which showed in profiles of the data API's hot path.
        .route("/rest/v1", axum::routing::any(crate::rest::handle))
        .route("/rest/v1/", axum::routing::any(crate::rest::handle))
        .route("/rest/v1/{*path}", axum::routing::any(crate::rest::handle))
        .nest("/realtime/v1", crate::realtime::router())
        .nest("/storage/v1", crate::storage::router())
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(projects.clone(), gateway))
        .with_state(projects)
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn ready(State(projects): State<Arc<Projects>>) -> Response {
    let project = projects.default_project();
    let check = async {
        let client = project
            .pool
            .get()
            .await
            .map_err(|e| super::project::describe_pool_error(&e))?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        // The data API logs in as a role of its own: ready only when it can connect too.
        project.rest.check().await?;
        Ok::<(), String>(())
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "database unreachable"})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": "database timed out"})),
        )
            .into_response(),
    }
}

async fn metrics(State(projects): State<Arc<Projects>>) -> Response {
    let p = projects.default_project();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        p.metrics.render(
            &p.project_ref,
            &p.pool_gauges(),
            p.rest.lane_stats(),
            p.rest.cached_tokens(),
        ),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "no route matched the request"})),
    )
        .into_response()
}
