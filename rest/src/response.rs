//! Shapes the HTTP answer: status, `Content-Type`, `Content-Range`, `Preference-Applied`,
//! `Content-Profile`, and the overrides a query may set through the `response.status` and
//! `response.headers` settings.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use crate::error::RestError;
use madbase_config::ClientErrorVerbosity;

/// What [`crate::handle`] returns.
#[derive(Debug, Clone)]
pub struct RestResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body (empty for HEAD and for minimal returns).
    pub body: Bytes,
    /// The main statement's text, when `log-query` asks for it (for the caller to log).
    pub query: Option<String>,
    /// A reason phrase for the status line other than the status's usual one.
    pub reason: Option<String>,
}

impl RestResponse {
    /// A response with a body and content type.
    pub fn new(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Self {
        // Room for what a read sets (type, range, location, and a few more) without regrowing.
        let mut headers = HeaderMap::with_capacity(8);
        if let Ok(v) = HeaderValue::from_str(content_type) {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        RestResponse {
            status,
            headers,
            body: body.into(),
            query: None,
            reason: None,
        }
    }

    /// Sets a header, ignoring values that are not valid header text.
    /// `name` is a lower-case literal, so it needs no parsing or copy.
    pub fn header(&mut self, name: &'static str, value: &str) {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
    }

    /// The error's PostgREST body, status and headers.
    /// With [`ClientErrorVerbosity::Minimal`], only its `code` and `message`.
    pub fn from_error(e: &RestError, verbosity: ClientErrorVerbosity) -> Self {
        let mut body = match e {
            RestError::Raised { body, .. } => body.clone(),
            _ => e.body(),
        };
        if let (ClientErrorVerbosity::Minimal, Value::Object(fields)) = (verbosity, &mut body) {
            fields.retain(|k, _| k == "code" || k == "message");
        }
        RestResponse {
            status: e.status(),
            headers: e.headers(),
            body: Bytes::from(body.to_string()),
            query: None,
            reason: e.reason().map(str::to_string),
        }
    }

    /// Applies `response.status` / `response.headers` set by the query.
    pub fn apply_gucs(
        &mut self,
        status: Option<&str>,
        headers: Option<&str>,
    ) -> Result<(), RestError> {
        if let Some(h) = headers {
            let v: Value = serde_json::from_str(h).map_err(|_| RestError::ResponseHeaders)?;
            let Value::Array(items) = v else {
                return Err(RestError::ResponseHeaders);
            };
            // They replace the response's own headers of the same names; a name given twice
            // (two `Set-Cookie`s) is sent twice, as PostgREST sends them.
            let mut set: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(m) = item else {
                    return Err(RestError::ResponseHeaders);
                };
                if m.len() != 1 {
                    return Err(RestError::ResponseHeaders);
                }
                for (k, v) in m {
                    let Value::String(v) = v else {
                        return Err(RestError::ResponseHeaders);
                    };
                    let (Ok(n), Ok(val)) = (
                        HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(&v),
                    ) else {
                        return Err(RestError::ResponseHeaders);
                    };
                    set.push((n, val));
                }
            }
            for (n, _) in &set {
                self.headers.remove(n);
            }
            for (n, val) in set {
                self.headers.append(n, val);
            }
        }
        if let Some(s) = status {
            let code = s
                .trim()
                .parse::<u16>()
                .ok()
                .and_then(|n| StatusCode::from_u16(n).ok())
                .filter(|s| !s.is_informational())
                .ok_or(RestError::ResponseStatus)?;
            self.status = code;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gucs_override_status_and_headers() {
        let mut r = RestResponse::new(StatusCode::OK, "application/json", "[]");
        r.apply_gucs(
            Some("418"),
            Some(r#"[{"Cache-Control":"public"},{"X-A":"b"}]"#),
        )
        .expect("valid");
        assert_eq!(r.status.as_u16(), 418);
        assert_eq!(r.headers["cache-control"], "public");
    }

    #[test]
    fn bad_gucs_are_500() {
        let mut r = RestResponse::new(StatusCode::OK, "application/json", "[]");
        assert_eq!(
            r.apply_gucs(None, Some(r#"{"a":"b"}"#))
                .expect_err("bad")
                .code(),
            "PGRST111"
        );
        assert_eq!(
            r.apply_gucs(Some("abc"), None).expect_err("bad").code(),
            "PGRST112"
        );
    }
}
