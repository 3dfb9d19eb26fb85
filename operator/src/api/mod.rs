//! The control-plane API served by `madbase-operator run`: create, list, read, update and delete
//! projects and read their API keys over HTTP, for platforms that provision MadBase projects
//! without talking to Kubernetes directly.
//!
//! It writes `MadBaseProject` resources with its own field manager (`madbase-control-plane`) and
//! only ever reads status and the keys Secret; the operator remains the only writer of status.
//! Every request needs `Authorization: Bearer <admin token>`, compared in constant time.

mod openapi;
mod projects;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kube::Client;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Field manager of the control plane's writes.
pub const FIELD_MANAGER: &str = "madbase-control-plane";

/// State shared by the API's handlers.
#[derive(Clone)]
pub struct ApiState {
    /// Kubernetes client.
    pub client: Client,
    /// Namespace where the control plane keeps projects.
    pub namespace: String,
    /// SHA-256 of the admin token (comparing digests keeps the comparison length-independent).
    token_digest: [u8; 32],
}

impl ApiState {
    /// State for `namespace`, authenticated by `admin_token`.
    pub fn new(client: Client, namespace: impl Into<String>, admin_token: &str) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            token_digest: digest(admin_token),
        }
    }

    fn authorized(&self, presented: &str) -> bool {
        digest(presented)[..].ct_eq(&self.token_digest[..]).into()
    }
}

fn digest(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(text.as_bytes()));
    out
}

/// One problem with a request, named by its JSON path.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path in the request body, e.g. `spec.database`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// An API error: status code and a JSON body `{"error", "message", "details"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldError>,
}

impl ApiError {
    /// An error without field details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 422 with field details.
    pub fn invalid(details: Vec<FieldError>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_request",
            message: "the request is invalid".into(),
            details,
        }
    }

    fn from_kube(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) if s.code == 404 => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "project not found")
            }
            kube::Error::Api(s) if s.code == 409 => {
                Self::new(StatusCode::CONFLICT, "conflict", s.message)
            }
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                s.message,
            ),
            other => {
                tracing::error!(error = %other, "Kubernetes API call failed");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    "the Kubernetes API is unavailable",
                )
            }
        }
    }
}

impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        Self::from_kube(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
            details: &'a [FieldError],
        }
        (
            self.status,
            Json(Body {
                error: self.code,
                message: &self.message,
                details: &self.details,
            }),
        )
            .into_response()
    }
}

async fn authenticate(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if state.authorized(token) => next.run(request).await,
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin token is required (Authorization: Bearer …)",
        )
        .into_response(),
    }
}

/// The control-plane router.
pub fn router(state: ApiState) -> Router {
    let state = Arc::new(state);
    let protected = projects::router()
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state);
    Router::new()
        .route("/v1/openapi.json", get(openapi::document))
        .merge(protected)
}
