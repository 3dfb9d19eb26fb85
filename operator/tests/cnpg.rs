//! CloudNativePG mode against kube-fake-client: the roles' password Secrets, the project's entries
//! (and the Supabase layout's) in the `Cluster`'s `spec.managed.roles` next to other managers'
//! entries (also when one of them writes concurrently), the `Database`, waiting for CloudNativePG to report both applied, the DSN
//! Secret, and cleanup under `Delete` and `Retain`.
//!
//! CloudNativePG itself is simulated by writing the status it would write.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Client, ResourceExt};
use kube_fake_client::interceptor;
use madbase_crds::MadBaseProject;
use madbase_operator::cnpg::{cluster_resource, database_resource};
use madbase_operator::keys::secret_value;
use madbase_operator::reconcile::{Context, ReconcileError, WAIT_REQUEUE, reconcile};
use serde_json::{Value, json};
use support::*;

/// `shop` on the CloudNativePG cluster `pg` in its own namespace.
fn cnpg_project(policy: &str) -> MadBaseProject {
    project(&format!(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {{name: shop, uid: uid-shop}}
spec:
  deletionPolicy: {policy}
  database: {{cnpg: {{clusterRef: {{name: pg}}}}}}
"
    ))
}

fn deleting(mut p: MadBaseProject) -> MadBaseProject {
    p.metadata.finalizers = Some(vec!["madbase.io/cleanup".into()]);
    p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    p
}

/// A CloudNativePG `Cluster` named `pg` whose roles list already holds another manager's entry.
fn cluster(roles: Value) -> Cluster {
    let mut c = Cluster::new(
        "pg",
        CnpgClusterSpec {
            managed: Some(json!({"roles": roles})),
            bootstrap: None,
        },
    );
    c.metadata.namespace = Some(NS.into());
    c
}

fn reporting() -> Value {
    json!({"name": "reporting", "login": true, "inRoles": ["pg_monitor"]})
}

struct Harness {
    client: Client,
    ctx: Arc<Context>,
}

impl Harness {
    async fn with(builder: kube_fake_client::ClientBuilder) -> Self {
        let client = builder.build().await.expect("fake client");
        let ctx = context(
            client.clone(),
            config("postgres://admin:pw@pg.db.svc:5432/postgres"),
            Arc::new(FakePostgres::default()),
            Arc::new(FakeBuckets::default()),
        );
        Self { client, ctx }
    }

    async fn new(project: MadBaseProject, cluster: Option<Cluster>) -> Self {
        let mut builder = fake_builder(vec![project], vec![]);
        if let Some(c) = cluster {
            builder = builder.with_object(c);
        }
        Self::with(builder).await
    }

