//! The gateway in front of every API, doing what Supabase's Kong does plus what a production
//! service needs: request ids, one log line per request, metrics, CORS, project resolution and
//! the API-key check.
//!
//! Key check, as Supabase's gateway: `/auth/v1`, `/rest/v1` and `/realtime/v1` need an `apikey`
//! header (or query parameter) holding one of the project's keys, i.e. a JWT signed with the
//! project secret whose `role` is `anon` or `service_role`; the open auth routes (email links,
//! OAuth callbacks, JWKS) and `/storage/v1` do not. When a request has no `Authorization`, the
//! key is passed on as `Authorization: Bearer <key>`, so the APIs only ever see bearer tokens.
//! The query string is never logged: it may carry keys and tokens.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use madbase_rest::Claims;
use serde_json::json;
use tracing::Instrument as _;

use super::project::Projects;
use crate::metrics::api_of;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const DEFAULT_ALLOW_HEADERS: &str = "authorization, apikey, x-client-info, content-type, accept, accept-profile, content-profile, prefer, range, range-unit, x-supabase-api-version, x-retry-count, x-upsert, cache-control, x-metadata, x-request-id, tus-resumable, upload-length, upload-metadata, upload-offset";
const EXPOSE_HEADERS: &str = "Content-Encoding, Content-Location, Content-Range, Content-Type, Content-Length, Content-Profile, Date, Location, Range-Unit, Preference-Applied, X-Total-Count, Link, X-Supabase-Api-Version, ETag, Last-Modified, Upload-Offset, Tus-Resumable, X-Request-Id";

/// The id of the request being served, for handlers that want to report it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The API key the gateway verified and its claims, so a handler whose bearer token is the same
/// key (the usual case for anon and service-role requests) does not verify it a second time.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    /// The key as sent.
    pub token: String,
    /// Its verified claims (shared with the key cache).
    pub claims: Arc<Claims>,
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        // A v4 UUID from the thread's generator: `Uuid::new_v4` asks the kernel for every one.
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
}

/// Routes Supabase's gateway serves without a key.
fn key_exempt(path: &str) -> bool {
    const OPEN_AUTH: [&str; 6] = [
        "/auth/v1/verify",
        "/auth/v1/callback",
        "/auth/v1/authorize",
        "/auth/v1/.well-known/jwks.json",
        "/auth/v1/sso/saml/acs",
        "/auth/v1/sso/saml/metadata",
    ];
    let api = ["/auth/v1", "/rest/v1", "/realtime/v1"]
        .iter()
        .any(|p| crate::http::path_is_under(path, p));
    !api || OPEN_AUTH.contains(&path)
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn unauthorized(message: &str, hint: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": message, "hint": hint })),
    )
        .into_response()
}

fn preflight(headers: &HeaderMap) -> Response {
    let allow_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOW_HEADERS));
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// Whether a request from `origin` gets CORS headers: any origin when `allowed` is `None` (as
/// Supabase's gateway), else a listed one. A request without `Origin` is not a browser's
/// cross-origin call; it gets the open answer only when every origin is allowed.
fn cors_allowed(allowed: Option<&[String]>, origin: Option<&HeaderValue>) -> bool {
    match (allowed, origin) {
        (None, _) => true,
        (Some(list), Some(o)) => list.iter().any(|a| a.as_bytes() == o.as_bytes()),
        (Some(_), None) => false,
    }
}

