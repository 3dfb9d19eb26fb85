//! `shared` mode against a real PostgreSQL started privately by the test (`madbase_pg`'s scratch
//! server): roles and databases are created, re-running is idempotent, `Delete` drops them and
//! `Retain` keeps them. The Kubernetes side runs on the fake API server.

mod support;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use madbase_crds::MadBaseProject;
use madbase_operator::keys::secret_value;
use madbase_operator::postgres::{Claim, DbTls, Login, PgAdmin, Postgres, PostgresError};
use madbase_operator::reconcile::reconcile;
use madbase_pg::EmbeddedPostgres;
use support::*;

/// A scratch server of this test's own (tests run in parallel and create the same names);
/// it is stopped when the test process exits.
async fn start() -> EmbeddedPostgres {
    EmbeddedPostgres::start_scratch(&[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
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

const OWNER: Login<'static> = Login {
    role: "mb_acme_shop",
    password: "Passw0rdPassw0rdPassw0rd",
};
const API: Login<'static> = Login {
    role: "api_mb_acme_shop",
    password: "ApiPassw0rdApiPassw0rd",
};
const SHOP: Claim<'static> = Claim {
    marker: "madbase-operator: project acme/shop",
};
const OTHER: Claim<'static> = Claim {
    marker: "madbase-operator: project acme/other",
};

#[tokio::test]
async fn provisioning_is_idempotent_and_drop_removes_everything() {
    let server = start().await;
    let admin = server.url("postgres");
    let pg = PgAdmin;
    pg.provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
        .await
        .expect("first");
    pg.provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
        .await
        .expect("second is a no-op");
    assert_eq!(
        database_owner(&admin, "mb_acme_shop").await.as_deref(),
        Some("mb_acme_shop")
    );
    let project_url = format!(
        "postgres://mb_acme_shop:Passw0rdPassw0rdPassw0rd@127.0.0.1:{}/mb_acme_shop",
        server.port()
    );
    pg.check(&project_url, &DbTls::default())
        .await
        .expect("the project role can log in to its database");
    // A changed password (e.g. a recreated URL Secret) is applied on the next pass.
    let owner = Login {
        password: "OtherPassw0rdOtherPassw0rd",
        ..OWNER
    };
    pg.provision(&admin, "mb_acme_shop", owner, API, SHOP)
        .await
        .expect("third");

    let roles = [API.role, OWNER.role];
    pg.drop_database(&admin, "mb_acme_shop", &roles, SHOP)
        .await
        .expect("drop");
    assert!(database_owner(&admin, "mb_acme_shop").await.is_none());
    assert!(!role_exists(&admin, "mb_acme_shop").await);
    assert!(!role_exists(&admin, "api_mb_acme_shop").await);
    pg.drop_database(&admin, "mb_acme_shop", &roles, SHOP)
        .await
        .expect("dropping again is fine");
}

/// Runs `sql` as `url`'s login; the SQLSTATE of its error, if any.
async fn refusal(url: &str, sql: &str) -> Option<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let result = client.batch_execute(sql).await;
    result.err().map(|e| {
        e.code()
            .map_or_else(|| e.to_string(), |c| c.code().to_owned())
    })
}

