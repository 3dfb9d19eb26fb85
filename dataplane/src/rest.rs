//! `/rest/v1`: the PostgREST-compatible data API, served by the `madbase-rest` engine.

use axum::Router;
use axum::http::Uri;

/// The `/rest/v1` router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().fallback(|uri: Uri| async move {
        crate::http::not_built::message(&format!("data API endpoint {}", uri.path()))
    })
}
