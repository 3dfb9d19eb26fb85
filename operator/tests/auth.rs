//! `spec.auth` (and `spec.database.tls`'s CA bundle) through a reconcile against
//! kube-fake-client: Secrets and ConfigMaps it references
//! must exist (a missing one fails the project with a reason naming it, values are never copied),
//! the Deployment reads them by reference, and a changed Secret rolls the pods.

mod support;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use madbase_crds::{MadBaseProject, Phase};
use madbase_operator::reconcile::reconcile;
use support::*;

fn smtp_project() -> MadBaseProject {
    project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop}
spec:
  database: {shared: {pool: default}}
  auth:
    siteUrl: https://shop.example.com
    email:
      templatesConfigMap: shop-mail
      smtp: {host: smtp.example.com, user: shop, passwordSecretRef: {name: shop-smtp}}
    external:
      github: {clientId: gh-id, secretRef: {name: shop-oauth, key: github}}
",
    )
}

async fn reconcile_shop(client: &Client) -> Result<(), String> {
    reconcile_shop_with(client, Arc::new(FakePostgres::default())).await
}

/// [`reconcile_shop`] with `postgres` recording what the database step asks of it.
async fn reconcile_shop_with(client: &Client, postgres: Arc<FakePostgres>) -> Result<(), String> {
    let ctx = context(
        client.clone(),
        config("postgres://admin:pw@pg.db.svc:5432/postgres"),
        postgres,
        Arc::new(FakeBuckets::default()),
    );
    let p = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("project");
    reconcile(Arc::new(p), ctx)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn status(client: &Client) -> (Option<Phase>, String, String) {
    let p = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("project");
    let s = p.status.expect("status");
    let ready = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    (s.phase, ready.reason.clone(), ready.message.clone())
}

/// A ConfigMap with string data.
fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// Secret `name` is missing, then lacks `key`: each reconcile fails the project, naming what
/// is missing. Then the Secret gets `key` with `value`.
async fn fails_until_secret_has(client: &Client, name: &str, (key, value): (&str, &str)) {
    let err = reconcile_shop(client).await.expect_err("missing Secret");
    assert!(err.contains(name), "{err}");
    let (phase, _, message) = status(client).await;
    assert_eq!(phase, Some(Phase::Failed));
    assert!(message.contains(name), "{message}");
    let secrets = Api::<Secret>::namespaced(client.clone(), NS);
    secrets
        .create(&PostParams::default(), &secret(name, &[("other", "x")]))
        .await
        .expect("create");
    let err = reconcile_shop(client).await.expect_err("missing key");
    assert!(err.contains(key), "{err}");
    secrets
        .replace(name, &PostParams::default(), &secret(name, &[(key, value)]))
        .await
        .expect("replace");
}

#[tokio::test]
async fn referenced_auth_secrets_must_exist_and_are_passed_by_reference() {
    let client = fake_client(
        vec![smtp_project()],
        vec![secret("shop-smtp", &[("password", "smtp-pw")])],
    )
    .await;
    // The OAuth Secret is missing, then lacks its key: the project fails and says which.
    fails_until_secret_has(&client, "shop-oauth", ("github", "gh-secret")).await;
    let secrets = Api::<Secret>::namespaced(client.clone(), NS);

    // The templates ConfigMap is missing next.
    let err = reconcile_shop(&client)
        .await
        .expect_err("missing configmap");
    assert!(err.contains("shop-mail"), "{err}");
    let (_, reason, _) = status(&client).await;
    assert!(!reason.is_empty());
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &config_map("shop-mail", &[("confirmation.html", "<p>hi</p>")]),
        )
        .await
        .expect("create");

    reconcile_shop(&client).await.expect("reconcile");
    let deployment = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("deployment");
    let container = &deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod")
        .containers[0];
    let env = container.env.clone().unwrap_or_default();
    let smtp = env
        .iter()
        .find(|e| e.name == "MADBASE_SMTP_PASS")
        .expect("SMTP password env");
    assert!(smtp.value.is_none(), "never inlined");
    let from = smtp
        .value_from
        .as_ref()
        .and_then(|f| f.secret_key_ref.as_ref())
        .expect("secretKeyRef");
    assert_eq!(
        (from.name.as_str(), from.key.as_str()),
        ("shop-smtp", "password")
    );
    let cm = Api::<ConfigMap>::namespaced(client.clone(), NS)
        .get("shop-config")
        .await
        .expect("configmap");
    let text = serde_json::to_string(&cm).expect("json");
    assert!(
        !text.contains("smtp-pw") && !text.contains("gh-secret"),
        "no secret values copied"
    );
    assert_eq!(
        cm.data
            .as_ref()
            .and_then(|d| d.get("MADBASE_SITE_URL"))
            .map(String::as_str),
        Some("https://shop.example.com")
    );

    // A new SMTP password rolls the pods on the next reconcile.
    let before = config_hash(&deployment);
    secrets
        .patch(
            "shop-smtp",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"password": "new-pw"}})),
        )
        .await
        .expect("patch");
    reconcile_shop(&client).await.expect("reconcile");
    let after = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("deployment");
    assert_ne!(before, config_hash(&after));
}

