//! `/storage/v1`: the Supabase Storage API. Not built yet: every route answers 501 in Storage's
//! error shape.

use axum::Router;
use axum::http::Uri;

/// The `/storage/v1` router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().fallback(|uri: Uri| async move {
        crate::http::not_built::storage(&format!("storage endpoint {}", uri.path()))
    })
}
