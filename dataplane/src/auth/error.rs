//! GoTrue's error codes and bodies. Handlers return [`AuthError`]; the auth router's
//! [`render_errors`] middleware turns it into the body the client asked for: with
//! `X-Supabase-Api-Version: 2024-01-01` (what auth-js always sends) `{code, message}` and the
//! header echoed, otherwise the legacy `{code: <status>, error_code, msg}`. Internal detail is
//! logged once there, with the request id, and never sent.

use std::borrow::Cow;

use axum::Json;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

/// The API version auth-js sends; the only one that changes error bodies.
pub const API_VERSION_2024: &str = "2024-01-01";

/// An error as GoTrue reports it.
#[derive(Debug, Clone)]
pub struct AuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// GoTrue `error_code`.
    pub code: &'static str,
    /// Safe text for the client.
    pub message: Cow<'static, str>,
    /// `weak_password.reasons` for `weak_password`.
    pub weak_password: Option<Vec<&'static str>>,
    /// Detail for the log only.
    pub internal: Option<String>,
}

/// Shorthand for handler results.
pub type AuthResult<T> = Result<T, AuthError>;

impl AuthError {
    /// An error with status, code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            weak_password: None,
            internal: None,
        }
    }
    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 422.
    pub fn unprocessable(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// 403.
    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 429.
    pub fn too_many(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
    }
    /// 400 `validation_failed`.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("validation_failed", message)
    }
    /// 500 with the detail kept for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Unexpected failure, please check server logs for more information",
        );
        e.internal = Some(detail.to_string());
        e
    }
    /// 422 `weak_password` with GoTrue's reasons.
    pub fn weak_password(message: String, reasons: Vec<&'static str>) -> Self {
        let mut e = Self::unprocessable("weak_password", message);
        e.weak_password = Some(reasons);
        e
    }
    /// 400 `invalid_credentials` "Invalid login credentials".
    pub fn invalid_credentials() -> Self {
        Self::bad_request("invalid_credentials", "Invalid login credentials")
    }
    /// 403 `otp_expired` for codes.
    pub fn otp_expired() -> Self {
        Self::forbidden("otp_expired", "Token has expired or is invalid")
    }
    /// 403 `otp_expired` for links.
    pub fn link_expired() -> Self {
        Self::forbidden("otp_expired", "Email link is invalid or has expired")
    }
    /// 404 `user_not_found`.
    pub fn user_not_found() -> Self {
        Self::not_found("user_not_found", "User not found")
    }

    /// The body for a client that sent (or not) the 2024-01-01 API version.
    pub fn body(&self, versioned: bool, request_id: Option<&str>) -> Value {
        let mut body = if versioned {
            json!({"code": self.code, "message": self.message})
        } else {
            let mut b = json!({
                "code": self.status.as_u16(),
                "error_code": self.code,
                "msg": self.message,
            });
            if self.status.is_server_error()
                && let Some(id) = request_id
            {
                b["error_id"] = json!(id);
            }
            b
        };
        if let Some(reasons) = &self.weak_password {
            body["weak_password"] = json!({"reasons": reasons});
        }
        body
    }
}

impl From<tokio_postgres::Error> for AuthError {
    /// Database failures are internal: the client sees 500, the log the cause. Expected
    /// constraint violations are handled where they can happen, before this.
    fn from(e: tokio_postgres::Error) -> Self {
        AuthError::internal(format!("database: {e}"))
    }
}

impl From<deadpool_postgres::PoolError> for AuthError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        AuthError::internal(format!(
            "pool: {}",
            crate::server::project::describe_pool_error(&e)
        ))
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Whether the request asks for the 2024-01-01 error shape.
fn versioned(req: &Request) -> bool {
    req.headers()
        .get("x-supabase-api-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() >= API_VERSION_2024)
}

/// Renders [`AuthError`]s in the shape the client asked for and echoes the API version.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let versioned = versioned(&req);
    let request_id = req
        .extensions()
        .get::<crate::server::gateway::RequestId>()
        .map(|r| r.0.clone());
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions_mut().remove::<AuthError>() {
        if let Some(detail) = &err.internal {
            tracing::error!(code = err.code, detail = %detail, "auth request failed");
        }
        let mut fresh =
            (err.status, Json(err.body(versioned, request_id.as_deref()))).into_response();
        fresh
            .headers_mut()
            .insert("x-sb-error-code", HeaderValue::from_static(err.code));
        for (k, v) in resp.headers() {
            if k.as_str().starts_with("x-") || k == http::header::RETRY_AFTER {
                fresh.headers_mut().insert(k.clone(), v.clone());
            }
        }
        resp = fresh;
    }
    if versioned {
        resp.headers_mut().insert(
            "x-supabase-api-version",
            HeaderValue::from_static(API_VERSION_2024),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_and_legacy_bodies() {
        let e = AuthError::invalid_credentials();
        assert_eq!(
            e.body(true, None),
            json!({"code": "invalid_credentials", "message": "Invalid login credentials"})
        );
        assert_eq!(
            e.body(false, Some("r1")),
            json!({"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
        );
        let e = AuthError::internal("boom");
        assert_eq!(e.body(false, Some("r1"))["error_id"], "r1");
        assert!(!e.body(true, None).to_string().contains("boom"));
    }

    #[test]
    fn weak_password_carries_reasons() {
        let e = AuthError::weak_password("short".into(), vec!["length"]);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.body(true, None)["weak_password"]["reasons"],
            json!(["length"])
        );
        assert_eq!(e.body(false, None)["error_code"], "weak_password");
    }

    /// The wire table: each code GoTrue uses with its status, as MadBase raises it.
    #[test]
    fn error_table() {
        let table: Vec<(AuthError, u16, &str)> = vec![
            (AuthError::invalid_credentials(), 400, "invalid_credentials"),
            (AuthError::otp_expired(), 403, "otp_expired"),
            (AuthError::link_expired(), 403, "otp_expired"),
            (AuthError::user_not_found(), 404, "user_not_found"),
            (AuthError::validation("x"), 400, "validation_failed"),
            (AuthError::internal("x"), 500, "unexpected_failure"),
        ];
        for (e, status, code) in table {
            assert_eq!(e.status.as_u16(), status);
            assert_eq!(e.code, code);
        }
    }
}