#[tokio::test]
async fn a_pool_admin_without_superuser_provisions_a_project_that_migrates_and_an_api_login_that_cannot_escape()
 {
    let server = start().await;
    let port = server.port();
    let url = |user: &str, db: &str| format!("postgres://{user}:pw@127.0.0.1:{port}/{db}");
    // The operator's documented minimum: CREATEROLE and CREATEDB, no superuser.
    assert_eq!(
        refusal(
            &server.url("postgres"),
            "CREATE ROLE pool_admin LOGIN CREATEROLE CREATEDB"
        )
        .await,
        None
    );
    let admin = url("pool_admin", "postgres");
    let pg = PgAdmin;
    pg.provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
        .await
        .expect("provisioned by a non-superuser");
    pg.provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
        .await
        .expect("and again: ALTER names only what CREATEROLE may change");

    // The data plane's own migrations, run as the owner (as the pods do at start), find the
    // cluster-wide roles and memberships they cannot create themselves.
    let (mut owner, conn) =
        tokio_postgres::connect(&url(OWNER.role, "mb_acme_shop"), tokio_postgres::NoTls)
            .await
            .expect("owner connects");
    tokio::spawn(conn);
    madbase::migrations::run(&mut owner)
        .await
        .expect("migrations run as the project's owner");

    // The API login switches to the API roles and nowhere else, and alone can read nothing.
    let api = url(API.role, "mb_acme_shop");
    for role in ["anon", "authenticated", "service_role"] {
        assert_eq!(
            refusal(&api, &format!("SET ROLE {role}")).await,
            None,
            "{role}"
        );
    }
    for role in [OWNER.role, "postgres", "pool_admin", "authenticator"] {
        assert_eq!(
            refusal(&api, &format!("SET ROLE {role}")).await.as_deref(),
            Some("42501"),
            "{role}"
        );
    }
    assert_eq!(
        refusal(&api, "SELECT count(*) FROM auth.users")
            .await
            .as_deref(),
        Some("42501")
    );
    // Another database on the pool is closed to it.
    let other = Login {
        role: "mb_acme_other",
        ..OWNER
    };
    let other_api = Login {
        role: "api_mb_acme_other",
        ..API
    };
    pg.provision(&admin, "mb_acme_other", other, other_api, OTHER)
        .await
        .expect("a second project");
    assert!(
        tokio_postgres::connect(&url(API.role, "mb_acme_other"), tokio_postgres::NoTls)
            .await
            .is_err(),
        "no CONNECT on another project's database"
    );

    // No spec takes over a role it did not get from the operator.
    for taken in ["pool_admin", "authenticator"] {
        let err = pg
            .provision(
                &admin,
                "mb_taken",
                Login {
                    role: taken,
                    ..OWNER
                },
                API,
                SHOP,
            )
            .await
            .expect_err(taken);
        assert!(err.to_string().contains(taken), "{err}");
    }
    assert!(database_owner(&admin, "mb_taken").await.is_none());

    // Nor another project's: a spec naming acme/shop's database from acme/other is refused,
    // and acme/shop keeps its password and database.
    let err = pg
        .provision(&admin, "mb_acme_shop", OWNER, API, OTHER)
        .await
        .expect_err("another project's database");
    assert!(
        err.to_string()
            .contains("not made by MadBase for this project"),
        "{err}"
    );
    let err = pg
        .drop_database(&admin, "mb_acme_shop", &[API.role, OWNER.role], OTHER)
        .await
        .expect_err("another project's database");
    assert!(err.to_string().contains("mb_acme_shop"), "{err}");
    assert_eq!(
        refusal(&url(OWNER.role, "mb_acme_shop"), "SELECT 1").await,
        None,
        "acme/shop still logs in with its own password"
    );
    // Nor any role or database it did not make, unmarked ones included; a pool admin adopts one
    // by marking it.
    for sql in [
        "CREATE ROLE mb_acme_legacy LOGIN",
        "CREATE DATABASE billing",
    ] {
        assert_eq!(refusal(&server.url("postgres"), sql).await, None, "{sql}");
    }
    let legacy = Login {
        role: "mb_acme_legacy",
        ..OWNER
    };
    let legacy_api = Login {
        role: "api_mb_acme_legacy",
        ..API
    };
    let err = pg
        .provision(&admin, "mb_acme_legacy", legacy, legacy_api, SHOP)
        .await
        .expect_err("unmarked role");
    assert!(err.to_string().contains("role mb_acme_legacy"), "{err}");
    let err = pg
        .provision(&admin, "billing", OWNER, API, SHOP)
        .await
        .expect_err("a database the operator did not make");
    assert!(err.to_string().contains("database billing"), "{err}");
    let adopt = format!("COMMENT ON ROLE mb_acme_legacy IS '{}'", SHOP.marker);
    assert_eq!(refusal(&server.url("postgres"), &adopt).await, None);
    pg.provision(&admin, "mb_acme_legacy", legacy, legacy_api, SHOP)
        .await
        .expect("adopted once a pool admin marked it");

    pg.drop_database(&admin, "mb_acme_shop", &[API.role, OWNER.role], SHOP)
        .await
        .expect("dropped by a non-superuser");
    assert!(!role_exists(&admin, API.role).await);
    assert!(role_exists(&admin, "anon").await, "shared roles stay");
}

