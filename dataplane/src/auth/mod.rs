//! `/auth/v1`: the GoTrue-compatible auth API. Not built yet: every route answers 501 in
//! GoTrue's error shape, so supabase-js surfaces a clear `not_implemented` error.

use axum::Router;
use axum::http::Uri;
use madbase_config::DataPlaneConfig;

/// Auth's per-project state, owned by the project context.
#[derive(Debug, Default)]
pub struct AuthContext {}

impl AuthContext {
    /// Builds auth's state from the project's configuration.
    pub fn new(_config: &DataPlaneConfig) -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

/// The `/auth/v1` router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().fallback(|uri: Uri| async move {
        crate::http::not_built::auth(&format!("auth endpoint {}", uri.path()))
    })
}
