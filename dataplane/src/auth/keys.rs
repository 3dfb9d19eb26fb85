//! `GET /.well-known/jwks.json`: the public halves of the project's asymmetric signing keys
//! (empty when only the legacy HS256 secret is used), cached by clients for ten minutes.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use super::Ctx;

/// `GET /.well-known/jwks.json`.
pub async fn jwks(ctx: Ctx) -> Response {
    let mut resp = Json(ctx.project.jwt.public_jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=600"),
    );
    resp
}
