//! TLS to a real PostgreSQL that demands it: every `sslmode`, root and client certificates,
//! and what is refused.

use madbase_pgconn::testing::{CERT_USER, SCRAM_USER, TlsServer};
use madbase_pgconn::{DbUrl, SslMode};
use tokio::sync::OnceCell;

async fn server() -> &'static TlsServer {
    static SERVER: OnceCell<TlsServer> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async { TlsServer::start().await.expect("TLS server") })
        .await
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let url = DbUrl::parse(url).map_err(|e| e.to_string())?;
    let (client, connection) = url.connect().await.map_err(|e| describe(&e))?;
    tokio::spawn(connection);
    Ok(client)
}

fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// Whether this session is encrypted, asked of the server.
async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn every_mode_that_allows_tls_connects_encrypted() {
    let s = server().await;
    let ca = s.file("ca.pem");
    for (host, options) in [
        ("127.0.0.1", String::new()),
        ("127.0.0.1", "sslmode=prefer".to_owned()),
        ("127.0.0.1", "sslmode=allow".to_owned()),
        ("127.0.0.1", "sslmode=require".to_owned()),
        ("127.0.0.1", format!("sslmode=require&sslrootcert={ca}")),
        // verify-ca checks the chain, not the name: 127.0.0.1 is not in the certificate.
        ("127.0.0.1", format!("sslmode=verify-ca&sslrootcert={ca}")),
        ("localhost", format!("sslmode=verify-full&sslrootcert={ca}")),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}&sslsni=0"),
        ),
    ] {
        let url = s.url("postgres", host, "postgres", &options);
        let client = connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{options}: {e}"));
        assert!(encrypted(&client).await, "{options}");
    }
}

#[tokio::test]
async fn unix_sockets_never_use_tls_whatever_sslmode_says() {
    let s = server().await;
    let local = s.pg.local_url("postgres");
    if !local.contains("host=") {
        eprintln!("skipped: the server has no Unix socket (its data directory path is too long)");
        return;
    }
    let client = connect(&format!("{local}&sslmode=require"))
        .await
        .expect("require over a Unix socket, as libpq");
    assert!(!encrypted(&client).await);
}

#[tokio::test]
async fn the_server_refuses_plain_connections() {
    // Proves the fixture: without TLS nothing gets in.
    let s = server().await;
    let err = connect(&s.url("postgres", "127.0.0.1", "postgres", "sslmode=disable"))
        .await
        .expect_err("plain");
    assert!(
        err.contains("no encryption") || err.contains("pg_hba.conf"),
        "{err}"
    );
}

#[tokio::test]
async fn certificates_that_do_not_check_out_are_refused() {
    let s = server().await;
    let (ca, other) = (s.file("ca.pem"), s.file("other-ca.pem"));
    for (host, options, needle) in [
        // The name is checked under verify-full: the certificate names only localhost.
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            "not valid for name",
        ),
        // A chain to another root fails in every mode that checks it.
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={other}"),
            "UnknownIssuer",
        ),
        (
            "localhost",
            format!("sslmode=verify-ca&sslrootcert={other}"),
            "UnknownIssuer",
        ),
        (
            "localhost",
            format!("sslmode=require&sslrootcert={other}"),
            "UnknownIssuer",
        ),
    ] {
        let err = connect(&s.url("postgres", host, "postgres", &options))
            .await
            .expect_err(&options);
        assert!(err.contains(needle), "{options}: {err}");
    }
}

#[tokio::test]
async fn a_client_certificate_authenticates_its_role() {
    let s = server().await;
    let ca = s.file("ca.pem");
    let with = |cert: &str, key: &str| {
        s.url(
            CERT_USER,
            "localhost",
            "postgres",
            &format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
                s.file(cert),
                s.file(key)
            ),
        )
    };
    let client = connect(&with("client.crt", "client.key"))
        .await
        .expect("certificate login");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(who, CERT_USER);
    // Without a certificate, or with one the server's CA did not sign, the role is refused.
    let bare = s.url(
        CERT_USER,
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert!(connect(&bare).await.is_err(), "no certificate");
    assert!(
        connect(&with("stranger.crt", "stranger.key"))
            .await
            .is_err(),
        "a stranger's certificate"
    );
    // A key others may read is refused before any connection, as libpq does.
    let shared = s.dir().join("shared.key");
    std::fs::copy(s.file("client.key"), &shared).expect("copy");
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let url = s.url(
        CERT_USER,
        "localhost",
        "postgres",
        &format!(
            "sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
            s.file("client.crt"),
            shared.display()
        ),
    );
    let err = connect(&url).await.expect_err("readable key");
    assert!(err.contains("group or world access"), "{err}");
}

