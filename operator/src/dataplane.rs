//! Build (pure): the data plane's Kubernetes objects — ConfigMap, Deployment running
//! `madbase serve`, Service, Ingress or HTTPRoute, PodDisruptionBudget — from a validated project.
//!
//! Environment variable names come only from the data plane's settings contract
//! (`madbase_config::SETTINGS`, plus the project's `MADBASE_APP_SETTINGS_*`): secret settings
//! are read from Secrets through `secretKeyRef`, everything else from the ConfigMap through
//! `configMapKeyRef`. A hash of every input that the
//! pods read at start is put on the pod template, so a changed setting rolls the pods.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, SeccompProfile, Secret, SecretKeySelector, SecretVolumeSource,
    SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};
use madbase_crds::{ServiceType, naming};
use sha2::{Digest, Sha256};

use crate::apply::{managed_labels, selector_labels};
use crate::auth_settings::{FileMount, MountSource};
use crate::keys::JWT_SECRET_KEY;
use crate::validate::{CredentialsSource, DATA_PLANE_PORT, ValidatedProject};

/// Pod-template annotation carrying the hash of the pods' configuration.
pub const CONFIG_HASH_ANNOTATION: &str = "madbase.io/config-hash";

/// Name of the data-plane container.
pub const CONTAINER_NAME: &str = "madbase";

/// The Gateway API `HTTPRoute` kind.
pub fn http_route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// Everything the data plane needs from Kubernetes.
#[derive(Debug, Clone)]
pub struct DataPlaneObjects {
    /// Non-secret settings.
    pub config_map: ConfigMap,
    /// S3 credentials copied from the operator's object store, when the project has none.
    pub storage_secret: Option<Secret>,
    /// The `madbase serve` pods.
    pub deployment: Deployment,
    /// In front of the pods.
    pub service: Service,
    /// When `exposure.ingress` is set.
    pub ingress: Option<Ingress>,
    /// When `exposure.httpRoute` is set.
    pub http_route: Option<DynamicObject>,
    /// When two or more replicas run.
    pub pdb: Option<PodDisruptionBudget>,
    /// Hash of the pods' configuration.
    pub config_hash: String,
}

fn meta(project: &ValidatedProject, name: String, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(project.namespace.clone()),
        labels: Some(managed_labels(&project.name)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// Where each secret setting of the contract is read from: (Secret name, key).
fn secret_sources(project: &ValidatedProject) -> BTreeMap<&'static str, (String, String)> {
    let mut out = BTreeMap::new();
    out.insert("MADBASE_DATABASE_URL", project.database.url_secret());
    if let Some((_, Some(password))) = project.database.api_login() {
        out.insert("MADBASE_DB_API_PASSWORD", password);
    }
    out.insert(
        "MADBASE_JWT_SECRET",
        (project.keys.secret_name.clone(), JWT_SECRET_KEY.to_owned()),
    );
    let (secret, id_key, secret_key) = match &project.storage.credentials {
        CredentialsSource::Project {
            secret_name,
            access_key_id_key,
            secret_access_key_key,
        } => (
            secret_name.clone(),
            access_key_id_key.clone(),
            secret_access_key_key.clone(),
        ),
        CredentialsSource::Operator { secret_name } => (
            secret_name.clone(),
            "access-key-id".to_owned(),
            "secret-access-key".to_owned(),
        ),
    };
    out.insert("MADBASE_S3_ACCESS_KEY_ID", (secret.clone(), id_key));
    out.insert("MADBASE_S3_SECRET_ACCESS_KEY", (secret, secret_key));
    for (env, source) in &project.data_plane.secret_settings {
        if let Some(setting) = madbase_config::SETTINGS.iter().find(|s| s.env == env) {
            out.insert(setting.env, source.clone());
        }
    }
    out
}

/// A variable read from the project's ConfigMap.
fn from_config_map(config_map: &str, env: &str) -> EnvVarSource {
    EnvVarSource {
        config_map_key_ref: Some(ConfigMapKeySelector {
            name: config_map.to_owned(),
            key: env.to_owned(),
            optional: Some(false),
        }),
        ..EnvVarSource::default()
    }
}

/// A variable read from `key` of Secret `name`.
fn from_secret(name: &str, key: &str) -> EnvVarSource {
    EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name: name.to_owned(),
            key: key.to_owned(),
            optional: Some(false),
        }),
        ..EnvVarSource::default()
    }
}

