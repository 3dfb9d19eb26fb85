//! The data API's own connection (`madbase_rest::PgConn`): statements prepared once per shape
//! and answering alike, errors mid-pipeline leaving the connection clean, statement cache
//! bounds and resets, and a request abandoned mid-flight making the connection unusable.

mod postgres;

use bytes::Bytes;
use http::{HeaderMap, Method};
use madbase_pgconn::DbUrl;
use madbase_pgconn::testing::{SCRAM_USER, TlsServer};
use madbase_rest::wire::{MAX_STATEMENTS, Step};
use madbase_rest::{PgConn, RestRequest, RestSettings, SchemaCache};
use serde_json::{Value, json};
use tokio::sync::Mutex;

async fn open() -> (Mutex<PgConn>, SchemaCache) {
    let client = postgres::connect().await;
    let cache = SchemaCache::load(&client, &["public".to_string()], &[])
        .await
        .expect("schema cache");
    let config = DbUrl::parse(&postgres::url()).expect("url");
    let conn = PgConn::connect(&config).await.expect("connect");
    (Mutex::new(conn), cache)
}

async fn call(
    conn: &Mutex<PgConn>,
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
            claims: std::sync::Arc::new(madbase_rest::Claims::new(json!({"role": "anon"}))),
            jwt_time: None,
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
    let (conn, cache) = open().await;
    let url = "/items?select=id,name&id=eq.1&order=id";
    let (status, first) = call(&conn, &cache, "GET", url, "").await;
    assert_eq!(status, 200, "{first}");
    let after_first = conn.lock().await.prepared_count();
    assert_eq!(
        after_first, 2,
        "settings and main statement: a read needs no BEGIN or COMMIT"
    );
    let (_, again) = call(&conn, &cache, "GET", url, "").await;
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
        conn.lock().await.prepared_count(),
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
    let (status, sum) = call(&conn, &cache, "POST", "/rpc/add", r#"{"a": 2, "b": 40}"#).await;
    assert_eq!((status, sum), (200, json!(42)));
    assert!(conn.lock().await.is_usable());
}

/// Behind a pooler in transaction mode (PostgREST's `db-prepared-statements = false`):
/// the same answers, and nothing prepared is left on the server.
#[tokio::test]
async fn without_prepared_statements_nothing_is_kept_on_the_server() {
    let (prepared, cache) = open().await;
    let (unprepared, _) = open().await;
    unprepared.lock().await.set_prepared_statements(false);
    let requests = [
        ("GET", "/items?select=id,name&id=in.(1,2)&order=id", ""),
        ("GET", "/items?select=id,name&id=eq.abc", ""),
        ("POST", "/rpc/add", r#"{"a": 2, "b": 40}"#),
        ("GET", "/items?select=id,name&id=eq.1", ""),
    ];
    for (method, url, body) in requests {
        let want = call(&prepared, &cache, method, url, body).await;
        let got = call(&unprepared, &cache, method, url, body).await;
        assert_eq!(got, want, "{method} {url}");
    }
    // A write, its transaction and its representation.
    let (status, inserted) = call(
        &unprepared,
        &cache,
        "POST",
        "/items?select=id,name",
        r#"{"id": 2903, "name": "unprepared"}"#,
    )
    .await;
    assert_eq!(status, 201, "{inserted}");
    assert_eq!(inserted, json!([{"id": 2903, "name": "unprepared"}]));
    let mut c = unprepared.lock().await;
    assert_eq!(c.prepared_count(), 0);
    let rows = c
        .pipeline(&[Step::plain(
            "SELECT count(*)::text FROM pg_prepared_statements",
        )])
        .await
        .expect("count");
    assert_eq!(rows[0][0].text(0), Some("0"));
    assert!(c.is_usable());
    drop(c);
    // The same request on the prepared connection leaves its statements there.
    let mut c = prepared.lock().await;
    let rows = c
        .pipeline(&[Step::plain(
            "SELECT count(*)::text FROM pg_prepared_statements",
        )])
        .await
        .expect("count");
    assert_ne!(rows[0][0].text(0), Some("0"));
}

#[tokio::test]
async fn a_read_is_read_only_and_leaves_nothing_set_on_the_connection() {
    let (conn, cache) = open().await;
    let before = session_state(&conn).await;
    let (status, body) = call(&conn, &cache, "GET", "/items?select=id&limit=1", "").await;
    assert_eq!(status, 200, "{body}");
    // A read runs as its pipeline's implicit transaction: the role, the claims and the
    // read-only mode end with it.
    assert_eq!(session_state(&conn).await, before);
    assert_eq!(before[2], "off", "the connection itself is read-write");

    // A volatile function called by GET is refused by the database as a write in a read-only
    // transaction, and writes nothing.
    let (status, body) = call(&conn, &cache, "GET", "/rpc/add_item?item_name=ro-probe", "").await;
    assert_eq!((status, &body["code"]), (405, &json!("25006")), "{body}");
    let (_, rows) = call(&conn, &cache, "GET", "/items?name=eq.ro-probe", "").await;
    assert_eq!(rows, json!([]));
    assert_eq!(session_state(&conn).await, before);
}

/// The connection's role, claims setting and read-only mode, outside any request.
async fn session_state(conn: &Mutex<PgConn>) -> Vec<String> {
    let rows = conn
        .lock()
        .await
        .pipeline(&[Step::plain(
            "SELECT current_user::text, coalesce(current_setting('request.jwt.claims', true), ''), \
             current_setting('transaction_read_only')",
        )])
        .await
        .expect("state");
    let row = &rows[0][0];
    (0..3)
        .map(|i| row.text(i).unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn an_error_mid_pipeline_rolls_back_and_leaves_the_connection_clean() {
    let (conn, cache) = open().await;
    // An unknown column fails when the main statement is parsed; the request still gets
    // PostgreSQL's 42703, and the statements after it are not kept as prepared.
    let (status, body) = call(&conn, &cache, "GET", "/items?select=nope", "").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "42703");
    assert!(conn.lock().await.is_usable(), "no transaction left open");
    let (status, _) = call(&conn, &cache, "GET", "/items?select=id&limit=1", "").await;
    assert_eq!(status, 200);

    // A write that fails at execution (duplicate key) inside BEGIN … is rolled back.
    let row = r#"{"id": 2902, "name": "once"}"#;
    assert_eq!(call(&conn, &cache, "POST", "/items", row).await.0, 201);
    let (status, body) = call(&conn, &cache, "POST", "/items", row).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "23505");
    assert!(conn.lock().await.is_usable());
    let (status, rows) = call(&conn, &cache, "GET", "/items?select=id&id=eq.2902", "").await;
    assert_eq!(
        (status, rows),
        (200, json!([{"id": 2902}])),
        "exactly one row kept"
    );
    let mut c = conn.lock().await;
    let rows = c
        .pipeline(&[Step::plain("SELECT current_user::text AS who")])
        .await
        .expect("select");
    assert_eq!(
        rows[0][0].text(0),
        Some("authenticator"),
        "no role left set"
    );
    assert_eq!(rows[0][0].columns(), ["who"]);
}

#[tokio::test]
async fn values_are_bound_and_nulls_survive() {
    let (conn, _) = open().await;
    let mut c = conn.lock().await;
    let params = [Some("it's; DROP TABLE items".to_string()), None];
    let rows = c
        .pipeline(&[Step {
            text: "SELECT $1::text AS a, $2::text AS b, 'x' AS c",
            params: &params,
        }])
        .await
        .expect("select");
    let row = &rows[0][0];
    assert_eq!(row.text_named("a"), Ok(Some("it's; DROP TABLE items")));
    assert_eq!(row.text_named("b"), Ok(None));
    assert_eq!(row.text(2), Some("x"));
    assert!(row.text_named("missing").is_err());
}

#[tokio::test]
async fn the_statement_cache_is_bounded_and_can_be_reset() {
    let (conn, _) = open().await;
    let mut c = conn.lock().await;
    for i in 0..(MAX_STATEMENTS + 10) {
        let text = format!("SELECT {i} AS n");
        let rows = c.pipeline(&[Step::plain(&text)]).await.expect("select");
        assert_eq!(rows[0][0].text(0), Some(i.to_string().as_str()));
        assert!(c.prepared_count() <= MAX_STATEMENTS);
    }
    c.clear_statements();
    assert_eq!(c.prepared_count(), 0);
    // The next pipeline closes the old statements on the server and prepares afresh.
    let rows = c
        .pipeline(&[Step::plain("SELECT 1 AS n")])
        .await
        .expect("select");
    assert_eq!(rows[0][0].text(0), Some("1"));
    let rows = c
        .pipeline(&[Step::plain(
            "SELECT count(*)::text FROM pg_prepared_statements",
        )])
        .await
        .expect("count");
    assert_eq!(
        rows[0][0].text(0),
        Some("2"),
        "only the two live statements remain"
    );
}

#[tokio::test]
async fn a_request_abandoned_mid_flight_makes_the_connection_unusable_and_is_cancelled() {
    let (conn, _) = open().await;
    let mut c = conn.lock().await;
    let token = c.cancel_token();
    assert!(!token.is_busy());
    token.cancel_if_busy(); // idle: nothing is sent
    let steps = [Step::plain("SELECT pg_sleep(30) AS abandoned")];
    let slow = c.pipeline(&steps);
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(300), slow).await;
    assert!(timed_out.is_err(), "the sleep outlives the timeout");
    assert!(!c.is_usable(), "the pool must discard it");
    assert!(token.is_busy());

    let watcher = postgres::connect().await;
    let running = || async {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE state = 'active' AND query LIKE '%pg_sleep(30) AS abandoned%' \
                 AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get::<_, i64>(0)
    };
    assert_eq!(
        running().await,
        1,
        "the abandoned statement is still running"
    );
    token.cancel_if_busy();
    let mut left = 1;
    for _ in 0..50 {
        left = running().await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the cancel request stopped it");
}

/// The server process behind `c`.
async fn backend_pid(c: &mut PgConn) -> i32 {
    let rows = c
        .pipeline(&[Step::plain("SELECT pg_backend_pid()::text")])
        .await
        .expect("pid");
    rows[0][0]
        .text(0)
        .expect("a pid")
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn a_connection_the_server_ended_is_found_closed_before_use() {
    let (conn, _) = open().await;
    let mut c = conn.lock().await;
    let pid = backend_pid(&mut c).await;
    assert!(!c.closed_by_server(), "open and idle");
    assert!(c.is_usable());
    postgres::admin()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    let mut closed = false;
    for _ in 0..100 {
        if c.closed_by_server() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        closed,
        "the server's FATAL and close are seen without a request"
    );
    assert!(!c.is_usable(), "the pool must replace it");
}

#[tokio::test]
async fn a_statement_ended_by_the_server_reports_the_server_error() {
    let (conn, _) = open().await;
    let mut c = conn.lock().await;
    let pid = backend_pid(&mut c).await;
    let killer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        postgres::admin()
            .await
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .expect("terminate");
    });
    let e = c
        .pipeline(&[Step::plain("SELECT pg_sleep(10)")])
        .await
        .expect_err("terminated");
    killer.await.expect("killer");
    // PostgreSQL says why before it closes; that is the error, as PostgREST passes it on.
    assert_eq!(e.code, "57P01", "{e:?}");
    assert!(!c.is_usable());
}

#[tokio::test]
async fn bad_connection_settings_are_clear_errors() {
    let config = DbUrl::parse(&format!(
        "host=127.0.0.1 port={} user=nobody_here dbname=postgres",
        postgres::server().port
    ))
    .expect("url");
    let err = PgConn::connect(&config).await.expect_err("unknown role");
    assert!(err.to_string().contains("nobody_here"), "{err}");
    // The test server offers no TLS: a URL that requires it is refused, saying why.
    let config = DbUrl::parse(&format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
        postgres::server().port
    ))
    .expect("url");
    let err = PgConn::connect(&config).await.expect_err("tls");
    assert!(
        err.to_string()
            .contains("does not offer TLS, and sslmode=require requires it"),
        "{err}"
    );
}