    fn dynamic(&self, resource: &kube::core::ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), NS, resource)
    }

    async fn project(&self) -> MadBaseProject {
        Api::<MadBaseProject>::namespaced(self.client.clone(), NS)
            .get("shop")
            .await
            .expect("project")
    }

    async fn reconcile(&self) -> Result<Action, ReconcileError> {
        reconcile(Arc::new(self.project().await), self.ctx.clone()).await
    }

    async fn cluster(&self) -> DynamicObject {
        self.dynamic(&cluster_resource())
            .get("pg")
            .await
            .expect("cluster")
    }

    async fn roles(&self) -> Vec<Value> {
        self.cluster()
            .await
            .data
            .pointer("/spec/managed/roles")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    async fn secret(&self, name: &str) -> Option<Secret> {
        Api::<Secret>::namespaced(self.client.clone(), NS)
            .get_opt(name)
            .await
            .expect("get secret")
    }

    async fn database(&self) -> Option<DynamicObject> {
        self.dynamic(&database_resource())
            .get_opt("mb-acme-shop")
            .await
            .expect("get database")
    }

    /// What CloudNativePG's instance manager writes once the roles exist.
    async fn cnpg_reconciles_roles(&self, reconciled: &[&str]) {
        let status = json!({"status": {"managedRolesStatus": {"byStatus": {
            "reconciled": reconciled, "reserved": ["postgres"]
        }}}});
        self.dynamic(&cluster_resource())
            .patch_status("pg", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("cluster status");
    }

    /// What CloudNativePG's database controller writes once the database exists.
    async fn cnpg_applies_database(&self) {
        let status = json!({"status": {"applied": true}});
        self.dynamic(&database_resource())
            .patch_status(
                "mb-acme-shop",
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
            .expect("database status");
    }
}

fn condition(p: &MadBaseProject, type_: &str) -> (String, String, String) {
    let c = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn entry(roles: &[Value], name: &str) -> Value {
    roles
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn our_entry(roles: &[Value]) -> Value {
    entry(roles, "mb_acme_shop")
}

fn api_entry(roles: &[Value]) -> Value {
    entry(roles, "api_mb_acme_shop")
}

/// Every role the project needs, as CloudNativePG lists them once created.
fn all_roles() -> Vec<&'static str> {
    let mut names = madbase_crds::naming::LAYOUT_ROLES.to_vec();
    names.extend(["reporting", "mb_acme_shop", "api_mb_acme_shop"]);
    names
}

#[tokio::test]
async fn declares_role_and_database_then_waits_for_cloudnativepg() {
    let h = Harness::new(cnpg_project("Retain"), Some(cluster(json!([reporting()])))).await;
    let action = h.reconcile().await.expect("first pass");
    assert_eq!(action, Action::requeue(WAIT_REQUEUE));

    // Password Secret: basic-auth, owned by the project (same namespace), read by CloudNativePG.
    let password = h
        .secret("acme-shop-db-password")
        .await
        .expect("password secret");
    assert_eq!(password.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(
        secret_value(&password, "username").as_deref(),
        Some("mb_acme_shop")
    );
    assert_eq!(
        password.owner_references().first().map(|o| o.uid.as_str()),
        Some("uid-shop")
    );

    // Entries added after the other manager's entry, which is untouched: the Supabase layout's
    // roles (the owner cannot create them), the owner, and the data API's login.
    let roles = h.roles().await;
    assert_eq!(roles[0], reporting());
    assert_eq!(roles.len(), all_roles().len());
    let api_roles = json!(["anon", "authenticated", "service_role"]);
    assert_eq!(
        our_entry(&roles),
        json!({
            "name": "mb_acme_shop",
            "ensure": "present",
            "login": true,
            "passwordSecret": {"name": "acme-shop-db-password"},
            "inRoles": api_roles,
            "comment": "madbase-operator: project acme/shop",
        })
    );
    assert_eq!(
        api_entry(&roles),
        json!({
            "name": "api_mb_acme_shop",
            "ensure": "present",
            "login": true,
            "inherit": false,
            "passwordSecret": {"name": "acme-shop-db-api-password"},
            "inRoles": api_roles,
            "comment": "madbase-operator: project acme/shop",
        })
    );
    assert_eq!(entry(&roles, "service_role")["bypassrls"], true);
    let api_password = h
        .secret("acme-shop-db-api-password")
        .await
        .expect("API login's password secret");
    assert_eq!(
        secret_value(&api_password, "username").as_deref(),
        Some("api_mb_acme_shop")
    );

    // Database declared with the role as owner; reclaim policy follows deletionPolicy.
    let db = h.database().await.expect("Database");
    assert_eq!(
        db.data["spec"],
        json!({"cluster": {"name": "pg"}, "name": "mb_acme_shop", "owner": "mb_acme_shop",
               "ensure": "present", "databaseReclaimPolicy": "retain"})
    );

    // Not applied yet: DatabaseReady=False with a reason saying what is awaited; no DSN yet.
    let (status, reason, message) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "WaitingForRole")
    );
    assert!(
        message.contains("role anon in Cluster acme/pg"),
        "{message}"
    );
    assert!(h.secret("shop-db").await.is_none());

    // The owner alone is not enough: the migrations need the layout, the pods the API login.
    h.cnpg_reconciles_roles(&["reporting", "mb_acme_shop"])
        .await;
    h.reconcile().await.expect("second pass");
    let (_, reason, message) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(reason, "WaitingForRole");
    assert!(message.contains("role anon"), "{message}");
    h.cnpg_reconciles_roles(&["reporting", "anon", "authenticated", "service_role"])
        .await;
    h.reconcile().await.expect("second pass");
    let (_, _, message) = condition(&h.project().await, "DatabaseReady");
    assert!(message.contains("role authenticator"), "{message}");

    h.cnpg_reconciles_roles(&all_roles()).await;
    h.reconcile().await.expect("second pass");
    let (_, reason, _) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(reason, "WaitingForDatabase");

    h.cnpg_applies_database().await;
    h.reconcile().await.expect("third pass");
    let (status, reason, _) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "DatabaseAvailable")
    );
    let dsn = h.secret("shop-db").await.expect("DSN secret");
    let uri = secret_value(&dsn, "uri").expect("uri");
    let pw = secret_value(&password, "password").expect("password");
    assert_eq!(
        uri,
        format!("postgres://mb_acme_shop:{pw}@pg-rw.acme.svc:5432/mb_acme_shop")
    );
    assert_eq!(
        secret_value(&dsn, "api-username").as_deref(),
        Some("api_mb_acme_shop")
    );
    assert_eq!(
        secret_value(&dsn, "api-password"),
        secret_value(&api_password, "password"),
        "the pods log in with the password CloudNativePG set"
    );

    // Nothing changes on a further pass: the Cluster is not written again.
    let rv = h.cluster().await.resource_version();
    h.reconcile().await.expect("fourth pass");
    assert_eq!(h.cluster().await.resource_version(), rv);
}

