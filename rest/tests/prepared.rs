//! Connections that cache prepared statements (as the data plane's pooled ones do): the same
//! responses as unnamed statements, each statement shape prepared once, and a statement that
//! cannot be prepared outside the request's transaction still answering as PostgREST does.

mod postgres;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Method};
use madbase_rest::{Connection, PrepareFuture, RestRequest, RestSettings, SchemaCache};
use serde_json::{Value, json};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

struct Caching {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
    prepares: AtomicUsize,
}

impl Connection for Caching {
    fn client(&self) -> &Client {
        &self.client
    }

    fn prepare_cached<'a>(&'a self, sql: &'a str, types: &'a [Type]) -> Option<PrepareFuture<'a>> {
        Some(Box::pin(async move {
            if let Some(s) = self.statements.lock().expect("lock").get(sql) {
                return Ok(s.clone());
            }
            self.prepares.fetch_add(1, Ordering::SeqCst);
            let s = self.client.prepare_typed(sql, types).await?;
            self.statements
                .lock()
                .expect("lock")
                .insert(sql.to_string(), s.clone());
            Ok(s)
        }))
    }
}

async fn call(
    conn: &Caching,
    cache: &SchemaCache,
    method: &str,
    url: &str,
    body: &str,
) -> (u16, Value) {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (url.to_string(), None),
    };
    let mut headers = HeaderMap::new();
    headers.insert("prefer", "return=representation".parse().expect("header"));
    let r = madbase_rest::handle(
        cache,
        &RestSettings::default(),
        conn,
        RestRequest {
            method: Method::from_bytes(method.as_bytes()).expect("method"),
            path,
            query,
            headers,
            body: Bytes::from(body.to_string()),
            role: "anon".into(),
            claims: json!({"role": "anon"}),
        },
    )
    .await;
    let text = String::from_utf8(r.body.to_vec()).expect("utf8");
    (
        r.status.as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn statements_are_prepared_once_per_shape_and_answer_alike() {
    let client = postgres::connect().await;
    let cache = SchemaCache::load(&client, &["public".to_string()])
        .await
        .expect("schema cache");
    let conn = Caching {
        client,
        statements: Mutex::default(),
        prepares: AtomicUsize::new(0),
    };

    let (status, first) = call(
        &conn,
        &cache,
        "GET",
        "/items?select=id,name&id=eq.1&order=id",
        "",
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let after_first = conn.prepares.load(Ordering::SeqCst);
    assert_eq!(after_first, 2, "settings and main statement");
    let (_, again) = call(
        &conn,
        &cache,
        "GET",
        "/items?select=id,name&id=eq.1&order=id",
        "",
    )
    .await;
    assert_eq!(again, first);
    let (_, other_id) = call(
        &conn,
        &cache,
        "GET",
        "/items?select=id,name&id=eq.2&order=id",
        "",
    )
    .await;
    assert!(other_id.is_array());
    assert_eq!(
        conn.prepares.load(Ordering::SeqCst),
        after_first,
        "same shapes, no new prepares"
    );

    let (status, inserted) = call(
        &conn,
        &cache,
        "POST",
        "/items?select=id,name",
        r#"{"id": 2901, "name": "cached"}"#,
    )
    .await;
    assert_eq!(status, 201, "{inserted}");
    assert_eq!(inserted, json!([{"id": 2901, "name": "cached"}]));
    let (status, bumped) = call(&conn, &cache, "POST", "/rpc/add", r#"{"a": 2, "b": 40}"#).await;
    assert_eq!((status, bumped), (200, json!(42)));
}

#[tokio::test]
async fn errors_are_the_same_when_a_statement_cannot_be_prepared() {
    let client = postgres::connect().await;
    let cache = SchemaCache::load(&client, &["public".to_string()])
        .await
        .expect("schema cache");
    let conn = Caching {
        client,
        statements: Mutex::default(),
        prepares: AtomicUsize::new(0),
    };
    // An unknown column fails at prepare time; the request still gets PostgreSQL's 42703.
    let (status, body) = call(&conn, &cache, "GET", "/items?select=nope", "").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "42703");
    // And the connection is usable afterwards (no transaction left open).
    let (status, _) = call(&conn, &cache, "GET", "/items?select=id&limit=1", "").await;
    assert_eq!(status, 200);
}