#[tokio::test]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let plain = madbase_pg::EmbeddedPostgres::start_scratch(&[])
        .await
        .expect("plain server");
    let url = |options: &str| {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{options}",
            plain.port()
        )
    };
    for mode in ["require", "verify-ca", "verify-full"] {
        let options = format!(
            "sslmode={mode}&sslrootcert={}",
            server().await.file("ca.pem")
        );
        let err = connect(&url(&options)).await.expect_err(mode);
        assert!(
            err.to_lowercase().contains("tls") || err.contains("SSL"),
            "{mode}: {err}"
        );
    }
    // prefer falls back to plain, as libpq's default does.
    let client = connect(&url("sslmode=prefer")).await.expect("prefer");
    assert!(!encrypted(&client).await);
}

#[tokio::test]
async fn negotiate_speaks_the_ssl_request_itself() {
    let s = server().await;
    let ca = s.file("ca.pem");
    let url = DbUrl::parse(&s.url(
        "postgres",
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .expect("url");
    assert_eq!(url.tls().mode(), SslMode::VerifyFull);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.pg.port()))
        .await
        .expect("tcp");
    let stream = url
        .tls()
        .negotiate(tcp, "localhost")
        .await
        .expect("negotiated");
    assert!(stream.is_tls());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.pg.port()))
        .await
        .expect("tcp");
    let err = url
        .tls()
        .negotiate(tcp, "127.0.0.1")
        .await
        .expect_err("wrong name");
    assert!(describe(&err).contains("not valid for name"), "{err}");
}

#[tokio::test]
async fn scram_binds_to_the_tls_channel() {
    let s = server().await;
    let ca = s.file("ca.pem");
    let (user, password) = SCRAM_USER;
    let url = |options: &str| {
        format!(
            "postgres://{user}:{password}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}{options}",
            s.pg.port()
        )
    };
    // `require` fails unless SCRAM-SHA-256-PLUS was used with the certificate's hash.
    for options in ["&channel_binding=require", "", "&channel_binding=disable"] {
        let client = connect(&url(options))
            .await
            .unwrap_or_else(|e| panic!("{options}: {e}"));
        assert!(encrypted(&client).await);
    }
    let wrong = format!(
        "postgres://{user}:nope@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}&channel_binding=require",
        s.pg.port()
    );
    assert!(connect(&wrong).await.is_err(), "a wrong password");
    // A role authenticated without SCRAM cannot satisfy `require`.
    let trusted = s.url(
        "postgres",
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
    );
    let err = connect(&trusted)
        .await
        .expect_err("trust auth has no binding");
    assert!(err.contains("channel binding"), "{err}");
}

#[tokio::test]
async fn roots_held_in_memory_verify_the_server_unless_the_url_names_its_own() {
    let s = server().await;
    let ca = std::fs::read(s.file("ca.pem")).expect("CA file");
    let mode = |name: &str| (name == "PGSSLMODE").then(|| "verify-full".to_owned());
    let url = s.url("postgres", "localhost", "postgres", "");
    let parsed = DbUrl::parse_with_roots(&url, &mode, &ca, "the project's CA").expect("parses");
    let (client, connection) = parsed.connect().await.expect("verified against the bundle");
    tokio::spawn(connection);
    assert!(encrypted(&client).await);

    // Another CA's bundle: the server is not trusted, and the error says why.
    let other = madbase_pgconn::testing::TestCa::new("someone else");
    let parsed = DbUrl::parse_with_roots(&url, &mode, other.pem.as_bytes(), "the project's CA")
        .expect("parses");
    let err = parsed.connect().await.err().expect("refused");
    assert!(
        describe(&err).contains("UnknownIssuer"),
        "{}",
        describe(&err)
    );

    // A URL's own sslrootcert wins over the bundle.
    let own = s.url(
        "postgres",
        "localhost",
        "postgres",
        &format!("sslrootcert={}", s.file("ca.pem")),
    );
    let parsed = DbUrl::parse_with_roots(&own, &mode, other.pem.as_bytes(), "the project's CA")
        .expect("parses");
    let (client, connection) = parsed.connect().await.expect("the URL's own roots");
    tokio::spawn(connection);
    assert!(encrypted(&client).await);

    // A bundle without a certificate is refused when parsed, named by its label.
    let err = DbUrl::parse_with_roots(&url, &mode, b"not a certificate", "the project's CA")
        .expect_err("empty bundle");
    assert!(err.to_string().contains("the project's CA"), "{err}");
}

