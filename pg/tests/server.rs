//! The embedded PostgreSQL against the machine's real server binaries: `madbase dev`'s server
//! (password over TCP, trust on its socket, restart on the same data), scratch servers for
//! tests, and the errors a user meets.

use std::os::unix::fs::PermissionsExt as _;

use madbase_pg::{EmbeddedPostgres, PgError, PgOptions};

async fn show(
    config: &tokio_postgres::Config,
    setting: &str,
) -> Result<String, tokio_postgres::Error> {
    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let row = client.query_one(&format!("SHOW {setting}"), &[]).await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn a_dev_server_asks_tcp_clients_for_the_password_and_keeps_its_data_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // When we are root the server runs as `postgres`, which must reach the data dir inside.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let opts = PgOptions {
        data_dir: dir.path().join("postgres"),
        log_file: dir.path().join("postgres.log"),
        port: None,
        password: "s3cret-pass".into(),
    };
    let pg = EmbeddedPostgres::start(&opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        show(&pg.config("postgres"), "wal_level")
            .await
            .expect("show"),
        "logical"
    );
    // Supabase's locale where the system has it: Unicode case mapping, byte-order sorting.
    let (client, conn) = pg
        .config("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT datcollate::text, upper('são'), 'SÃO' ILIKE '%são%'
             FROM pg_database WHERE datname = 'postgres'",
            &[],
        )
        .await
        .expect("locale");
    if row.get::<_, String>(0) == "C.UTF-8" {
        assert_eq!(row.get::<_, String>(1), "SÃO");
        assert!(row.get::<_, bool>(2));
    } else {
        assert_eq!(row.get::<_, String>(0), "C", "the fallback");
    }
    let mut no_password = pg.config("postgres");
    no_password.password("");
    assert!(
        show(&no_password, "wal_level").await.is_err(),
        "TCP without the password"
    );
    let by_url: tokio_postgres::Config = pg.url("postgres").parse().expect("url");
    show(&by_url, "port").await.expect("the URL logs in");
    let local_url = pg.local_url("postgres");
    assert!(
        local_url.contains("?host=/"),
        "a short data dir gets the socket: {local_url}"
    );
    let by_socket: tokio_postgres::Config = local_url.parse().expect("local url");
    show(&by_socket, "port")
        .await
        .expect("the socket URL logs in");
    let port = pg.port();
    pg.stop().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(show(&by_url, "port").await.is_err(), "stopped");

    let again = PgOptions {
        port: Some(port),
        ..opts
    };
    let pg = EmbeddedPostgres::start(&again)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pg.port(), port, "the preferred port, free again");
    show(&by_url, "port")
        .await
        .expect("same data, same password");
    pg.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_scratch_server_trusts_everyone_and_takes_extra_settings() {
    let pg = EmbeddedPostgres::start_scratch(&[("max_connections", "123")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = pg.config("postgres");
    config.password("not the password");
    assert_eq!(show(&config, "fsync").await.expect("trusted"), "off");
    assert_eq!(show(&config, "max_connections").await.expect("show"), "123");
}

#[tokio::test]
async fn a_server_that_will_not_start_is_an_error_with_its_log() {
    let err = EmbeddedPostgres::start_scratch(&[("no_such_setting", "1")])
        .await
        .expect_err("unknown setting");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            PgError::Step {
                step: "starting PostgreSQL",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("the server exited"), "{text}");
    assert!(text.contains("no_such_setting"), "the log tail: {text}");
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("file");
    let err = EmbeddedPostgres::start(&PgOptions {
        data_dir: file.join("postgres"),
        log_file: dir.path().join("postgres.log"),
        port: None,
        password: "pw".into(),
    })
    .await
    .expect_err("a file is in the way");
    assert!(matches!(err, PgError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with("creating "), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}