/// CORS headers. With every origin allowed (no list) the answer is `*`, which browsers never
/// combine with credentials, as Supabase's gateway and PostgREST answer: echoing the origin
/// with `Access-Control-Allow-Credentials` would let any site read answers to requests
/// carrying the user's cookies. A listed origin is named back, with credentials.
fn add_cors(resp: &mut Response, origin: Option<HeaderValue>, listed: bool) {
    let h = resp.headers_mut();
    match origin.filter(|_| listed) {
        Some(o) => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The gateway middleware.
pub async fn gateway(State(projects): State<Arc<Projects>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(req.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let path = req.uri().path().to_owned();
        let api = api_of(&path);
        let origin = req.headers().get(header::ORIGIN).cloned();
        // A request refused here leaves its body unread, and the connection cannot carry
        // another request after it: the answer says so, or a client reusing the connection
        // would meet a reset instead.
        let unread_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        let project = projects.resolve(req.headers());
        let cors = cors_allowed(
            project
                .as_ref()
                .and_then(|p| p.settings.cors_allowed_origins.as_deref()),
            origin.as_ref(),
        );
        let mut resp = if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            if cors {
                preflight(req.headers())
            } else {
                // Not an allowed origin: the browser, finding no CORS headers, stops there.
                StatusCode::OK.into_response()
            }
        } else {
            match &project {
                None => (
                    StatusCode::NOT_FOUND,
                    Json(json!({"message": "no project with that reference is served here"})),
                )
                    .into_response(),
                Some(project) => match check_key(project, req) {
                    Ok(mut req) => {
                        req.extensions_mut().insert(project.clone());
                        req.extensions_mut().insert(RequestId(id.clone()));
                        next.run(req).await
                    }
                    Err(mut resp) => {
                        if unread_body {
                            resp.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        *resp
                    }
                },
            }
        };
        if cors {
            let listed = project
                .as_ref()
                .is_some_and(|p| p.settings.cors_allowed_origins.is_some());
            add_cors(&mut resp, origin, listed);
        }
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        let status = resp.status();
        let elapsed = started.elapsed();
        if let Some(p) = projects.resolve(&HeaderMap::new()).or(project) {
            p.metrics.observe(api, status.as_u16(), elapsed);
        }
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request");
        }
        resp
    }
    .instrument(span)
    .await
}

fn check_key(
    project: &super::project::ProjectContext,
    mut req: Request<Body>,
) -> Result<Request<Body>, Box<Response>> {
    let path = req.uri().path();
    if key_exempt(path) {
        return Ok(req);
    }
    let key = req
        .headers()
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(req.uri().query(), "apikey"))
        .map(str::to_owned);
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        if project.settings.require_apikey {
            return Err(Box::new(unauthorized(
                "No API key found in request",
                "No `apikey` request header or url param was found.",
            )));
        }
        return Ok(req);
    };
    let claims = project.api_keys.get(&key).or_else(|| {
        let claims = project.jwt.verify(&key).ok().filter(|claims| {
            claims
                .get("role")
                .and_then(|r| r.as_str())
                .is_some_and(|role| role == "anon" || role == "service_role")
        })?;
        let claims = Arc::new(Claims::new(claims));
        project.api_keys.put(&key, &claims);
        Some(claims)
    });
    let Some(claims) = claims else {
        if project.settings.require_apikey {
            return Err(Box::new(unauthorized(
                "Invalid API key",
                "Double check your Supabase `anon` or `service_role` API key.",
            )));
        }
        return Ok(req);
    };
    if !req.headers().contains_key(header::AUTHORIZATION)
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}"))
    {
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    // Supabase's gateway hides the key from the data API: an `apikey` URL parameter would
    // otherwise be read as a filter on a column of that name.
    if crate::http::path_is_under(req.uri().path(), "/rest/v1")
        && let Some(uri) = without_query_param(req.uri(), "apikey")
    {
        *req.uri_mut() = uri;
    }
    req.extensions_mut()
        .insert(VerifiedKey { token: key, claims });
    Ok(req)
}

/// `uri` without its `name=…` query parameters; `None` when it has none.
fn without_query_param(uri: &http::Uri, name: &str) -> Option<http::Uri> {
    let query = uri.query()?;
    let is_it = |kv: &&str| kv.split('=').next() == Some(name);
    if !query.split('&').any(|kv| is_it(&kv)) {
        return None;
    }
    let kept: Vec<&str> = query.split('&').filter(|kv| !is_it(kv)).collect();
    let path_and_query = match kept.is_empty() {
        true => uri.path().to_owned(),
        false => format!("{}?{}", uri.path(), kept.join("&")),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_cors_when_a_list_is_set() {
        let list = vec![
            "https://app.example.com".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        let origin = |o: &str| HeaderValue::from_str(o).expect("header");
        assert!(cors_allowed(None, Some(&origin("https://evil.example"))));
        assert!(cors_allowed(None, None));
        assert!(cors_allowed(
            Some(&list),
            Some(&origin("http://localhost:3000"))
        ));
        assert!(!cors_allowed(
            Some(&list),
            Some(&origin("http://localhost:3001"))
        ));
        assert!(!cors_allowed(
            Some(&list),
            Some(&origin("https://APP.example.com"))
        ));
        assert!(!cors_allowed(Some(&list), None));
    }

    #[test]
    fn the_apikey_parameter_is_taken_out_of_the_query() {
        let strip = |u: &str| {
            without_query_param(&u.parse().expect("uri"), "apikey").map(|u| u.to_string())
        };
        assert_eq!(
            strip("/rest/v1/t?select=id&apikey=k&id=eq.1").as_deref(),
            Some("/rest/v1/t?select=id&id=eq.1")
        );
        assert_eq!(strip("/rest/v1/t?apikey=k").as_deref(), Some("/rest/v1/t"));
        assert_eq!(strip("/rest/v1/t?apikey").as_deref(), Some("/rest/v1/t"));
        assert_eq!(strip("/rest/v1/t?apikeys=1&id=eq.1"), None);
        assert_eq!(strip("/rest/v1/t"), None);
    }

    #[test]
    fn open_routes_need_no_key() {
        assert!(key_exempt("/auth/v1/verify"));
        assert!(key_exempt("/auth/v1/.well-known/jwks.json"));
        assert!(key_exempt("/storage/v1/object/public/a/b"));
        assert!(key_exempt("/health"));
        assert!(!key_exempt("/auth/v1/token"));
        assert!(!key_exempt("/rest/v1"));
        assert!(!key_exempt("/rest/v1/todos"));
        assert!(!key_exempt("/realtime/v1/websocket"));
        assert!(!key_exempt("/auth/v1/verify/../token"));
    }

    #[test]
    fn request_ids_are_kept_or_generated() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_eq!(request_id(&h).len(), 36);
    }

    #[test]
    fn apikey_query_parameter_is_found() {
        assert_eq!(query_param(Some("vsn=2.0.0&apikey=k"), "apikey"), Some("k"));
        assert_eq!(query_param(Some("xapikey=k"), "apikey"), None);
        assert_eq!(query_param(None, "apikey"), None);
    }
}
