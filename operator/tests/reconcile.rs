//! Reconcile tests against kube-fake-client: the objects the operator creates, what a second pass
//! leaves alone, status and conditions, pause/stop, key rotation, failure branches and cleanup.
//!
//! The fake has no watch and deletes ignore finalizers, so deletion is tested by seeding a project
//! that already carries a deletionTimestamp and the finalizer, exactly as the API server would
//! present it to the controller.

mod support;

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, Client};
use madbase_crds::{MadBaseProject, Phase};
use madbase_operator::bucket::BucketError;
use madbase_operator::keys::{ApiKeyClaims, secret_value};
use madbase_operator::postgres::PostgresError;
use madbase_operator::reconcile::{ReconcileError, WAIT_REQUEUE, reconcile};
use support::*;

struct Harness {
    client: Client,
    ctx: Arc<madbase_operator::reconcile::Context>,
    postgres: Arc<FakePostgres>,
    buckets: Arc<FakeBuckets>,
}

impl Harness {
    async fn new(projects: Vec<MadBaseProject>, secrets: Vec<Secret>) -> Self {
        let client = fake_client(projects, secrets).await;
        let postgres = Arc::new(FakePostgres::default());
        let buckets = Arc::new(FakeBuckets::default());
        let ctx = context(
            client.clone(),
            config("postgres://admin:pw@pg.db.svc:5432/postgres"),
            postgres.clone(),
            buckets.clone(),
        );
        Self {
            client,
            ctx,
            postgres,
            buckets,
        }
    }

    fn projects(&self) -> Api<MadBaseProject> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn project(&self) -> MadBaseProject {
        self.projects().get("shop").await.expect("project")
    }

    async fn reconcile(&self) -> Result<Action, ReconcileError> {
        reconcile(Arc::new(self.project().await), self.ctx.clone()).await
    }

    async fn get<K>(&self, name: &str) -> Option<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::<K>::namespaced(self.client.clone(), NS)
            .get_opt(name)
            .await
            .expect("get")
    }

    async fn make_deployment_available(&self) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NS);
        let generation = api
            .get("shop")
            .await
            .expect("deployment")
            .metadata
            .generation;
        // The fake bumps `generation` on every apply, also an unchanged one (a real API server
        // does not), so the Deployment controller is simulated as having seen the next apply too.
        let observed = generation.unwrap_or(1) + 1;
        let status = serde_json::json!({"status": {"availableReplicas": 1, "readyReplicas": 1, "replicas": 1, "observedGeneration": observed}});
        api.patch_status("shop", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("deployment status");
    }

    async fn spec(&self, patch: serde_json::Value) {
        self.projects()
            .patch(
                "shop",
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({"spec": patch})),
            )
            .await
            .expect("spec patch");
    }
}

fn condition(p: &MadBaseProject, type_: &str) -> (String, String) {
    let c = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone())
}