#[tokio::test]
async fn cannot_reconcile_is_reported_with_cloudnativepgs_reason() {
    let h = Harness::new(cnpg_project("Retain"), Some(cluster(json!([])))).await;
    h.reconcile().await.expect("first pass");
    let mut reconciled = all_roles();
    reconciled.retain(|r| *r != "mb_acme_shop");
    let status = json!({"status": {"managedRolesStatus": {
        "byStatus": {"reconciled": reconciled},
        "cannotReconcile": {
            "mb_acme_shop": ["could not perform CREATE on role mb_acme_shop: permission denied"]
        },
    }}});
    h.dynamic(&cluster_resource())
        .patch_status("pg", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
    h.reconcile().await.expect("second pass");
    let (status, reason, message) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RoleNotReconciled")
    );
    assert!(message.contains("permission denied"), "{message}");
}

#[tokio::test]
async fn a_concurrent_write_to_the_role_list_is_retried_and_kept() {
    let raced = Arc::new(AtomicBool::new(false));
    let once = raced.clone();
    // Another manager appends its role between the operator's read and its write.
    let funcs = interceptor::Funcs::new().patch(move |ctx| {
        if ctx.name == "pg"
            && ctx.patch.pointer("/spec/managed/roles").is_some()
            && !once.swap(true, Ordering::SeqCst)
        {
            let current: Cluster = ctx.client.get(ctx.namespace, "pg")?;
            let mut roles = current
                .spec
                .managed
                .and_then(|m| m.get("roles").cloned())
                .and_then(|r| r.as_array().cloned())
                .unwrap_or_default();
            roles.push(json!({"name": "late_comer"}));
            let concurrent = json!({"spec": {"managed": {"roles": roles}}});
            ctx.client.patch::<Cluster>(
                ctx.namespace,
                "pg",
                &concurrent,
                &PatchParams::default(),
            )?;
        }
        Ok(None)
    });
    let builder = fake_builder(vec![cnpg_project("Retain")], vec![])
        .with_object(cluster(json!([reporting()])))
        .with_interceptor_funcs(funcs);
    let h = Harness::with(builder).await;
    h.reconcile().await.expect("reconcile");
    assert!(raced.load(Ordering::SeqCst), "the race was staged");
    let names: Vec<Value> = h.roles().await.iter().map(|r| r["name"].clone()).collect();
    assert_eq!(
        names[..3],
        [json!("reporting"), json!("late_comer"), json!("anon")]
    );
    assert_eq!(names.last(), Some(&json!("api_mb_acme_shop")));
}

