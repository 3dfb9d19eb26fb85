//! The test-side caller of `madbase_rest::handle`: one connection as the login role, a
//! loaded schema cache, and helpers that build requests like the data plane.

#![allow(dead_code)]

use super::postgres;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use madbase_rest::{Connection, RestRequest, RestSettings, SchemaCache};
use serde_json::{Value, json};

/// Calls `madbase_rest::handle` the way the data plane does, on its own connection by default.
pub struct Api<C = tokio::sync::Mutex<madbase_rest::PgConn>> {
    conn: C,
    cache: SchemaCache,
    settings: RestSettings,
}

/// A response with a text body.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// The body's bytes (`body` is their UTF-8 reading).
    pub raw: Bytes,
    /// The main statement's text, with `log_query` on.
    pub query: Option<String>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts a PostgREST error: this status and this `code`, the body in the message.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.json()["code"], code, "{}", self.body);
    }
}

/// Settings with both schemas exposed and every optional feature on.
pub fn settings() -> RestSettings {
    RestSettings {
        schemas: vec!["public".into(), "api".into()],
        plan_enabled: true,
        aggregates_enabled: true,
        tx_end: madbase_rest::DbTxEnd::CommitAllowOverride,
        ..RestSettings::default()
    }
}

impl Api {
    pub async fn new() -> Api {
        Api::with(settings()).await
    }

    pub async fn with(settings: RestSettings) -> Api {
        let config = madbase_pgconn::DbUrl::parse(&postgres::url()).expect("url");
        let conn = madbase_rest::PgConn::connect(&config)
            .await
            .expect("data API connection");
        Api::on_with(tokio::sync::Mutex::new(conn), settings).await
    }
}

/// For a test file that brings schema objects of its own: runs `sql` as the superuser once per
/// test process (`done` remembers it), then calls with `settings` on a fresh cache.
pub async fn with_schema(
    done: &'static tokio::sync::OnceCell<()>,
    sql: &'static str,
    settings: RestSettings,
) -> Api {
    done.get_or_init(|| async {
        postgres::admin()
            .await
            .batch_execute(sql)
            .await
            .expect("test schema loads");
    })
    .await;
    Api::with(settings).await
}

impl<C: Connection> Api<C> {
    /// The same calls on another connection (one that routes reads to lanes, say).
    pub async fn on(conn: C) -> Api<C> {
        Api::on_with(conn, settings()).await
    }

    async fn on_with(conn: C, settings: RestSettings) -> Api<C> {
        let client = postgres::connect().await;
        let cache = SchemaCache::load(&client, &settings.schemas, &settings.extra_search_path)
            .await
            .expect("schema cache loads");
        Api {
            conn,
            cache,
            settings,
        }
    }

    /// The connection the calls run on.
    pub fn conn(&self) -> &C {
        &self.conn
    }

    pub async fn req(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
        role: &str,
        claims: Value,
    ) -> Resp {
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url.to_string(), None),
        };
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let r = madbase_rest::handle(
            &self.cache,
            &self.settings,
            &self.conn,
            RestRequest {
                method: Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                query,
                headers: h,
                body: Bytes::from(body.to_string()),
                role: role.to_string(),
                claims: std::sync::Arc::new(madbase_rest::Claims::new(claims)),
                jwt_time: None,
            },
        )
        .await;
        Resp {
            status: r.status.as_u16(),
            headers: r.headers,
            body: String::from_utf8_lossy(&r.body).into_owned(),
            raw: r.body,
            query: r.query,
        }
    }

    /// A request as the anonymous role, without headers.
    pub async fn anon(&self, method: &str, url: &str, body: &str) -> Resp {
        self.req(method, url, &[], body, "anon", json!({"role": "anon"}))
            .await
    }

    pub async fn get(&self, url: &str) -> Resp {
        self.anon("GET", url, "").await
    }

    pub async fn get_h(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.req("GET", url, headers, "", "anon", json!({"role": "anon"}))
            .await
    }

    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        self.req(
            method,
            url,
            headers,
            body,
            "service_role",
            json!({"role": "service_role"}),
        )
        .await
    }
}

/// The `id` of every row of a JSON array.
pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}
