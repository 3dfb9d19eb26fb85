//! Fixtures shared by the integration tests: projects that read like sentences, a fake
//! Kubernetes API server (kube-fake-client) and recording stand-ins for PostgreSQL and S3 where a
//! test is about the Kubernetes side only.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, CustomResource};
use madbase_crds::MadBaseProject;
use madbase_operator::bucket::{BucketError, BucketOutcome, ObjectStoreClient};
use madbase_operator::metrics::Metrics;
use madbase_operator::operator_config::{DatabasePool, ObjectStore, OperatorConfig, SecretString};
use madbase_operator::postgres::{BoxFuture, Claim, DbTls, Login, Postgres, PostgresError};
use madbase_operator::reconcile::Context;
use madbase_operator::validate::StoragePlan;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Stand-in type so the fake API server knows CloudNativePG's `databases` plural.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "postgresql.cnpg.io",
    version = "v1",
    kind = "Database",
    namespaced,
    derive = "Default"
)]
pub struct CnpgDatabaseSpec {
    pub name: String,
}

/// Stand-in type so the fake API server knows CloudNativePG's `clusters` plural; the fake keeps
/// whatever JSON it is given, so `managed.roles` and `status` are free-form here.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "postgresql.cnpg.io",
    version = "v1",
    kind = "Cluster",
    namespaced,
    derive = "Default"
)]
pub struct CnpgClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<serde_json::Value>,
}

/// Stand-in type for Gateway API HTTPRoutes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    root = "HttpRoute",
    plural = "httproutes",
    namespaced,
    derive = "Default"
)]
pub struct HttpRouteSpec {
    pub hostnames: Vec<String>,
}

pub const NS: &str = "acme";

/// A project from YAML, in namespace `acme`.
pub fn project(yaml: &str) -> MadBaseProject {
    let mut p: MadBaseProject = serde_yaml::from_str(yaml).expect("project yaml");
    p.metadata.namespace = Some(NS.into());
    p
}

/// `shop`, a shared-mode project on pool `default`.
pub fn shared_project() -> MadBaseProject {
    project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop}
spec:
  database: {shared: {pool: default}}
",
    )
}

/// `shop`, an external-mode project reading `shop-database`.
pub fn external_project() -> MadBaseProject {
    project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop}
spec:
  database: {external: {connectionSecretRef: {name: shop-database}}}
",
    )
}

/// Where the data-plane container's variable `name` comes from; panics when it is not set.
pub fn env_source(d: &Deployment, name: &str) -> k8s_openapi::api::core::v1::EnvVarSource {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers[0].env.as_ref())
        .and_then(|env| env.iter().find(|e| e.name == name))
        .and_then(|e| e.value_from.clone())
        .unwrap_or_else(|| panic!("{name} is not read from a ConfigMap or Secret"))
}

/// The Secret and key the data-plane container's variable `name` is read from.
pub fn secret_source(d: &Deployment, name: &str) -> (String, String) {
    let r = env_source(d, name)
        .secret_key_ref
        .unwrap_or_else(|| panic!("{name} is not read from a Secret"));
    (r.name, r.key)
}

/// The configuration hash on a Deployment's pod template: a change rolls the pods.
pub fn config_hash(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("madbase.io/config-hash"))
        .cloned()
}

/// A Secret with string data.
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// Operator configuration with pool and store `default`.
pub fn config(admin_url: &str) -> OperatorConfig {
    let mut config = OperatorConfig::default();
    config.database_pools.insert(
        "default".into(),
        DatabasePool {
            admin_url: Some(SecretString::new(admin_url)),
            ..DatabasePool::default()
        },
    );
    config.object_stores.insert(
        "default".into(),
        ObjectStore {
            endpoint: Some("http://127.0.0.1:1".into()),
            region: "us-east-1".into(),
            force_path_style: true,
            access_key_id_file: None,
            secret_access_key_file: None,
            access_key_id: Some(SecretString::new("id")),
            secret_access_key: Some(SecretString::new("secret")),
        },
    );
    config
}

