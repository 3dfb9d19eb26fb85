//! `shared` mode against a real PostgreSQL started privately by the test (from `pg_config
//! --bindir` or /usr/lib/postgresql/*/bin, on a free loopback port, as the `postgres` OS user when
//! running as root): roles and databases are created, re-running is idempotent, `Delete` drops
//! them and `Retain` keeps them. The Kubernetes side runs on the fake API server.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use madbase_crds::MadBaseProject;
use madbase_operator::keys::secret_value;
use madbase_operator::postgres::{PgAdmin, Postgres, PostgresError};
use madbase_operator::reconcile::reconcile;
use support::*;

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates
        .pop()
        .expect("PostgreSQL server binaries (initdb, postgres) are required")
}

/// uid/gid of the `postgres` OS user, from /etc/passwd.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"postgres"))
                .then(|| (f[2].parse().expect("uid"), f[3].parse().expect("gid")))
        })
        .expect("a postgres OS user (running as root)")
}

fn as_user(cmd: &mut Command, ids: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn start() -> Server {
    let bin = bindir();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let ids = root.then(postgres_user);
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).expect("chown");
    }
    let status = as_user(
        Command::new(bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        ids,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .expect("initdb");
    assert!(status.success(), "initdb failed");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = as_user(
        Command::new(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &port.to_string(),
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
            ]),
        ids,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("postgres");
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(200));
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("postgres did not start on port {port}");
}

fn admin_url(server: &Server) -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", server.port)
}

async fn query_one(url: &str, sql: &str, param: &str) -> Option<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query_opt(sql, &[&param])
        .await
        .expect("query")
        .map(|r| r.get::<_, String>(0))
}

async fn role_exists(url: &str, role: &str) -> bool {
    query_one(
        url,
        "SELECT rolname::text FROM pg_roles WHERE rolname = $1",
        role,
    )
    .await
    .is_some()
}

async fn database_owner(url: &str, db: &str) -> Option<String> {
    query_one(
        url,
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        db,
    )
    .await
}

#[tokio::test]
async fn provisioning_is_idempotent_and_drop_removes_everything() {
    let server = start();
    let admin = admin_url(&server);
    let pg = PgAdmin;
    pg.provision(
        &admin,
        "mb_acme_shop",
        "mb_acme_shop",
        "Passw0rdPassw0rdPassw0rd",
    )
    .await
    .expect("first");
    pg.provision(
        &admin,
        "mb_acme_shop",
        "mb_acme_shop",
        "Passw0rdPassw0rdPassw0rd",
    )
    .await
    .expect("second is a no-op");
    assert_eq!(
        database_owner(&admin, "mb_acme_shop").await.as_deref(),
        Some("mb_acme_shop")
    );
    let project_url = format!(
        "postgres://mb_acme_shop:Passw0rdPassw0rdPassw0rd@127.0.0.1:{}/mb_acme_shop",
        server.port
    );
    pg.check(&project_url)
        .await
        .expect("the project role can log in to its database");
    // A changed password (e.g. a recreated URL Secret) is applied on the next pass.
    pg.provision(
        &admin,
        "mb_acme_shop",
        "mb_acme_shop",
        "OtherPassw0rdOtherPassw0rd",
    )
    .await
    .expect("third");

    pg.drop_database(&admin, "mb_acme_shop", "mb_acme_shop")
        .await
        .expect("drop");
    assert!(database_owner(&admin, "mb_acme_shop").await.is_none());
    assert!(!role_exists(&admin, "mb_acme_shop").await);
    pg.drop_database(&admin, "mb_acme_shop", "mb_acme_shop")
        .await
        .expect("dropping again is fine");
}

#[tokio::test]
async fn unreachable_and_hostile_inputs_are_errors() {
    let pg = PgAdmin;
    let free = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let err = pg
        .check(&format!("postgres://x@127.0.0.1:{free}/x"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, PostgresError::Unreachable(_)), "{err:?}");
    let err = pg
        .provision(
            "postgres://x@127.0.0.1:1/x",
            "shop\"; DROP TABLE x; --",
            "r",
            "Passw0rdPassw0rd",
        )
        .await
        .expect_err("bad name");
    assert!(matches!(err, PostgresError::InvalidIdentifier(_)));
}

fn deleting(mut p: MadBaseProject, policy: &str) -> MadBaseProject {
    p.spec.deletion_policy = serde_json::from_value(serde_json::json!(policy)).expect("policy");
    p.metadata.finalizers = Some(vec!["madbase.io/cleanup".into()]);
    p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    p
}

async fn reconcile_with_real_postgres(admin: &str, project: MadBaseProject) -> kube::Client {
    let client = fake_client(vec![project], vec![]).await;
    let ctx = context(
        client.clone(),
        config(admin),
        Arc::new(PgAdmin),
        Arc::new(FakeBuckets::default()),
    );
    let current = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("project");
    reconcile(Arc::new(current), ctx).await.expect("reconcile");
    client
}

#[tokio::test]
async fn reconcile_provisions_a_working_url_and_deletion_honours_the_policy() {
    let server = start();
    let admin = admin_url(&server);

    // Create: the URL Secret's DSN logs in.
    let client = reconcile_with_real_postgres(&admin, shared_project()).await;
    let db: Secret = Api::namespaced(client.clone(), NS)
        .get("shop-db")
        .await
        .expect("db secret");
    let uri = secret_value(&db, "uri").expect("uri");
    PgAdmin.check(&uri).await.expect("project URL works");
    // A second reconcile keeps the same password and still works.
    let ctx = context(
        client.clone(),
        config(&admin),
        Arc::new(PgAdmin),
        Arc::new(FakeBuckets::default()),
    );
    let current = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("project");
    reconcile(Arc::new(current), ctx).await.expect("again");
    let again: Secret = Api::namespaced(client.clone(), NS)
        .get("shop-db")
        .await
        .expect("db secret");
    assert_eq!(secret_value(&again, "uri"), Some(uri.clone()));
    PgAdmin.check(&uri).await.expect("still works");

    // Retain keeps role and database.
    reconcile_with_real_postgres(&admin, deleting(shared_project(), "Retain")).await;
    assert!(role_exists(&admin, "mb_acme_shop").await);
    assert!(database_owner(&admin, "mb_acme_shop").await.is_some());

    // Delete drops them.
    reconcile_with_real_postgres(&admin, deleting(shared_project(), "Delete")).await;
    assert!(!role_exists(&admin, "mb_acme_shop").await);
    assert!(database_owner(&admin, "mb_acme_shop").await.is_none());
}