#[tokio::test]
async fn a_private_database_is_closed_to_other_projects_roles_as_on_a_cloudnativepg_cluster() {
    // What CloudNativePG leaves: the layout's roles, two projects' owners and API logins, all
    // members of the API roles, and databases every role may connect to.
    let server = start().await;
    let port = server.port();
    let url = |user: &str, db: &str| format!("postgres://{user}:pw@127.0.0.1:{port}/{db}");
    let superuser = server.url("postgres");
    assert_eq!(
        refusal(&superuser, madbase_operator::postgres::LAYOUT_ROLES_SQL).await,
        None
    );
    for role in ["mb_a", "mb_b"] {
        let sql = format!(
            "CREATE ROLE {role} LOGIN; CREATE ROLE api_{role} LOGIN NOINHERIT;
             GRANT anon, authenticated, service_role TO {role}, api_{role}"
        );
        assert_eq!(refusal(&superuser, &sql).await, None);
        let db = format!("CREATE DATABASE {role} OWNER {role}");
        assert_eq!(refusal(&superuser, &db).await, None);
    }
    // Open by default: the hole. A session opened now survives a later REVOKE, so the data
    // plane refuses to start while one is there.
    let (early, early_conn) = tokio_postgres::connect(&url("mb_b", "mb_a"), tokio_postgres::NoTls)
        .await
        .expect("another project connects to a fresh database");
    let early_task = tokio::spawn(early_conn);
    let (mut owner, conn) = tokio_postgres::connect(&url("mb_a", "mb_a"), tokio_postgres::NoTls)
        .await
        .expect("owner connects");
    tokio::spawn(conn);
    let err = madbase::server::project::make_private(&owner, Some("api_mb_a"))
        .await
        .expect_err("a session of another project's owner is there");
    assert!(err.to_string().contains("mb_b"), "{err}");
    drop(early);
    let _ = early_task.await;
    // The data plane at start, as mb_a with MADBASE_DB_PRIVATE: private first, then migrated.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Err(e) = madbase::server::project::make_private(&owner, Some("api_mb_a")).await {
        assert!(std::time::Instant::now() < deadline, "{e}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    madbase::server::project::make_private(&owner, Some("api_mb_a"))
        .await
        .expect("and again");
    madbase::migrations::run(&mut owner)
        .await
        .expect("migrations");
    for (user, allowed) in [
        ("mb_a", true),
        ("api_mb_a", true),
        ("mb_b", false),
        ("api_mb_b", false),
    ] {
        let connected = tokio_postgres::connect(&url(user, "mb_a"), tokio_postgres::NoTls).await;
        match connected {
            Ok(_) => assert!(allowed, "{user} still connects"),
            Err(e) => {
                assert!(!allowed, "{user}: {e}");
                assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{user}: {e}");
            }
        }
    }
}

/// The role's comment, or `None` when it has none.
async fn role_comment(url: &str, role: &str) -> Option<String> {
    query_one(
        url,
        "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1",
        role,
    )
    .await
    .filter(|c| !c.is_empty())
}

#[tokio::test]
async fn roles_an_earlier_operator_made_are_adopted_by_the_password_the_project_holds() {
    // Passwords over TCP, as on a real pool; one role trusted, where a login proves nothing.
    let hba = "local all all trust
host all postgres 127.0.0.1/32 trust
host all mb_acme_trusted 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
";
    let server = EmbeddedPostgres::start_scratch_hba(&[], hba)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let admin = server.url("postgres");
    let pg = PgAdmin;
    let login_url = |role: &str, password: &str, db: &str| {
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{db}",
            server.port()
        )
    };
    // What an operator from before the marks left: a role and its database, no comments.
    for sql in [
        format!(
            "CREATE ROLE mb_acme_shop LOGIN PASSWORD '{}'",
            OWNER.password
        ),
        "CREATE DATABASE mb_acme_shop OWNER mb_acme_shop".to_owned(),
        "CREATE ROLE mb_acme_trusted LOGIN PASSWORD 'TrustedPassw0rdTrusted'".to_owned(),
        "CREATE DATABASE mb_acme_trusted OWNER mb_acme_trusted".to_owned(),
        "CREATE ROLE mb_acme_noted LOGIN PASSWORD 'NotedPassw0rdNotedPass'".to_owned(),
        "CREATE ROLE mb_acme_power LOGIN CREATEROLE PASSWORD 'PowerPassw0rdPowerPass'".to_owned(),
        "COMMENT ON ROLE mb_acme_noted IS 'reporting, owned by the data team'".to_owned(),
    ] {
        assert_eq!(refusal(&admin, &sql).await, None, "{sql}");
    }

    // A project that does not know the password adopts nothing and changes nothing.
    let guess = Login {
        password: "GuessedPassw0rdGuessed",
        ..OWNER
    };
    let err = pg
        .provision(&admin, "mb_acme_shop", guess, API, SHOP)
        .await
        .expect_err("a guessed password proves nothing");
    assert!(err.to_string().contains("role mb_acme_shop"), "{err}");
    assert_eq!(role_comment(&admin, OWNER.role).await, None);
    assert!(!role_exists(&admin, API.role).await, "nothing written");
    let original = login_url(OWNER.role, OWNER.password, "mb_acme_shop");
    assert_eq!(
        refusal(&original, "SELECT 1").await,
        None,
        "password unchanged"
    );

    // The project whose Secret holds the password adopts the role, then its database.
    pg.provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
        .await
        .expect("adopted by the password");
    assert_eq!(
        role_comment(&admin, OWNER.role).await.as_deref(),
        Some(SHOP.marker)
    );
    assert_eq!(
        role_comment(&admin, API.role).await.as_deref(),
        Some(SHOP.marker)
    );
    let db_comment = query_one(
        &admin,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
        "mb_acme_shop",
    )
    .await;
    assert_eq!(db_comment.as_deref(), Some(SHOP.marker));
    let api_url = login_url(API.role, API.password, "mb_acme_shop");
    assert_eq!(refusal(&api_url, "SET ROLE anon").await, None);
    // Adopted, the role is this project's alone: another project is refused as before.
    let err = pg
        .provision(&admin, "mb_acme_shop", OWNER, API, OTHER)
        .await
        .expect_err("acme/other");
    assert!(err.to_string().contains("mb_acme_shop"), "{err}");

    // Under trust any password logs in, so it proves nothing; a role with a comment of someone
    // else's is never adopted, even with its password.
    let trusted = Login {
        role: "mb_acme_trusted",
        password: "TrustedPassw0rdTrusted",
    };
    let noted = Login {
        role: "mb_acme_noted",
        password: "NotedPassw0rdNotedPass",
    };
    let power = Login {
        role: "mb_acme_power",
        password: "PowerPassw0rdPowerPass",
    };
    for (owner, api) in [
        (trusted, "api_mb_acme_trusted"),
        (noted, "api_mb_acme_noted"),
        (power, "api_mb_acme_power"),
    ] {
        let api = Login { role: api, ..API };
        let err = pg
            .provision(&admin, owner.role, owner, api, SHOP)
            .await
            .expect_err(owner.role);
        assert!(
            err.to_string().contains(&format!("role {}", owner.role)),
            "{err}"
        );
        assert!(!role_exists(&admin, api.role).await, "nothing written");
    }
    assert_eq!(role_comment(&admin, trusted.role).await, None);
    assert_eq!(
        role_comment(&admin, power.role).await,
        None,
        "a powerful role is never marked"
    );
    assert_eq!(
        role_comment(&admin, noted.role).await.as_deref(),
        Some("reporting, owned by the data team")
    );
}