fn phase(p: &MadBaseProject) -> Option<Phase> {
    p.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn first_reconcile_creates_keys_database_secret_and_data_plane() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    // The fake bumps `generation` on the metadata-only finalizer patch (a real API server does
    // not), so compare with the generation the reconcile was given.
    let reconciled_generation = h.project().await.metadata.generation;
    let action = h.reconcile().await.expect("reconcile");
    assert_eq!(
        action,
        Action::requeue(WAIT_REQUEUE),
        "waits for the Deployment"
    );

    let p = h.project().await;
    assert!(
        p.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.contains(&"madbase.io/cleanup".to_string()))
    );
    assert_eq!(phase(&p), Some(Phase::Provisioning));
    assert_eq!(
        condition(&p, "KeysReady"),
        ("True".into(), "KeysAvailable".into())
    );
    assert_eq!(
        condition(&p, "DatabaseReady"),
        ("True".into(), "DatabaseAvailable".into())
    );
    assert_eq!(
        condition(&p, "StorageReady"),
        ("True".into(), "BucketAvailable".into())
    );
    assert_eq!(condition(&p, "DataPlaneAvailable").0, "False");
    let status = p.status.as_ref().expect("status");
    assert_eq!(
        status.endpoint.as_deref(),
        Some("http://shop.acme.svc:8000")
    );
    assert_eq!(
        status.keys_secret_ref.as_ref().map(|r| r.name.as_str()),
        Some("shop-keys")
    );
    assert_eq!(status.observed_generation, reconciled_generation);

    // Keys: HS256 JWTs verifiable with the stored secret, Supabase claims.
    let keys: Secret = h.get("shop-keys").await.expect("keys secret");
    let jwt_secret = secret_value(&keys, "jwt-secret").expect("jwt-secret");
    assert_eq!(jwt_secret.len(), 64);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["supabase"]);
    for (key, role) in [("anon-key", "anon"), ("service-role-key", "service_role")] {
        let token = secret_value(&keys, key).expect("key");
        let claims = jsonwebtoken::decode::<ApiKeyClaims>(
            &token,
            &DecodingKey::from_secret(jwt_secret.as_bytes()),
            &validation,
        )
        .expect("verifies")
        .claims;
        assert_eq!(
            (claims.project_ref.as_str(), claims.role.as_str()),
            ("shop", role)
        );
    }
    assert_eq!(
        keys.metadata
            .owner_references
            .as_ref()
            .map(|o| o[0].kind.as_str()),
        Some("MadBaseProject")
    );

    // Database: provisioned on the pool, URL Secret written once.
    assert_eq!(
        *h.postgres.calls.lock().expect("lock"),
        ["provision mb_acme_shop mb_acme_shop api_mb_acme_shop"]
    );
    let db: Secret = h.get("shop-db").await.expect("db secret");
    let uri = secret_value(&db, "uri").expect("uri");
    assert!(
        uri.starts_with("postgres://mb_acme_shop:")
            && uri.ends_with("@pg.db.svc:5432/mb_acme_shop"),
        "{uri}"
    );
    // The data API's own login: its role in the ConfigMap, its password beside the URL.
    assert_eq!(
        secret_value(&db, "api-username").as_deref(),
        Some("api_mb_acme_shop")
    );
    let api_password = secret_value(&db, "api-password").expect("api password");
    assert_eq!(api_password.len(), 32);
    assert!(!uri.contains(&api_password), "a password of its own");

    // Bucket and data plane.
    assert_eq!(
        *h.buckets.calls.lock().expect("lock"),
        ["ensure mb-acme-shop"]
    );
    let storage: Secret = h.get("shop-storage").await.expect("storage secret");
    assert_eq!(
        secret_value(&storage, "access-key-id").as_deref(),
        Some("id")
    );
    let cm: ConfigMap = h.get("shop-config").await.expect("configmap");
    assert_eq!(
        cm.data
            .as_ref()
            .and_then(|d| d.get("MADBASE_S3_BUCKET"))
            .map(String::as_str),
        Some("mb-acme-shop")
    );
    assert_eq!(
        cm.data
            .as_ref()
            .and_then(|d| d.get("MADBASE_DB_API_USER"))
            .map(String::as_str),
        Some("api_mb_acme_shop")
    );
    let deployment: Deployment = h.get("shop").await.expect("deployment");
    assert_eq!(
        secret_source(&deployment, "MADBASE_DB_API_PASSWORD"),
        ("shop-db".to_owned(), "api-password".to_owned())
    );
    let labels = deployment.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("madbase-operator")
    );
    let service: Service = h.get("shop").await.expect("service");
    assert_eq!(
        service.spec.and_then(|s| s.type_).as_deref(),
        Some("ClusterIP")
    );
    assert!(h.get::<PodDisruptionBudget>("shop").await.is_none());
}