#[tokio::test]
async fn revocation_lists_refuse_a_revoked_server_certificate() {
    let s = server().await;
    let ca = s.file("ca.pem");
    let url = |options: String| s.url("postgres", "localhost", "postgres", &options);
    // A list that revokes another certificate: the server's passes, in every checking mode.
    for mode in ["verify-full", "verify-ca", "require"] {
        let options = format!(
            "sslmode={mode}&sslrootcert={ca}&sslcrl={}",
            s.file("clean.crl")
        );
        let client = connect(&url(options)).await.expect(mode);
        assert!(encrypted(&client).await);
    }
    for (options, needle) in [
        // The server's certificate revoked, by file or by directory.
        (
            format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcrl={}",
                s.file("revoked.crl")
            ),
            "Revoked",
        ),
        (
            format!(
                "sslmode=verify-ca&sslrootcert={ca}&sslcrldir={}",
                s.file("crl-dir")
            ),
            "Revoked",
        ),
        (
            format!(
                "sslmode=require&sslrootcert={ca}&sslcrl={}",
                s.file("revoked.crl")
            ),
            "Revoked",
        ),
        // A list past its next update, and lists that do not cover the server's issuer.
        (
            format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcrl={}",
                s.file("expired.crl")
            ),
            "revocation list expired",
        ),
        (
            format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcrl={}",
                s.file("other-ca.crl")
            ),
            "UnknownRevocationStatus",
        ),
    ] {
        let err = connect(&url(options.clone())).await.expect_err(&options);
        assert!(err.contains(needle), "{options}: {err}");
    }
    // Lists that are named but cannot be used are errors of the URL, before any connection.
    for (options, needle) in [
        (
            "sslcrl=/no/such/list.crl".to_owned(),
            "sslcrl /no/such/list.crl",
        ),
        (format!("sslcrl={ca}"), "no PEM certificate revocation list"),
        (
            "sslcrldir=/no/such/dir".to_owned(),
            "sslcrldir /no/such/dir",
        ),
        (
            format!("sslcrldir={}", s.dir().display()),
            "no revocation list in it",
        ),
    ] {
        let err = DbUrl::parse(&url(format!(
            "sslmode=verify-full&sslrootcert={ca}&{options}"
        )))
        .expect_err(&options)
        .to_string();
        assert!(err.contains(needle), "{options}: {err}");
    }
    // Lists held in memory stand in for an `sslcrl` file: alone, or beside an `sslcrldir`
    // (where, as with a file, the first list for an issuer is the one checked).
    let list = |name: &str| std::fs::read(s.file(name)).expect("list");
    let (clean, revoked) = (list("clean.crl"), list("revoked.crl"));
    let no_env = |_: &str| None;
    for (options, pem, refused) in [
        (
            format!("sslmode=verify-full&sslrootcert={ca}"),
            &clean,
            false,
        ),
        (
            format!("sslmode=verify-full&sslrootcert={ca}"),
            &revoked,
            true,
        ),
        (
            format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcrldir={}",
                s.file("crl-dir")
            ),
            &revoked,
            true,
        ),
    ] {
        let memory = madbase_pgconn::InMemoryTls {
            roots: None,
            crls: Some((pem.as_slice(), "the project's lists")),
        };
        let parsed =
            DbUrl::parse_with_memory(&url(options.clone()), &no_env, &memory).expect(&options);
        match parsed.connect().await {
            Ok((_, connection)) => {
                assert!(!refused, "{options}: connected");
                drop(connection);
            }
            Err(e) => {
                assert!(refused, "{options}: {}", describe(&e));
                assert!(
                    describe(&e).contains("Revoked"),
                    "{options}: {}",
                    describe(&e)
                );
            }
        }
    }
}