#[tokio::test]
async fn two_projects_naming_one_database_take_turns() {
    let server = start().await;
    let admin = server.url("postgres");
    // Another operator (or project) holds the database name's lock.
    let (holder, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    holder
        .execute(
            "SELECT pg_advisory_lock(hashtext('madbase-operator database ' || $1::text))",
            &[&"mb_acme_shop"],
        )
        .await
        .expect("lock");
    let provisioning = tokio::spawn({
        let admin = admin.clone();
        async move {
            PgAdmin
                .provision(&admin, "mb_acme_shop", OWNER, API, SHOP)
                .await
        }
    });
    // It waits on that lock, before writing anything.
    let waiting = "SELECT count(*)::text FROM pg_locks
                   WHERE locktype = 'advisory' AND NOT granted AND $1 = ''";
    let mut waited = false;
    for _ in 0..200 {
        if query_one(&admin, waiting, "").await.as_deref() == Some("1") {
            waited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(waited, "provisioning never waited on the lock");
    assert!(!provisioning.is_finished());
    assert!(
        !role_exists(&admin, OWNER.role).await,
        "nothing written while waiting"
    );
    holder
        .execute(
            "SELECT pg_advisory_unlock(hashtext('madbase-operator database ' || $1::text))",
            &[&"mb_acme_shop"],
        )
        .await
        .expect("unlock");
    provisioning
        .await
        .expect("task")
        .expect("provisioned once the lock was free");
    assert!(role_exists(&admin, OWNER.role).await);
}

#[tokio::test]
async fn unreachable_and_hostile_inputs_are_errors() {
    let pg = PgAdmin;
    let free = madbase_pg::free_port().expect("port");
    let err = pg
        .check(
            &format!("postgres://x@127.0.0.1:{free}/x"),
            &DbTls::default(),
        )
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, PostgresError::Unreachable(_)), "{err:?}");
    let err = pg
        .provision(
            "postgres://x@127.0.0.1:1/x",
            "shop\"; DROP TABLE x; --",
            OWNER,
            API,
            SHOP,
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
    let server = start().await;
    let admin = server.url("postgres");

    // Create: the URL Secret's DSN logs in.
    let client = reconcile_with_real_postgres(&admin, shared_project()).await;
    let db: Secret = Api::namespaced(client.clone(), NS)
        .get("shop-db")
        .await
        .expect("db secret");
    let uri = secret_value(&db, "uri").expect("uri");
    PgAdmin
        .check(&uri, &DbTls::default())
        .await
        .expect("project URL works");
    let api_user = secret_value(&db, "api-username").expect("api user");
    let api_password = secret_value(&db, "api-password").expect("api password");
    let api_uri = uri.replacen(
        &format!(
            "mb_acme_shop:{}",
            secret_value(&db, "password").expect("password")
        ),
        &format!("{api_user}:{api_password}"),
        1,
    );
    assert_ne!(api_uri, uri);
    PgAdmin
        .check(&api_uri, &DbTls::default())
        .await
        .expect("the data API's login works");
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
    PgAdmin
        .check(&uri, &DbTls::default())
        .await
        .expect("still works");

    // Retain keeps role and database.
    reconcile_with_real_postgres(&admin, deleting(shared_project(), "Retain")).await;
    assert!(role_exists(&admin, "mb_acme_shop").await);
    assert!(database_owner(&admin, "mb_acme_shop").await.is_some());

    // Delete drops them.
    reconcile_with_real_postgres(&admin, deleting(shared_project(), "Delete")).await;
    assert!(!role_exists(&admin, "mb_acme_shop").await);
    assert!(database_owner(&admin, "mb_acme_shop").await.is_none());
}

#[tokio::test]
async fn the_external_check_verifies_the_server_with_the_project_s_ca_and_revocation_lists() {
    let server = madbase_pgconn::testing::TlsServer::start()
        .await
        .expect("TLS server");
    let ca = std::fs::read(server.file("ca.pem")).expect("CA");
    let url = server.url("postgres", "localhost", "postgres", "");
    let verify = |pem: &[u8]| DbTls {
        ssl_mode: Some(madbase_config::DbSslMode::VerifyFull),
        ca_pem: Some(pem.to_vec()),
        crl_pem: None,
    };
    PgAdmin
        .check(&url, &verify(&ca))
        .await
        .expect("verified against the project's bundle");
    // A server the bundle does not vouch for is not sent the credentials.
    let stranger = madbase_pgconn::testing::TestCa::new("stranger");
    let err = PgAdmin
        .check(&url, &verify(stranger.pem.as_bytes()))
        .await
        .expect_err("unknown issuer");
    assert!(
        matches!(&err, PostgresError::Unreachable(m) if m.contains("UnknownIssuer")),
        "{err:?}"
    );
    // The project's revocation lists count too: one revoking another certificate passes, one
    // revoking the server's stops the check before the credentials go out.
    let with_crl = |name: &str| DbTls {
        crl_pem: Some(std::fs::read(server.file(name)).expect("list")),
        ..verify(&ca)
    };
    PgAdmin
        .check(&url, &with_crl("clean.crl"))
        .await
        .expect("not revoked");
    let err = PgAdmin
        .check(&url, &with_crl("revoked.crl"))
        .await
        .expect_err("revoked");
    assert!(
        matches!(&err, PostgresError::Unreachable(m) if m.contains("Revoked")),
        "{err:?}"
    );
    let err = PgAdmin
        .check(
            &url,
            &DbTls {
                crl_pem: Some(ca.clone()),
                ..verify(&ca)
            },
        )
        .await
        .expect_err("not a list");
    assert!(
        matches!(&err, PostgresError::InvalidUrl(m) if m.contains("spec.database.tls revocation lists: no PEM certificate revocation list")),
        "{err:?}"
    );
    // verify-full without a bundle is a spec the data plane could not use either (unless
    // libpq's default root file exists, as it may on a developer's machine).
    let home_roots = std::env::var_os("HOME")
        .map(|h| {
            std::path::Path::new(&h)
                .join(".postgresql/root.crt")
                .exists()
        })
        .unwrap_or(false);
    if home_roots {
        return;
    }
    let err = PgAdmin
        .check(
            &url,
            &DbTls {
                ssl_mode: Some(madbase_config::DbSslMode::VerifyFull),
                ca_pem: None,
                crl_pem: None,
            },
        )
        .await
        .expect_err("no roots");
    assert!(matches!(err, PostgresError::InvalidUrl(_)), "{err:?}");
}
