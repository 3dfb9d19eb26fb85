//! OAuth 2.0 / OpenID Connect sign-in with external providers.

use axum::Json;
use axum::response::IntoResponse;
use axum::response::Response;
use serde_json::Value;

use super::Ctx;
use super::error::{AuthError, AuthResult};
use super::sessions::AuthUser;
use madbase_config::{AuthSettings, OAuthProviderSettings};

/// The configured providers.
#[derive(Debug, Default)]
pub struct Providers {
    list: Vec<(String, OAuthProviderSettings)>,
}

impl Providers {
    /// From settings.
    pub fn new(s: &AuthSettings) -> anyhow::Result<Self> {
        let mut list = Vec::new();
        for (name, p) in [
            ("github", &s.github),
            ("google", &s.google),
            ("gitlab", &s.gitlab),
            ("oidc", &s.oidc),
        ] {
            if let Some(p) = p {
                list.push((name.to_owned(), p.clone()));
            }
        }
        Ok(Self { list })
    }
    /// Whether `name` is configured.
    pub fn enabled(&self, name: &str) -> bool {
        self.list.iter().any(|(n, _)| n == name)
    }
}

/// `GET /authorize`.
pub async fn authorize(_ctx: Ctx) -> Response {
    AuthError::bad_request(
        "validation_failed",
        "Unsupported provider: provider is not enabled",
    )
    .into_response()
}

/// `GET /callback`.
pub async fn callback(_ctx: Ctx) -> Response {
    AuthError::bad_request("validation_failed", "Unsupported provider").into_response()
}

/// `POST /callback`.
pub async fn callback_post(_ctx: Ctx) -> Response {
    AuthError::bad_request("validation_failed", "Unsupported provider").into_response()
}

/// `GET /user/identities/authorize`.
pub async fn link_identity(_user: AuthUser) -> AuthResult<Json<Value>> {
    Err(AuthError::bad_request(
        "validation_failed",
        "Unsupported provider: provider is not enabled",
    ))
}

/// `grant_type=id_token`.
pub async fn id_token_grant(_ctx: &Ctx, _body: &Value) -> AuthResult<Value> {
    Err(AuthError::bad_request(
        "validation_failed",
        "Custom OIDC provider not allowed",
    ))
}