/// A fake API server builder that knows MadBase's and the optional kinds, with status
/// subresources, seeded with `projects` and `secrets`.
pub fn fake_builder(
    projects: Vec<MadBaseProject>,
    secrets: Vec<Secret>,
) -> kube_fake_client::ClientBuilder {
    let mut builder = kube_fake_client::ClientBuilder::new()
        .with_resource::<MadBaseProject>()
        .with_resource::<Database>()
        .with_resource::<Cluster>()
        .with_resource::<HttpRoute>()
        .with_status_subresource::<MadBaseProject>()
        .with_status_subresource::<Deployment>()
        .with_status_subresource::<Database>()
        .with_status_subresource::<Cluster>();
    for p in projects {
        builder = builder.with_object(p);
    }
    for s in secrets {
        builder = builder.with_object(s);
    }
    builder
}

/// A fake API server that knows MadBase's and the optional kinds, with status subresources.
pub async fn fake_client(projects: Vec<MadBaseProject>, secrets: Vec<Secret>) -> Client {
    fake_builder(projects, secrets)
        .build()
        .await
        .expect("fake client")
}

/// Records every call; fails on demand.
#[derive(Default)]
pub struct FakePostgres {
    pub calls: Mutex<Vec<String>>,
    pub fail_with: Mutex<Option<PostgresError>>,
}

impl FakePostgres {
    fn record(&self, call: String) -> Result<(), PostgresError> {
        self.calls.lock().expect("lock").push(call);
        match self.fail_with.lock().expect("lock").clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Postgres for FakePostgres {
    fn check<'a>(
        &'a self,
        url: &'a str,
        tls: &'a DbTls,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        let mode = tls.ssl_mode.map(|m| m.as_str()).unwrap_or("-");
        let ca = match &tls.ca_pem {
            Some(pem) => format!("ca:{}B", pem.len()),
            None => "no-ca".into(),
        };
        let crl = match &tls.crl_pem {
            Some(pem) => format!(" crl:{}B", pem.len()),
            None => String::new(),
        };
        let r = self.record(format!("check {url} {mode} {ca}{crl}"));
        Box::pin(async move { r })
    }
    fn provision<'a>(
        &'a self,
        _admin: &'a str,
        db: &'a str,
        owner: Login<'a>,
        api: Login<'a>,
        _claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        let r = self.record(format!("provision {db} {} {}", owner.role, api.role));
        Box::pin(async move { r })
    }
    fn drop_database<'a>(
        &'a self,
        _admin: &'a str,
        db: &'a str,
        roles: &'a [&'a str],
        _claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        let r = self.record(format!("drop {db} {}", roles.join(" ")));
        Box::pin(async move { r })
    }
}

/// Records every call; fails on demand.
#[derive(Default)]
pub struct FakeBuckets {
    pub calls: Mutex<Vec<String>>,
    pub fail_with: Mutex<Option<BucketError>>,
}

impl ObjectStoreClient for FakeBuckets {
    fn ensure<'a>(
        &'a self,
        plan: &'a StoragePlan,
    ) -> BoxFuture<'a, Result<BucketOutcome, BucketError>> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("ensure {}", plan.bucket));
        let r = match self.fail_with.lock().expect("lock").clone() {
            Some(e) => Err(e),
            None => Ok(BucketOutcome::Created),
        };
        Box::pin(async move { r })
    }
    fn delete<'a>(&'a self, plan: &'a StoragePlan) -> BoxFuture<'a, Result<(), BucketError>> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("delete {}", plan.bucket));
        Box::pin(async move { Ok(()) })
    }
}

/// A controller context over `client`.
pub fn context(
    client: Client,
    config: OperatorConfig,
    postgres: Arc<dyn Postgres>,
    buckets: Arc<dyn ObjectStoreClient>,
) -> Arc<Context> {
    Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "madbase-operator".into(),
                instance: None,
            },
        ),
        client,
        config: Arc::new(config),
        postgres,
        buckets,
        metrics: Arc::new(Metrics::new()),
        failures: Mutex::new(HashMap::new()),
    })
}