/// The app settings' sources by variable (`MADBASE_APP_SETTINGS_<NAME>`, named by the project,
/// so not in the contract's list): plain ones from the ConfigMap, the others from their Secrets.
fn app_settings_sources(project: &ValidatedProject) -> BTreeMap<&str, EnvVarSource> {
    let dp = &project.data_plane;
    let config_map = naming::config_map_name(&project.name);
    let is_app = |env: &&String| env.starts_with(madbase_config::APP_SETTINGS_PREFIX);
    let plain = dp
        .settings
        .keys()
        .filter(is_app)
        .map(|env| (env.as_str(), from_config_map(&config_map, env)));
    let secret = dp
        .secret_settings
        .iter()
        .filter(|(env, _)| is_app(env))
        .map(|(env, (name, key))| (env.as_str(), from_secret(name, key)));
    plain.chain(secret).collect()
}

/// The container environment: every contract setting the project provides, in contract order,
/// then its app settings by name.
fn env(project: &ValidatedProject) -> Vec<EnvVar> {
    let secrets = secret_sources(project);
    let config_map = naming::config_map_name(&project.name);
    let contract = madbase_config::SETTINGS.iter().filter_map(|setting| {
        let value_from = if setting.secret {
            let (name, key) = secrets.get(setting.env)?;
            from_secret(name, key)
        } else {
            project.data_plane.settings.get(setting.env)?;
            from_config_map(&config_map, setting.env)
        };
        Some((setting.env, value_from))
    });
    contract
        .chain(app_settings_sources(project))
        .map(|(name, value_from)| EnvVar {
            name: name.to_owned(),
            value: None,
            value_from: Some(value_from),
        })
        .collect()
}