#[tokio::test]
async fn the_database_ca_bundle_must_exist_and_a_new_one_rolls_the_pods() {
    let p = project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop}
spec:
  database:
    shared: {pool: default}
    tls: {sslMode: verify-full, caConfigMapRef: {name: db-ca}}
",
    );
    let client = fake_client(vec![p], vec![]).await;
    let err = reconcile_shop(&client).await.expect_err("missing CA");
    assert!(err.contains("db-ca"), "{err}");
    let (phase, _, message) = status(&client).await;
    assert_eq!(phase, Some(Phase::Failed));
    assert!(message.contains("db-ca"), "{message}");
    let bundle = |pem: &str| config_map("db-ca", &[("ca.crt", pem)]);
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), NS);
    config_maps
        .create(&PostParams::default(), &bundle("first"))
        .await
        .expect("create");
    reconcile_shop(&client).await.expect("reconcile");
    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    let before = config_hash(&deployments.get("shop").await.expect("deployment"));
    config_maps
        .replace("db-ca", &PostParams::default(), &bundle("rotated"))
        .await
        .expect("replace");
    reconcile_shop(&client).await.expect("reconcile");
    let after = config_hash(&deployments.get("shop").await.expect("deployment"));
    assert!(before.is_some());
    assert_ne!(before, after, "a new CA bundle must restart the pods");
}

#[tokio::test]
async fn a_database_ca_from_a_secret_must_exist_with_its_key() {
    let p = project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop}
spec:
  database:
    shared: {pool: default}
    tls: {sslMode: verify-full, caSecretRef: {name: pg-ca}}
",
    );
    let client = fake_client(vec![p], vec![]).await;
    fails_until_secret_has(&client, "pg-ca", ("ca.crt", "pem")).await;
    reconcile_shop(&client).await.expect("reconcile");
    let deployment = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("deployment");
    let volumes = deployment
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.volumes)
        .unwrap_or_default();
    assert!(
        volumes
            .iter()
            .any(|v| v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some("pg-ca"))
    );
}

#[tokio::test]
async fn an_external_database_is_checked_under_the_project_s_tls() {
    for (tls, want) in [
        (
            "tls: {sslMode: verify-full, caConfigMapRef: {name: db-ca}}",
            "verify-full ca:5B",
        ),
        (
            "tls: {sslMode: verify-ca, caSecretRef: {name: pg-ca, key: root.pem}}",
            "verify-ca ca:7B",
        ),
        // Revocation lists come along, from a Secret or a ConfigMap.
        (
            "tls: {sslMode: verify-full, caConfigMapRef: {name: db-ca}, crlSecretRef: {name: pg-ca, key: lists.pem}}",
            "verify-full ca:5B crl:9B",
        ),
        (
            "tls: {sslMode: verify-ca, caSecretRef: {name: pg-ca, key: root.pem}, crlConfigMapRef: {name: db-ca, key: root.crl}}",
            "verify-ca ca:7B crl:6B",
        ),
        ("tls: {sslMode: require}", "require no-ca"),
        ("{}", "- no-ca"),
    ] {
        let p = project(&format!(
            "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {{name: shop}}
spec:
  database:
    external: {{connectionSecretRef: {{name: shop-db}}}}
    {}
",
            if tls == "{}" {
                String::new()
            } else {
                tls.to_owned()
            }
        ));
        let url = "postgres://u:p@db.example.com:5432/shop";
        let client = fake_client(
            vec![p],
            vec![
                secret("shop-db", &[("uri", url)]),
                secret(
                    "pg-ca",
                    &[("root.pem", "pg-cert"), ("lists.pem", "pg-crlpem")],
                ),
            ],
        )
        .await;
        Api::<ConfigMap>::namespaced(client.clone(), NS)
            .create(
                &PostParams::default(),
                &config_map("db-ca", &[("ca.crt", "cm-ca"), ("root.crl", "cm-crl")]),
            )
            .await
            .expect("create");
        let postgres = Arc::new(FakePostgres::default());
        reconcile_shop_with(&client, postgres.clone())
            .await
            .expect("reconcile");
        let calls = postgres.calls.lock().expect("lock").clone();
        assert_eq!(calls, vec![format!("check {url} {want}")], "{tls}");
    }
}