#[tokio::test]
async fn a_role_of_the_same_name_written_by_someone_else_is_not_taken_over() {
    let foreign = json!({"name": "mb_acme_shop", "login": true, "comment": "DBA's role"});
    let h = Harness::new(
        cnpg_project("Retain"),
        Some(cluster(json!([foreign.clone()]))),
    )
    .await;
    let err = h.reconcile().await.expect_err("conflict");
    assert!(err.to_string().contains("someone else"), "{err}");
    assert_eq!(h.roles().await, [foreign]);
    let (status, reason, _) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RoleConflict")
    );
}

#[tokio::test]
async fn the_cluster_s_bootstrap_database_and_owner_are_not_adopted() {
    for bootstrap in [
        json!({"initdb": {"database": "mb_acme_shop"}}),
        json!({"recovery": {"database": "crm", "owner": "mb_acme_shop"}}),
    ] {
        let mut c = cluster(json!([reporting()]));
        c.spec.bootstrap = Some(bootstrap.clone());
        let h = Harness::new(cnpg_project("Retain"), Some(c)).await;
        let err = h.reconcile().await.expect_err("the Cluster's own");
        assert!(
            err.to_string().contains("bootstrapped"),
            "{bootstrap}: {err}"
        );
        assert_eq!(h.roles().await, [reporting()], "nothing declared");
        assert!(h.database().await.is_none());
        let (status, reason, _) = condition(&h.project().await, "DatabaseReady");
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", "RoleConflict")
        );
    }
}

#[tokio::test]
async fn a_password_secret_another_project_made_is_not_read() {
    // A Secret of the name this project's would have, made for another project (project `c`
    // of namespace `a-b` and project `b-c` of namespace `a` share these names).
    let mut theirs = secret(
        "acme-shop-db-api-password",
        &[("password", "TheirPassw0rdTheirPassw0rd")],
    );
    theirs.metadata.labels = Some(madbase_operator::apply::managed_labels("other"));
    let builder = fake_builder(vec![cnpg_project("Retain")], vec![theirs])
        .with_object(cluster(json!([reporting()])));
    let h = Harness::with(builder).await;
    let err = h.reconcile().await.expect_err("not ours");
    assert!(
        err.to_string().contains("acme/acme-shop-db-api-password"),
        "{err}"
    );
    let (status, reason, _) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "SecretConflict")
    );
    assert!(
        h.secret("shop-db").await.is_none(),
        "no DSN with their password"
    );
}

#[tokio::test]
async fn a_missing_cluster_is_awaited_with_a_clear_reason() {
    let h = Harness::new(cnpg_project("Retain"), None).await;
    assert_eq!(
        h.reconcile().await.expect("reconcile"),
        Action::requeue(WAIT_REQUEUE)
    );
    let (status, reason, message) = condition(&h.project().await, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ClusterNotFound")
    );
    assert!(message.contains("acme/pg"), "{message}");
    assert!(h.database().await.is_none());
}

/// A project that was provisioned (role entry, Database, password Secret).
async fn provisioned(policy: &str) -> Harness {
    let h = Harness::new(cnpg_project(policy), Some(cluster(json!([reporting()])))).await;
    h.reconcile().await.expect("provision");
    assert!(h.database().await.is_some());
    h
}

impl Harness {
    /// Reconciles the stored project as the API server presents it once it is deleted (the fake
    /// refuses to set a deletionTimestamp itself).
    async fn reconcile_deleted(&self) -> Result<Action, ReconcileError> {
        reconcile(Arc::new(deleting(self.project().await)), self.ctx.clone()).await
    }
}