#[tokio::test]
async fn second_reconcile_keeps_keys_and_passwords_and_becomes_ready() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.reconcile().await.expect("first");
    let keys_before: Secret = h.get("shop-keys").await.expect("keys");
    let db_before: Secret = h.get("shop-db").await.expect("db");
    let first_status = h.project().await.status;

    h.make_deployment_available().await;
    let action = h.reconcile().await.expect("second");
    assert_eq!(
        action,
        Action::await_change(),
        "ready projects wait for changes"
    );
    let keys_after: Secret = h.get("shop-keys").await.expect("keys");
    assert_eq!(
        keys_before.data, keys_after.data,
        "keys are never regenerated"
    );
    assert_eq!(
        keys_before.metadata.resource_version, keys_after.metadata.resource_version,
        "never written again"
    );
    let db_after: Secret = h.get("shop-db").await.expect("db");
    assert_eq!(db_before.data, db_after.data, "password is reused");

    let p = h.project().await;
    assert_eq!(phase(&p), Some(Phase::Ready));
    assert_eq!(condition(&p, "Ready"), ("True".into(), "Available".into()));
    // KeysReady did not flip, so its transition time is the first one.
    let t = |s: &Option<madbase_crds::MadBaseProjectStatus>| -> Time {
        s.as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "KeysReady"))
            .map(|c| c.last_transition_time.clone())
            .expect("time")
    };
    assert_eq!(t(&first_status), t(&p.status));

    // A third pass with nothing changed writes no status (the Deployment controller has caught
    // up with the second apply, as on a real cluster).
    let rv = p.metadata.resource_version.clone();
    h.make_deployment_available().await;
    h.reconcile().await.expect("third");
    assert_eq!(h.project().await.metadata.resource_version, rv);
}

#[tokio::test]
async fn a_database_secret_from_before_the_api_login_is_completed_and_its_url_kept() {
    let written_before = Secret {
        metadata: ObjectMeta {
            name: Some("shop-db".into()),
            namespace: Some(NS.into()),
            labels: Some(madbase_operator::apply::managed_labels("shop")),
            ..ObjectMeta::default()
        },
        data: Some(
            [
                (
                    "uri",
                    "postgres://mb_acme_shop:OldPassw0rdOldPassw0rd@pg.db.svc:5432/mb_acme_shop",
                ),
                ("username", "mb_acme_shop"),
                ("password", "OldPassw0rdOldPassw0rd"),
                ("database", "mb_acme_shop"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect(),
        ),
        ..Secret::default()
    };
    let h = Harness::new(vec![shared_project()], vec![written_before]).await;
    h.reconcile().await.expect("reconcile");
    let db: Secret = h.get("shop-db").await.expect("db");
    assert_eq!(
        secret_value(&db, "password").as_deref(),
        Some("OldPassw0rdOldPassw0rd"),
        "the owner's password is reused"
    );
    assert!(secret_value(&db, "uri").is_some_and(|u| u.contains("OldPassw0rdOldPassw0rd")));
    assert_eq!(
        secret_value(&db, "api-username").as_deref(),
        Some("api_mb_acme_shop")
    );
    let api_password = secret_value(&db, "api-password").expect("added");
    // A later pass keeps it: the role's password and the pods' must not drift apart.
    h.reconcile().await.expect("again");
    let again: Secret = h.get("shop-db").await.expect("db");
    assert_eq!(secret_value(&again, "api-password"), Some(api_password));
}

#[tokio::test]
async fn changed_settings_roll_the_pods_and_replicas_add_a_pdb() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.reconcile().await.expect("first");
    let before: Deployment = h.get("shop").await.expect("deployment");
    h.spec(serde_json::json!({"dataPlane": {"logLevel": "debug", "replicas": 2}}))
        .await;
    h.reconcile().await.expect("second");
    let after: Deployment = h.get("shop").await.expect("deployment");
    assert_ne!(config_hash(&before), config_hash(&after));
    assert!(h.get::<PodDisruptionBudget>("shop").await.is_some());
    h.spec(serde_json::json!({"dataPlane": {"replicas": 1}}))
        .await;
    h.reconcile().await.expect("third");
    assert!(
        h.get::<PodDisruptionBudget>("shop").await.is_none(),
        "PDB removed below two replicas"
    );
}

#[tokio::test]
async fn ingress_is_created_and_removed_with_the_spec() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.spec(serde_json::json!({"exposure": {"ingress": {"host": "shop.example.com", "tlsSecretName": "shop-tls"}}})).await;
    h.reconcile().await.expect("first");
    let ingress: Ingress = h.get("shop").await.expect("ingress");
    assert_eq!(
        ingress
            .spec
            .and_then(|s| s.rules)
            .map(|r| r[0].host.clone()),
        Some(Some("shop.example.com".into()))
    );
    assert_eq!(
        h.project().await.status.and_then(|s| s.endpoint).as_deref(),
        Some("https://shop.example.com")
    );
    h.spec(serde_json::json!({"exposure": {"ingress": null}}))
        .await;
    h.reconcile().await.expect("second");
    assert!(h.get::<Ingress>("shop").await.is_none());
}

