//! `/realtime/v1`: Supabase Realtime's websocket protocol. Not built yet: every route answers
//! 501 with a JSON body.

use axum::Router;
use axum::http::Uri;

/// The `/realtime/v1` router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().fallback(|uri: Uri| async move {
        crate::http::not_built::message(&format!("realtime endpoint {}", uri.path()))
    })
}