#[tokio::test]
async fn delete_policy_drops_database_then_role_and_releases() {
    let h = provisioned("Delete").await;
    assert_eq!(
        h.reconcile_deleted().await.expect("cleanup"),
        Action::await_change()
    );
    assert!(h.database().await.is_none(), "Database removed");
    let roles = h.roles().await;
    assert_eq!(roles[0], reporting(), "other entries are kept");
    assert_eq!(
        our_entry(&roles),
        json!({"name": "mb_acme_shop", "ensure": "absent", "comment": "madbase-operator: project acme/shop"})
    );
    assert_eq!(api_entry(&roles)["ensure"], "absent");
    assert_eq!(
        entry(&roles, "anon")["ensure"],
        "present",
        "the layout's roles are every project's"
    );
    assert!(h.secret("acme-shop-db-password").await.is_none());
    assert!(h.secret("acme-shop-db-api-password").await.is_none());
    assert!(
        h.project().await.finalizers().is_empty(),
        "finalizer released"
    );
}

#[tokio::test]
async fn delete_policy_waits_while_cloudnativepg_drops_the_database() {
    // CloudNativePG's finalizer keeps a deleted Database while it drops the database. The fake
    // can neither set a deletionTimestamp nor honour finalizers, so once `dropping` is set the
    // Database is answered as CloudNativePG would present it, and deleting it again is an error.
    let dropping = Arc::new(AtomicBool::new(false));
    let (on_get, on_delete) = (dropping.clone(), dropping.clone());
    let funcs = interceptor::Funcs::new()
        .get(move |ctx| {
            if ctx.name != "mb-acme-shop" || !on_get.load(Ordering::SeqCst) {
                return Ok(None);
            }
            Ok(Some(json!({
                "apiVersion": "postgresql.cnpg.io/v1", "kind": "Database",
                "metadata": {
                    "name": "mb-acme-shop", "namespace": NS, "generation": 1,
                    "labels": {"app.kubernetes.io/managed-by": "madbase-operator", "madbase.io/project": "shop"},
                    "finalizers": ["cnpg.io/deleteDatabase"],
                    "deletionTimestamp": "2026-01-01T00:00:00Z",
                },
                "spec": {"cluster": {"name": "pg"}, "name": "mb_acme_shop", "owner": "mb_acme_shop",
                         "databaseReclaimPolicy": "delete"},
            })))
        })
        .delete(move |ctx| {
            assert!(
                !(ctx.name == "mb-acme-shop" && on_delete.load(Ordering::SeqCst)),
                "a Database being dropped is not deleted again"
            );
            Ok(None)
        });
    let builder = fake_builder(vec![cnpg_project("Delete")], vec![])
        .with_object(cluster(json!([reporting()])))
        .with_interceptor_funcs(funcs);
    let h = Harness::with(builder).await;
    h.reconcile().await.expect("provision");
    dropping.store(true, Ordering::SeqCst);
    assert_eq!(
        h.reconcile_deleted().await.expect("cleanup"),
        Action::requeue(WAIT_REQUEUE)
    );
    assert_eq!(
        our_entry(&h.roles().await)["ensure"],
        "present",
        "the role still owns the database: it is dropped afterwards"
    );
    assert!(h.secret("acme-shop-db-password").await.is_some());
    assert!(!h.project().await.finalizers().is_empty(), "finalizer kept");
}

#[tokio::test]
async fn retain_policy_keeps_role_database_and_the_password_secret() {
    let h = provisioned("Retain").await;
    assert_eq!(
        h.reconcile_deleted().await.expect("cleanup"),
        Action::await_change()
    );
    assert!(h.database().await.is_some());
    assert_eq!(our_entry(&h.roles().await)["ensure"], "present");
    for name in ["acme-shop-db-password", "acme-shop-db-api-password"] {
        let password = h.secret(name).await.expect("kept");
        assert!(
            password.owner_references().is_empty(),
            "orphaned, so garbage collection keeps what the role entries point at"
        );
    }
    assert!(h.project().await.finalizers().is_empty());
}