#[tokio::test]
async fn stopped_scales_to_zero_and_keeps_everything() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.reconcile().await.expect("first");
    h.spec(serde_json::json!({"stopped": true})).await;
    let action = h.reconcile().await.expect("stopped");
    assert_eq!(action, Action::await_change());
    let d: Deployment = h.get("shop").await.expect("deployment kept");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(0));
    assert!(h.get::<Secret>("shop-keys").await.is_some());
    let p = h.project().await;
    assert_eq!(phase(&p), Some(Phase::Stopped));
}

#[tokio::test]
async fn paused_applies_nothing_but_keeps_status_fresh() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.reconcile().await.expect("first");
    h.spec(serde_json::json!({"paused": true, "dataPlane": {"replicas": 5}}))
        .await;
    let action = h.reconcile().await.expect("paused");
    assert_eq!(action, Action::await_change());
    let d: Deployment = h.get("shop").await.expect("deployment");
    assert_eq!(
        d.spec.and_then(|s| s.replicas),
        Some(1),
        "not applied while paused"
    );
    let p = h.project().await;
    assert_eq!(phase(&p), Some(Phase::Paused));
    assert_eq!(
        condition(&p, "ReconciliationPaused"),
        ("True".into(), "Paused".into())
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.observed_generation),
        p.metadata.generation
    );
    assert_eq!(
        h.postgres.calls.lock().expect("lock").len(),
        1,
        "no provisioning while paused"
    );
}

#[tokio::test]
async fn rotation_annotation_mints_new_keys_once() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.reconcile().await.expect("first");
    let before = secret_value(
        &h.get::<Secret>("shop-keys").await.expect("keys"),
        "jwt-secret",
    );
    h.projects()
        .patch("shop", &PatchParams::default(), &Patch::Merge(&serde_json::json!({"metadata": {"annotations": {"madbase.io/rotate-keys": "2026-11-28T10:00:00Z"}}})))
        .await
        .expect("annotate");
    h.reconcile().await.expect("rotate");
    let rotated = h.get::<Secret>("shop-keys").await.expect("keys");
    assert_ne!(before, secret_value(&rotated, "jwt-secret"));
    let rv = rotated.metadata.resource_version.clone();
    h.reconcile().await.expect("again");
    assert_eq!(
        h.get::<Secret>("shop-keys")
            .await
            .expect("keys")
            .metadata
            .resource_version,
        rv,
        "same token: no second rotation"
    );
}

#[tokio::test]
async fn bring_your_own_jwt_secret_signs_the_keys() {
    let mut p = shared_project();
    p.spec.auth.jwt_secret_ref = Some(madbase_crds::SecretKeyRef {
        name: "supabase-jwt".into(),
        key: None,
    });
    let byo = "my-migrated-supabase-jwt-secret-0123456789";
    let h = Harness::new(
        vec![p],
        vec![secret("supabase-jwt", &[("jwt-secret", byo)])],
    )
    .await;
    h.reconcile().await.expect("reconcile");
    let keys: Secret = h.get("shop-keys").await.expect("keys");
    assert_eq!(secret_value(&keys, "jwt-secret").as_deref(), Some(byo));
    let token = secret_value(&keys, "anon-key").expect("anon");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    assert!(
        jsonwebtoken::decode::<ApiKeyClaims>(
            &token,
            &DecodingKey::from_secret(byo.as_bytes()),
            &validation
        )
        .is_ok()
    );
}

#[tokio::test]
async fn missing_secret_fails_the_project_and_is_retried() {
    let h = Harness::new(vec![external_project()], vec![]).await;
    let err = h.reconcile().await.expect_err("secret missing");
    assert_eq!(err.metric_label(), "dereference");
    let p = h.project().await;
    assert_eq!(phase(&p), Some(Phase::Failed));
    assert_eq!(
        condition(&p, "Ready"),
        ("False".into(), "SecretNotFound".into())
    );
    assert!(h.get::<Deployment>("shop").await.is_none(), "nothing built");
}