/// Hash of what the pods read at start: the ConfigMap's data, where each secret comes from, the
/// versions of the user's Secrets and ConfigMaps `spec.auth` points at, the mounts, and the key
/// rotation token (a rotation rewrites the keys Secret in place).
pub fn config_hash(project: &ValidatedProject) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in &project.data_plane.settings {
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    for (env, (name, key)) in secret_sources(project) {
        hasher.update(format!("{env}={name}/{key}\0").as_bytes());
    }
    for (env, (name, key)) in &project.data_plane.secret_settings {
        if env.starts_with(madbase_config::APP_SETTINGS_PREFIX) {
            hasher.update(format!("{env}={name}/{key}\0").as_bytes());
        }
    }
    for (object, version) in &project.data_plane.input_versions {
        hasher.update(format!("{object}@{version}\0").as_bytes());
    }
    for m in &project.data_plane.mounts {
        // A ConfigMap hashes as it did before Secrets could be mounted: no needless rollout.
        let source = match &m.source {
            MountSource::ConfigMap(name) => name.clone(),
            MountSource::Secret(name) => format!("secret/{name}"),
        };
        hasher.update(format!("mount {}={source}:{:?}\0", m.path, m.items).as_bytes());
    }
    if let Some(token) = &project.keys.rotation_token {
        hasher.update(format!("rotation={token}\0").as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

fn http_probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn mounted_volume(m: &FileMount) -> Volume {
    let items = (!m.items.is_empty()).then(|| {
        m.items
            .iter()
            .map(|(key, path)| KeyToPath {
                key: key.clone(),
                path: path.clone(),
                mode: None,
            })
            .collect()
    });
    match &m.source {
        MountSource::ConfigMap(name) => Volume {
            name: m.volume.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name.clone(),
                items,
                optional: Some(false),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        MountSource::Secret(name) => Volume {
            name: m.volume.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(name.clone()),
                items,
                optional: Some(false),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    }
}

fn deployment(project: &ValidatedProject, owner: &OwnerReference, hash: &str) -> Deployment {
    let dp = &project.data_plane;
    let mut pod_annotations = dp.pod_annotations.clone();
    pod_annotations.insert(CONFIG_HASH_ANNOTATION.to_owned(), hash.to_owned());
    let mut pod_labels = managed_labels(&project.name);
    pod_labels.extend(selector_labels(&project.name));
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(dp.image.clone()),
        args: Some(vec!["serve".into()]),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: DATA_PLANE_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(env(project)),
        resources: dp.resources.clone(),
        readiness_probe: Some(http_probe("/ready", 5)),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(10),
            ..http_probe("/health", 10)
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(
            std::iter::once(VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            })
            .chain(dp.mounts.iter().map(|m| VolumeMount {
                name: m.volume.into(),
                mount_path: m.path.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            }))
            .collect(),
        ),
        ..Container::default()
    };
    Deployment {
        metadata: meta(project, naming::workload_name(&project.name), owner),
        spec: Some(DeploymentSpec {
            replicas: Some(dp.replicas),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&project.name)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    node_selector: (!dp.node_selector.is_empty()).then(|| dp.node_selector.clone()),
                    tolerations: (!dp.tolerations.is_empty()).then(|| dp.tolerations.clone()),
                    volumes: Some(
                        std::iter::once(Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource::default()),
                            ..Volume::default()
                        })
                        .chain(dp.mounts.iter().map(mounted_volume))
                        .collect(),
                    ),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn service(project: &ValidatedProject, owner: &OwnerReference) -> Service {
    let exposure = &project.exposure.service;
    let mut metadata = meta(project, naming::workload_name(&project.name), owner);
    if !exposure.annotations.is_empty() {
        metadata.annotations = Some(exposure.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(
                match exposure.type_ {
                    ServiceType::ClusterIP => "ClusterIP",
                    ServiceType::NodePort => "NodePort",
                    ServiceType::LoadBalancer => "LoadBalancer",
                }
                .into(),
            ),
            selector: Some(selector_labels(&project.name)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: DATA_PLANE_PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn ingress(project: &ValidatedProject, owner: &OwnerReference) -> Option<Ingress> {
    let spec = project.exposure.ingress.as_ref()?;
    let mut metadata = meta(project, naming::workload_name(&project.name), owner);
    if !spec.annotations.is_empty() {
        metadata.annotations = Some(spec.annotations.clone());
    }
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![spec.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: naming::workload_name(&project.name),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".into()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    })
}

fn http_route(project: &ValidatedProject, owner: &OwnerReference) -> Option<DynamicObject> {
    let spec = project.exposure.http_route.as_ref()?;
    let parent_refs: Vec<serde_json::Value> = spec
        .parent_refs
        .iter()
        .map(|p| {
            let mut v = serde_json::json!({ "name": p.name });
            if let Some(ns) = &p.namespace {
                v["namespace"] = ns.clone().into();
            }
            if let Some(section) = &p.section_name {
                v["sectionName"] = section.clone().into();
            }
            v
        })
        .collect();
    let mut object = DynamicObject::new(
        &naming::workload_name(&project.name),
        &http_route_resource(),
    );
    object.metadata = meta(project, naming::workload_name(&project.name), owner);
    object.data = serde_json::json!({
        "spec": {
            "parentRefs": parent_refs,
            "hostnames": spec.hostnames,
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": naming::workload_name(&project.name), "port": DATA_PLANE_PORT}],
            }],
        }
    });
    Some(object)
}

fn pdb(project: &ValidatedProject, owner: &OwnerReference) -> Option<PodDisruptionBudget> {
    (project.data_plane.replicas >= 2).then(|| PodDisruptionBudget {
        metadata: meta(project, naming::workload_name(&project.name), owner),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&project.name)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    })
}

fn storage_secret(project: &ValidatedProject, owner: &OwnerReference) -> Option<Secret> {
    let CredentialsSource::Operator { secret_name } = &project.storage.credentials else {
        return None;
    };
    let data = BTreeMap::from([
        (
            "access-key-id".to_owned(),
            ByteString(project.storage.access_key_id.expose().as_bytes().to_vec()),
        ),
        (
            "secret-access-key".to_owned(),
            ByteString(
                project
                    .storage
                    .secret_access_key
                    .expose()
                    .as_bytes()
                    .to_vec(),
            ),
        ),
    ]);
    Some(Secret {
        metadata: meta(project, secret_name.clone(), owner),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    })
}

/// Builds every data-plane object for a validated project.
pub fn build(project: &ValidatedProject, owner: &OwnerReference) -> DataPlaneObjects {
    let hash = config_hash(project);
    let config_map = ConfigMap {
        metadata: meta(project, naming::config_map_name(&project.name), owner),
        data: Some(project.data_plane.settings.clone()),
        ..ConfigMap::default()
    };
    DataPlaneObjects {
        config_map,
        storage_secret: storage_secret(project, owner),
        deployment: deployment(project, owner, &hash),
        service: service(project, owner),
        ingress: ingress(project, owner),
        http_route: http_route(project, owner),
        pdb: pdb(project, owner),
        config_hash: hash,
    }
}

#[cfg(test)]
#[path = "dataplane_tests.rs"]
mod tests;
