//! `501 Not Implemented` answers, in each peer's own error shape, for API routes MadBase does
//! not serve yet. Never a fake success: a client sees plainly that the feature is missing.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

/// GoTrue's error shape (`X-Supabase-Api-Version: 2024-01-01`).
pub fn auth(what: &str) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({
            "code": 501,
            "error_code": "not_implemented",
            "msg": format!("{what} is not implemented by this MadBase version"),
        })),
    )
        .into_response()
}

/// Supabase Storage's error shape.
pub fn storage(what: &str) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({
            "statusCode": "501",
            "error": "not_implemented",
            "message": format!("{what} is not implemented by this MadBase version"),
        })),
    )
        .into_response()
}

/// Realtime's and the gateway's plain `{message}` shape.
pub fn message(what: &str) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({
            "message": format!("{what} is not implemented by this MadBase version"),
        })),
    )
        .into_response()
}