#[tokio::test]
async fn unreachable_database_is_not_a_failure() {
    let h = Harness::new(
        vec![external_project()],
        vec![secret(
            "shop-database",
            &[("uri", "postgres://shop:pw@db.example.com/shop")],
        )],
    )
    .await;
    *h.postgres.fail_with.lock().expect("lock") =
        Some(PostgresError::Unreachable("connection refused".into()));
    let err = h.reconcile().await.expect_err("unreachable");
    assert!(matches!(err, ReconcileError::Database(_)));
    let p = h.project().await;
    assert_eq!(
        phase(&p),
        Some(Phase::Provisioning),
        "transient: never Failed"
    );
    assert_eq!(
        condition(&p, "DatabaseReady"),
        ("False".into(), "DatabaseUnreachable".into())
    );
    assert_eq!(condition(&p, "KeysReady").0, "True");
    assert!(h.get::<Deployment>("shop").await.is_none());

    // Once reachable, the data plane reads the user's Secret directly.
    *h.postgres.fail_with.lock().expect("lock") = None;
    h.reconcile().await.expect("reachable");
    let d: Deployment = h.get("shop").await.expect("deployment");
    assert_eq!(
        secret_source(&d, "MADBASE_DATABASE_URL"),
        ("shop-database".to_owned(), "uri".to_owned())
    );
}

#[tokio::test]
async fn refused_bucket_creation_is_reported_on_storage_ready() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    *h.buckets.fail_with.lock().expect("lock") = Some(BucketError::CreateRefused {
        bucket: "mb-acme-shop".into(),
        code: "AccessDenied".into(),
        message: "no".into(),
    });
    let err = h.reconcile().await.expect_err("refused");
    assert_eq!(err.metric_label(), "bucket");
    let p = h.project().await;
    assert_eq!(
        condition(&p, "StorageReady"),
        ("False".into(), "BucketCreateFailed".into())
    );
    assert_eq!(phase(&p), Some(Phase::Provisioning));
}

#[tokio::test]
async fn invalid_spec_waits_for_a_change() {
    let mut p = shared_project();
    if let Some(s) = p.spec.database.shared.as_mut() {
        s.pool = "missing".into();
    }
    let h = Harness::new(vec![p], vec![]).await;
    assert_eq!(
        h.reconcile().await.expect("invalid is not an error"),
        Action::await_change()
    );
    let p = h.project().await;
    assert_eq!(phase(&p), Some(Phase::Failed));
    assert_eq!(condition(&p, "Ready").1, "InvalidSpec");
}

fn deleting(mut p: MadBaseProject, policy: &str) -> MadBaseProject {
    p.spec.deletion_policy = serde_json::from_value(serde_json::json!(policy)).expect("policy");
    p.metadata.finalizers = Some(vec!["madbase.io/cleanup".into()]);
    p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    p
}

#[tokio::test]
async fn delete_policy_drops_database_and_bucket_then_releases() {
    let h = Harness::new(vec![deleting(shared_project(), "Delete")], vec![]).await;
    assert_eq!(
        h.reconcile().await.expect("cleanup"),
        Action::await_change()
    );
    assert_eq!(
        *h.postgres.calls.lock().expect("lock"),
        ["drop mb_acme_shop api_mb_acme_shop mb_acme_shop"]
    );
    assert_eq!(
        *h.buckets.calls.lock().expect("lock"),
        ["delete mb-acme-shop"]
    );
    assert!(
        h.projects().get_opt("shop").await.expect("get").is_none(),
        "finalizer released"
    );
}

#[tokio::test]
async fn retain_policy_keeps_everything_and_releases() {
    let h = Harness::new(vec![deleting(shared_project(), "Retain")], vec![]).await;
    h.reconcile().await.expect("cleanup");
    assert!(h.postgres.calls.lock().expect("lock").is_empty());
    assert!(h.buckets.calls.lock().expect("lock").is_empty());
    assert!(h.projects().get_opt("shop").await.expect("get").is_none());
}