/// A server that demands TLS, shared by the tests below.
async fn tls_server() -> &'static TlsServer {
    static SERVER: tokio::sync::OnceCell<TlsServer> = tokio::sync::OnceCell::const_new();
    SERVER
        .get_or_init(|| async { TlsServer::start().await.expect("TLS server") })
        .await
}

fn verified(server: &TlsServer, host: &str) -> DbUrl {
    let options = format!("sslmode=verify-full&sslrootcert={}", server.file("ca.pem"));
    DbUrl::parse(&server.url("postgres", host, "postgres", &options)).expect("url")
}

#[tokio::test]
async fn the_data_api_connection_speaks_tls() {
    let server = tls_server().await;
    let conn = Mutex::new(
        PgConn::connect(&verified(server, "localhost"))
            .await
            .expect("verified TLS connection"),
    );
    let mut c = conn.lock().await;
    // A pipelined request larger than one TLS record (16 KiB), and its answer.
    let params = [Some("x".repeat(100_000))];
    let rows = c
        .pipeline(&[Step {
            text: "SELECT ssl::text, length($1)::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            params: &params,
        }])
        .await
        .expect("query over TLS");
    assert_eq!(rows[0][0].text(0), Some("true"));
    assert_eq!(rows[0][0].text(1), Some("100000"));
    drop(c);
    // The name is checked: the certificate names only localhost.
    let err = PgConn::connect(&verified(server, "127.0.0.1"))
        .await
        .expect_err("wrong host name");
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

/// libpq's `target_session_attrs` over several hosts: a read-only server (a standby's
/// stand-in) and the test server.
#[tokio::test]
async fn target_session_attrs_picks_the_server_that_takes_writes() {
    let standby =
        madbase_pg::EmbeddedPostgres::start_scratch(&[("default_transaction_read_only", "on")])
            .await
            .expect("read-only server");
    let primary = postgres::server().port;
    let url = |ports: &str, attrs: &str| {
        DbUrl::parse(&format!(
            "host=127.0.0.1,127.0.0.1 port={ports} user=postgres dbname=postgres target_session_attrs={attrs}"
        ))
        .expect("url")
    };
    let both = format!("{},{primary}", standby.port());
    let port_of = |mut conn: PgConn| async move {
        let rows = conn
            .pipeline(&[Step::plain("SELECT current_setting('port')")])
            .await
            .expect("port");
        rows[0][0]
            .text(0)
            .expect("port")
            .parse::<u16>()
            .expect("number")
    };
    let conn = PgConn::connect(&url(&both, "read-write"))
        .await
        .expect("read-write");
    assert_eq!(port_of(conn).await, primary);
    let conn = PgConn::connect(&url(&both, "any")).await.expect("any");
    assert_eq!(
        port_of(conn).await,
        standby.port(),
        "the first that answers"
    );
    let reversed = format!("{primary},{}", standby.port());
    let conn = PgConn::connect(&url(&reversed, "read-only"))
        .await
        .expect("read-only");
    assert_eq!(port_of(conn).await, standby.port());
    // No server that takes writes: refused, saying why.
    let only_standby = format!("{0},{0}", standby.port());
    let err = PgConn::connect(&url(&only_standby, "read-write"))
        .await
        .expect_err("nothing writable");
    assert!(err.to_string().contains("does not allow writes"), "{err}");
    // load_balance_hosts=random spreads connections over both.
    let random = DbUrl::parse(&format!(
        "host=127.0.0.1,127.0.0.1 port={both} user=postgres dbname=postgres load_balance_hosts=random"
    ))
    .expect("url");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let conn = PgConn::connect(&random).await.expect("connect");
        seen.insert(port_of(conn).await);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    // host and hostaddr pair up by position.
    let err = PgConn::connect(
        &DbUrl::parse(&format!(
            "host=a,b hostaddr=127.0.0.1 port={primary} user=postgres dbname=postgres"
        ))
        .expect("url"),
    )
    .await
    .expect_err("unpaired");
    assert!(err.to_string().contains("pair up by position"), "{err}");
    let err = PgConn::connect(
        &DbUrl::parse("host=a,b port=1,2,3 user=postgres dbname=postgres").expect("url"),
    )
    .await
    .expect_err("three ports for two hosts");
    assert!(err.to_string().contains("2 hosts and 3 ports"), "{err}");
}

/// `hostaddr` is where to connect; `host` stays the name TLS checks.
#[tokio::test]
async fn hostaddr_is_dialled_and_host_is_the_name_tls_checks() {
    let server = tls_server().await;
    let url = |host: &str| {
        DbUrl::parse(&format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
            server.pg.port(),
            server.file("ca.pem")
        ))
        .expect("url")
    };
    PgConn::connect(&url("localhost"))
        .await
        .expect("the certificate names localhost");
    // A name that does not resolve is never looked up, and TLS still checks it.
    let err = PgConn::connect(&url("db.invalid"))
        .await
        .expect_err("name not in the certificate");
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

#[tokio::test]
async fn the_data_api_connection_binds_scram_to_the_tls_channel() {
    let server = tls_server().await;
    let ca = server.file("ca.pem");
    let (user, password) = SCRAM_USER;
    let url = |user: &str, options: &str| {
        DbUrl::parse(&format!(
            "postgres://{user}:{password}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}{options}",
            server.pg.port()
        ))
        .expect("url")
    };
    // `require` only passes a SCRAM-SHA-256-PLUS exchange, which the server checks against
    // its certificate's hash.
    for options in ["&channel_binding=require", "", "&channel_binding=disable"] {
        let mut conn = PgConn::connect(&url(user, options))
            .await
            .unwrap_or_else(|e| panic!("{options}: {e}"));
        let rows = conn
            .pipeline(&[Step::plain("SELECT current_user::text")])
            .await
            .expect("query");
        assert_eq!(rows[0][0].text(0), Some(user));
    }
    // A role let in without SCRAM (trust) cannot satisfy `require`.
    let err = PgConn::connect(&url("postgres", "&channel_binding=require"))
        .await
        .expect_err("no binding without SCRAM");
    assert!(err.to_string().contains("channel binding"), "{err}");
}

#[tokio::test]
async fn a_cancel_reaches_a_server_that_demands_tls() {
    let server = tls_server().await;
    let mut conn = PgConn::connect(&verified(server, "localhost"))
        .await
        .expect("connect");
    let token = conn.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        token.cancel_if_busy();
    });
    let started = std::time::Instant::now();
    let err = conn
        .pipeline(&[Step::plain("SELECT pg_sleep(20)")])
        .await
        .expect_err("cancelled");
    canceller.await.expect("canceller");
    assert_eq!(err.code, "57014", "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// Forwards one client connection to PostgreSQL and records the name of every statement the
/// client asks the server to parse (`Parse` messages), to see what a pooler would see.
async fn recording_proxy(upstream: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let names = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = names.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("accept");
        let server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
            .await
            .expect("upstream");
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        });
        // The startup message has no type byte: a length, then its body.
        let len = client_read.read_u32().await.expect("startup length") as usize;
        let mut body = vec![0; len - 4];
        client_read.read_exact(&mut body).await.expect("startup");
        server_write.write_u32(len as u32).await.expect("forward");
        server_write.write_all(&body).await.expect("forward");
        while let Ok(kind) = client_read.read_u8().await {
            let len = client_read.read_u32().await.expect("length") as usize;
            let mut body = vec![0; len - 4];
            client_read.read_exact(&mut body).await.expect("message");
            if kind == b'P' {
                let end = body.iter().position(|b| *b == 0).unwrap_or(0);
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&body[..end]).into_owned());
            }
            server_write.write_u8(kind).await.expect("forward");
            server_write.write_u32(len as u32).await.expect("forward");
            server_write.write_all(&body).await.expect("forward");
        }
    });
    (port, names)
}

/// The schema cache loads with unnamed statements only, each parsed and run in one round trip,
/// as a pooler in transaction mode needs: a named statement prepared in one transaction may
/// be gone (on another server connection) in the next.
#[tokio::test]
async fn the_schema_cache_loads_without_named_statements() {
    let (port, names) = recording_proxy(postgres::server().port).await;
    let (client, connection) =
        format!("host=127.0.0.1 port={port} user=authenticator dbname=postgres sslmode=disable")
            .parse::<tokio_postgres::Config>()
            .expect("url")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect through the proxy");
    tokio::spawn(connection);
    let cache = SchemaCache::load(&client, &["public".to_owned(), "api".to_owned()], &[])
        .await
        .expect("loads");
    assert!(cache.table("public", "items").is_some());
    let names = names.lock().expect("lock").clone();
    assert!(names.len() >= 8, "{names:?}");
    assert!(
        names.iter().all(String::is_empty),
        "named statements: {names:?}"
    );
}
