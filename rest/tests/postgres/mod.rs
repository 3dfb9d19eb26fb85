//! The PostgreSQL the rest crate's integration tests share: one scratch server per test process
//! (started by `madbase_pg`, stopped when the process exits), loaded with `fixture.sql` once,
//! reached by the data plane's login role `authenticator`.

// Each test binary uses the part it needs.
#![allow(dead_code)]

use std::sync::OnceLock;

use madbase_pg::EmbeddedPostgres;

/// Connection facts of the running server.
pub struct Server {
    pub port: u16,
    /// The superuser's connection settings, for tests that change the schema.
    pub admin: tokio_postgres::Config,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn start() -> Server {
    // Its own thread and runtime: callers are inside a test's runtime, which cannot block on
    // another future, and the server must outlive that runtime anyway.
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // Tests run in parallel, each with its own connections.
            let pg = EmbeddedPostgres::start_scratch(&[("max_connections", "200")])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            load_fixture(&pg).await;
            Server {
                port: pg.port(),
                admin: pg.config("postgres"),
            }
        })
    })
    .join()
    .expect("PostgreSQL start-up thread")
}

async fn load_fixture(pg: &EmbeddedPostgres) {
    let (client, conn) = pg
        .config("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as postgres");
    let handle = tokio::spawn(conn);
    client
        .batch_execute(include_str!("fixture.sql"))
        .await
        .expect("fixture loads");
    drop(client);
    let _ = handle.await;
}

/// The shared server, started on first use.
pub fn server() -> &'static Server {
    SERVER.get_or_init(start)
}

/// Connection settings of the data plane's login role.
pub fn url() -> String {
    format!(
        "host=127.0.0.1 port={} user=authenticator dbname=postgres",
        server().port
    )
}

/// A new connection as the data plane's login role.
pub async fn connect() -> tokio_postgres::Client {
    let (client, conn) = url()
        .parse::<tokio_postgres::Config>()
        .expect("url")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as authenticator");
    tokio::spawn(conn);
    client
}

/// A new connection as the superuser.
pub async fn admin() -> tokio_postgres::Client {
    let (client, conn) = server()
        .admin
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as postgres");
    tokio::spawn(conn);
    client
}