#[tokio::test]
async fn an_external_api_login_s_password_is_checked_and_a_new_one_rolls_the_pods() {
    let h = Harness::new(
        vec![external_project()],
        vec![secret(
            "shop-database",
            &[("uri", "postgres://shop:pw@db:5432/shop")],
        )],
    )
    .await;
    h.spec(serde_json::json!({"database": {"external": {
        "connectionSecretRef": {"name": "shop-database"},
        "apiLogin": {"user": "authenticator", "passwordSecretRef": {"name": "shop-database", "key": "authenticator-password"}},
    }}}))
    .await;
    // The key is not there yet: nothing is built, and the project says why.
    let err = h.reconcile().await.expect_err("key missing");
    assert_eq!(err.metric_label(), "dereference");
    assert!(err.to_string().contains("authenticator-password"), "{err}");
    assert!(h.get::<Deployment>("shop").await.is_none(), "nothing built");

    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    let with_password = |pw: &str| {
        secret(
            "shop-database",
            &[
                ("uri", "postgres://shop:pw@db:5432/shop"),
                ("authenticator-password", pw),
            ],
        )
    };
    secrets
        .replace(
            "shop-database",
            &PostParams::default(),
            &with_password("first"),
        )
        .await
        .expect("replace");
    h.reconcile().await.expect("reconcile");
    let d: Deployment = h.get("shop").await.expect("deployment");
    assert_eq!(
        secret_source(&d, "MADBASE_DB_API_PASSWORD"),
        (
            "shop-database".to_owned(),
            "authenticator-password".to_owned()
        )
    );
    let cm: ConfigMap = h.get("shop-config").await.expect("config map");
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("MADBASE_DB_API_USER")
            .map(String::as_str),
        Some("authenticator")
    );

    // A new password rolls the pods, which read it only at start.
    let before = config_hash(&d);
    secrets
        .replace(
            "shop-database",
            &PostParams::default(),
            &with_password("second"),
        )
        .await
        .expect("replace");
    h.reconcile().await.expect("reconcile");
    let after = config_hash(&h.get::<Deployment>("shop").await.expect("deployment"));
    assert_ne!(before, after);
}

#[tokio::test]
async fn app_settings_from_a_secret_are_checked_and_roll_the_pods() {
    let h = Harness::new(vec![shared_project()], vec![]).await;
    h.spec(serde_json::json!({"dataPlane": {
        "appSettings": {"jwt_exp": "3600"},
        "appSettingsSecretRefs": {"jwt_secret": {"name": "shop-app"}},
    }}))
    .await;
    // The Secret is not there yet: nothing is built, and the project says why.
    let err = h.reconcile().await.expect_err("secret missing");
    assert_eq!(err.metric_label(), "dereference");
    assert_eq!(
        condition(&h.project().await, "Ready"),
        ("False".into(), "SecretNotFound".into())
    );
    assert!(h.get::<Deployment>("shop").await.is_none(), "nothing built");

    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    secrets
        .create(
            &PostParams::default(),
            &secret("shop-app", &[("jwt_secret", "first")]),
        )
        .await
        .expect("create");
    h.reconcile().await.expect("reconcile");
    let d: Deployment = h.get("shop").await.expect("deployment");
    assert_eq!(
        secret_source(&d, "MADBASE_APP_SETTINGS_JWT_SECRET"),
        ("shop-app".to_owned(), "jwt_secret".to_owned())
    );
    assert!(
        env_source(&d, "MADBASE_APP_SETTINGS_JWT_EXP")
            .config_map_key_ref
            .is_some()
    );
    let cm: ConfigMap = h.get("shop-config").await.expect("config map");
    let data = cm.data.unwrap_or_default();
    assert_eq!(data["MADBASE_APP_SETTINGS_JWT_EXP"], "3600");
    assert!(!data.contains_key("MADBASE_APP_SETTINGS_JWT_SECRET"));
    assert!(
        !data.values().any(|v| v.contains("first")),
        "the value is not copied"
    );

    // A new value in the Secret rolls the pods, which read it only at start.
    let patch = serde_json::json!({"stringData": {"jwt_secret": "second"}});
    secrets
        .patch("shop-app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    h.reconcile().await.expect("reconcile");
    let after: Deployment = h.get("shop").await.expect("deployment");
    assert_ne!(config_hash(&d), config_hash(&after));
}
