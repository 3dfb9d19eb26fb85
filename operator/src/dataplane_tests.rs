//! Build tests: golden YAML of every built object for representative projects, and the settings
//! contract between the Deployment and `madbase serve`.

use super::*;
use crate::validate::tests::{config, external, project, shared};
use crate::validate::{Referenced, validate};
use k8s_openapi::api::core::v1::EnvVar;
use madbase_crds::MadBaseProject;

/// The owner reference the reconciler derives for the validated project.
fn owner(v: &ValidatedProject) -> OwnerReference {
    OwnerReference {
        api_version: "madbase.io/v1alpha1".into(),
        kind: "MadBaseProject".into(),
        name: v.name.clone(),
        uid: v.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn golden(objects: &DataPlaneObjects) -> String {
    let mut docs = vec![
        serde_yaml::to_string(&objects.config_map),
        serde_yaml::to_string(&objects.deployment),
        serde_yaml::to_string(&objects.service),
    ];
    if let Some(s) = &objects.storage_secret {
        // Never snapshot credentials.
        let mut s = s.clone();
        s.data = s.data.map(|d| {
            d.into_keys()
                .map(|k| (k, ByteString(b"<redacted>".to_vec())))
                .collect()
        });
        docs.push(serde_yaml::to_string(&s));
    }
    if let Some(i) = &objects.ingress {
        docs.push(serde_yaml::to_string(i));
    }
    if let Some(r) = &objects.http_route {
        docs.push(serde_yaml::to_string(r));
    }
    if let Some(p) = &objects.pdb {
        docs.push(serde_yaml::to_string(p));
    }
    docs.into_iter()
        .map(|d| d.expect("yaml"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn shared_project_objects() {
    let v = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    assert!(objects.ingress.is_none() && objects.http_route.is_none() && objects.pdb.is_none());
    insta::assert_snapshot!(golden(&objects));
}

#[test]
fn external_project_with_ingress_and_pdb() {
    let (p, referenced) = external();
    let v = validate(&p, &config(), &referenced).expect("valid");
    let objects = build(&v, &owner(&v));
    assert!(
        objects.storage_secret.is_none(),
        "the project brings its own S3 credentials"
    );
    assert!(objects.pdb.is_some());
    insta::assert_snapshot!(golden(&objects));
}

#[test]
fn cnpg_project_with_http_route_and_objects() {
    let p = project(include_str!("../../crds/examples/cnpg.yaml"));
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let database = crate::cnpg::database(&v, &owner(&v)).expect("cnpg Database");
    let roles = crate::cnpg::role_entries(&v, crate::cnpg::Ensure::Present);
    let role: Vec<_> = roles
        .iter()
        .filter(|e| e["comment"] != crate::cnpg::LAYOUT_COMMENT)
        .collect();
    let mut text = golden(&objects);
    text.push_str("---\n");
    text.push_str(&serde_yaml::to_string(&database).expect("yaml"));
    text.push_str(
        "--- # the project's entries in Cluster databases/shared-pg spec.managed.roles\n",
    );
    text.push_str(&serde_yaml::to_string(&role).expect("yaml"));
    insta::assert_snapshot!(text);
}

#[test]
fn stopped_project_has_zero_replicas_and_no_pdb() {
    let mut p = shared();
    p.spec.stopped = true;
    p.spec.data_plane.replicas = 4;
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    assert_eq!(
        objects.deployment.spec.as_ref().and_then(|s| s.replicas),
        Some(0)
    );
    assert!(objects.pdb.is_none());
}

fn env_of(objects: &DataPlaneObjects) -> Vec<EnvVar> {
    objects
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default()
}

/// The contract test: every variable the Deployment sets is in `madbase_config::SETTINGS`, secret
/// ones come from Secrets and the rest from the ConfigMap, every required one is present, and the
/// ConfigMap holds exactly the non-secret ones.
#[test]
fn deployment_env_follows_the_settings_contract() {
    let (p, referenced) = external();
    for v in [
        validate(&shared(), &config(), &Referenced::default()).expect("valid"),
        validate(&p, &config(), &referenced).expect("valid"),
        validate(&auth_project(), &config(), &Referenced::default()).expect("valid"),
        validate(&with_app_settings(), &config(), &Referenced::default()).expect("valid"),
    ] {
        let objects = build(&v, &owner(&v));
        let env = env_of(&objects);
        let is_app = |name: &str| name.starts_with(madbase_config::APP_SETTINGS_PREFIX);
        for var in env.iter().filter(|var| is_app(&var.name)) {
            let from = var.value_from.as_ref().expect("valueFrom");
            let in_config_map = objects
                .config_map
                .data
                .as_ref()
                .is_some_and(|d| d.contains_key(&var.name));
            assert_eq!(
                from.config_map_key_ref.is_some(),
                in_config_map,
                "{}",
                var.name
            );
            assert_eq!(
                from.secret_key_ref.is_some(),
                !in_config_map,
                "{}",
                var.name
            );
        }
        for var in env.iter().filter(|var| !is_app(&var.name)) {
            let setting = madbase_config::SETTINGS
                .iter()
                .find(|s| s.env == var.name)
                .unwrap_or_else(|| {
                    panic!("{} is not in the data plane's settings contract", var.name)
                });
            let from = var.value_from.as_ref().expect("valueFrom");
            assert!(var.value.is_none(), "{} must not be inlined", var.name);
            if setting.secret {
                assert!(
                    from.secret_key_ref.is_some(),
                    "{} is secret: must use secretKeyRef",
                    var.name
                );
            } else {
                let cm = from
                    .config_map_key_ref
                    .as_ref()
                    .unwrap_or_else(|| panic!("{} must come from the ConfigMap", var.name));
                assert_eq!(cm.key, var.name);
                assert!(
                    objects
                        .config_map
                        .data
                        .as_ref()
                        .is_some_and(|d| d.contains_key(&var.name))
                );
            }
        }
        for required in madbase_config::SETTINGS.iter().filter(|s| s.required) {
            assert!(
                env.iter().any(|e| e.name == required.env),
                "required {} missing",
                required.env
            );
        }
        for key in objects.config_map.data.as_ref().expect("data").keys() {
            assert!(
                env.iter().any(|e| &e.name == key),
                "ConfigMap key {key} is not used"
            );
            assert!(
                is_app(key)
                    || madbase_config::SETTINGS
                        .iter()
                        .any(|s| s.env == key && !s.secret),
                "{key}"
            );
        }
    }
}

/// `madbase serve` would accept the configuration the operator renders: resolve every env var
/// from the ConfigMap and stand-in Secret values, then parse with the data plane's own parser.
#[test]
fn rendered_configuration_parses_with_the_data_plane_parser() {
    let v = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let data = objects.config_map.data.clone().expect("data");
    let mut values = std::collections::BTreeMap::new();
    for var in env_of(&objects) {
        let from = var.value_from.expect("valueFrom");
        let value = match (from.config_map_key_ref, from.secret_key_ref) {
            (Some(cm), _) => data[&cm.key].clone(),
            (_, Some(s)) if s.key == "uri" => "postgres://u:p@pg:5432/db".to_owned(),
            (_, Some(_)) => "0123456789abcdef0123456789abcdef".to_owned(),
            _ => panic!("{}", var.name),
        };
        values.insert(var.name, value);
    }
    let keys: Vec<String> = values.keys().cloned().collect();
    let parsed =
        madbase_config::DataPlaneConfig::from_sources(&|k| values.get(k).cloned(), &keys, None)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.project_ref, "shop");
    assert!(matches!(
        parsed.storage,
        madbase_config::StorageBackend::S3(_)
    ));
}

/// The shared project with one plain app setting and two read from a Secret (one with the
/// default key, one with its own).
fn with_app_settings() -> MadBaseProject {
    let mut p = shared();
    let dp = &mut p.spec.data_plane;
    dp.app_settings = [("jwt_exp".to_owned(), "3600".to_owned())].into();
    dp.app_settings_secret_refs = [
        (
            "jwt_secret".to_owned(),
            madbase_crds::SecretKeyRef {
                name: "shop-app".into(),
                key: None,
            },
        ),
        (
            "stripe_key".to_owned(),
            madbase_crds::SecretKeyRef {
                name: "shop-app".into(),
                key: Some("stripe".into()),
            },
        ),
    ]
    .into();
    p
}

/// App settings reach the pods, which accept them: plain ones from the ConfigMap, the others
/// through `secretKeyRef` (never in the ConfigMap); a new secret one rolls the pods.
#[test]
fn app_settings_reach_the_pods() {
    let v = validate(&with_app_settings(), &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let data = objects.config_map.data.clone().expect("data");
    assert_eq!(data["MADBASE_APP_SETTINGS_JWT_EXP"], "3600");
    assert!(!data.contains_key("MADBASE_APP_SETTINGS_JWT_SECRET"));
    let mut values = std::collections::BTreeMap::new();
    let mut from_secrets = Vec::new();
    for var in env_of(&objects) {
        let from = var.value_from.expect("valueFrom");
        let value = match (from.config_map_key_ref, from.secret_key_ref) {
            (Some(cm), _) => data[&cm.key].clone(),
            (_, Some(s)) if s.key == "uri" => "postgres://u:p@pg:5432/db".to_owned(),
            (_, Some(_)) if !var.name.starts_with(madbase_config::APP_SETTINGS_PREFIX) => {
                "0123456789abcdef0123456789abcdef".to_owned()
            }
            (_, Some(s)) => {
                from_secrets.push((var.name.clone(), s.name.clone(), s.key.clone()));
                format!("from {}/{}", s.name, s.key)
            }
            _ => panic!("{}", var.name),
        };
        values.insert(var.name, value);
    }
    for (env, secret, key) in [
        ("MADBASE_APP_SETTINGS_JWT_SECRET", "shop-app", "jwt_secret"),
        ("MADBASE_APP_SETTINGS_STRIPE_KEY", "shop-app", "stripe"),
    ] {
        assert!(
            from_secrets.contains(&(env.into(), secret.into(), key.into())),
            "{env} from {secret}/{key}: {from_secrets:?}"
        );
    }
    let keys: Vec<String> = values.keys().cloned().collect();
    let parsed =
        madbase_config::DataPlaneConfig::from_sources(&|k| values.get(k).cloned(), &keys, None)
            .unwrap_or_else(|e| panic!("{e}"));
    let app: Vec<(&str, &str)> = parsed
        .app_settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    assert_eq!(
        app,
        [
            ("jwt_exp", "3600"),
            ("jwt_secret", "from shop-app/jwt_secret"),
            ("stripe_key", "from shop-app/stripe"),
        ]
    );
    let plain_only = {
        let mut p = with_app_settings();
        p.spec.data_plane.app_settings_secret_refs.clear();
        validate(&p, &config(), &Referenced::default()).expect("valid")
    };
    assert_ne!(config_hash(&v), config_hash(&plain_only));
}

fn auth_project() -> MadBaseProject {
    project(include_str!("../../crds/examples/auth.yaml"))
}

/// Every setting `spec.auth` renders reaches the container: plain ones through the ConfigMap,
/// secret ones through `secretKeyRef` to the user's Secret, paths through mounted ConfigMaps.
#[test]
fn auth_spec_reaches_the_deployment_env() {
    let v = validate(&auth_project(), &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let env = env_of(&objects);
    let rendered = crate::auth_settings::render(&auth_project().spec.auth);
    for name in rendered.settings.keys() {
        let var = env
            .iter()
            .find(|e| &e.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the Deployment"));
        assert!(
            var.value_from
                .as_ref()
                .and_then(|f| f.config_map_key_ref.as_ref())
                .is_some()
        );
    }
    for (name, (secret, key)) in &rendered.secrets {
        let var = env
            .iter()
            .find(|e| &e.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the Deployment"));
        let from = var
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("{name} must come from a Secret"));
        assert_eq!((&from.name, &from.key), (secret, key));
    }
    let pod = objects
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod");
    let volumes: Vec<(String, Option<String>)> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| {
            (
                v.name.clone(),
                v.config_map.as_ref().map(|c| c.name.clone()),
            )
        })
        .collect();
    assert!(volumes.contains(&("mail-templates".into(), Some("crm-mail-templates".into()))));
    assert!(volumes.contains(&("outbound-ca".into(), Some("corp-ca".into()))));
    let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_path == "/etc/madbase/outbound-ca" && m.read_only == Some(true))
    );
    insta::assert_snapshot!(golden(&objects));
}

/// `madbase serve` accepts what the full auth example renders.
#[test]
fn auth_configuration_parses_with_the_data_plane_parser() {
    let v = validate(&auth_project(), &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let data = objects.config_map.data.clone().expect("data");
    let mut values = std::collections::BTreeMap::new();
    for var in env_of(&objects) {
        let from = var.value_from.expect("valueFrom");
        let value = match (from.config_map_key_ref, from.secret_key_ref) {
            (Some(cm), _) => data[&cm.key].clone(),
            (_, Some(s)) if s.key == "uri" => "postgres://u:p@pg:5432/db".to_owned(),
            (_, Some(_)) if var.name == "MADBASE_AUTH_JWT_KEYS" => "[]".to_owned(),
            (_, Some(_)) => "0123456789abcdef0123456789abcdef".to_owned(),
            _ => panic!("{}", var.name),
        };
        values.insert(var.name, value);
    }
    let keys: Vec<String> = values.keys().cloned().collect();
    let parsed =
        madbase_config::DataPlaneConfig::from_sources(&|k| values.get(k).cloned(), &keys, None)
            .unwrap_or_else(|e| panic!("{e}"));
    let auth = &parsed.auth;
    assert_eq!(auth.site_url, "https://crm.example.com");
    assert_eq!(auth.jwt_exp, 1800);
    assert_eq!(auth.password_min_length, 10);
    assert_eq!(auth.smtp_host.as_deref(), Some("smtp.example.com"));
    assert!(auth.anonymous_users && auth.phone_enabled);
    assert_eq!(
        auth.oidc.as_ref().map(|p| p.url.as_str()),
        Some("https://sso.example.com/realms/acme")
    );
}

#[test]
fn changed_settings_change_the_config_hash() {
    let base = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    let mut p = shared();
    p.spec.data_plane.log_level = Some("debug".into());
    let changed = validate(&p, &config(), &Referenced::default()).expect("valid");
    assert_ne!(config_hash(&base), config_hash(&changed));
    let mut secret_changed = base.clone();
    secret_changed
        .data_plane
        .input_versions
        .insert("secret/crm-smtp".into(), "42".into());
    assert_ne!(config_hash(&base), config_hash(&secret_changed));
    let mut rotated = base.clone();
    rotated.keys.rotation_token = Some("2026-11-28".into());
    assert_ne!(config_hash(&base), config_hash(&rotated));
    assert_eq!(config_hash(&base), config_hash(&base.clone()));
}

/// `spec.database.tls` reaches the pods: the mode as a setting, the CA bundle mounted where
/// `MADBASE_DB_SSL_ROOT_CERT` points, and a changed bundle restarts them.
#[test]
fn database_tls_reaches_the_pods() {
    let mut p = shared();
    p.spec.database.tls = Some(madbase_crds::DatabaseTls {
        ssl_mode: Some(madbase_config::DbSslMode::VerifyFull),
        ca_config_map_ref: Some(madbase_crds::ConfigMapKeyRef {
            name: "rds-ca".into(),
            key: Some("global-bundle.pem".into()),
        }),
        ca_secret_ref: None,
        crl_config_map_ref: None,
        crl_secret_ref: Some(madbase_crds::SecretKeyRef {
            name: "db-crls".into(),
            key: None,
        }),
    });
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let data = objects.config_map.data.clone().expect("data");
    let setting = |name: &str| {
        let var = env_of(&objects)
            .into_iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the Deployment"));
        let key = var
            .value_from
            .and_then(|f| f.config_map_key_ref)
            .expect("from the ConfigMap")
            .key;
        data[&key].clone()
    };
    assert_eq!(setting("MADBASE_DB_SSL_MODE"), "verify-full");
    assert_eq!(
        setting("MADBASE_DB_SSL_ROOT_CERT"),
        "/etc/madbase/db-ca/ca.crt"
    );
    assert_eq!(
        setting("MADBASE_DB_SSL_CRL"),
        "/etc/madbase/db-crl/root.crl"
    );
    let pod = objects
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "db-ca")
        .and_then(|v| v.config_map.as_ref())
        .expect("db-ca volume");
    assert_eq!(volume.name, "rds-ca");
    let items = volume.items.clone().unwrap_or_default();
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("global-bundle.pem", "ca.crt")
    );
    assert!(
        pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "db-ca"
                && m.mount_path == "/etc/madbase/db-ca"
                && m.read_only == Some(true))
    );
    // The revocation lists, from a Secret, in a volume of their own.
    let crls = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "db-crl")
        .and_then(|v| v.secret.as_ref())
        .expect("db-crl volume");
    assert_eq!(crls.secret_name.as_deref(), Some("db-crls"));
    let items = crls.items.clone().unwrap_or_default();
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("root.crl", "root.crl")
    );
    assert!(
        pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "db-crl" && m.mount_path == "/etc/madbase/db-crl")
    );
    // The bundle may come from a Secret instead (CloudNativePG's `<cluster>-ca`).
    let mut p = shared();
    p.spec.database.tls = Some(madbase_crds::DatabaseTls {
        ssl_mode: Some(madbase_config::DbSslMode::VerifyFull),
        ca_config_map_ref: None,
        ca_secret_ref: Some(madbase_crds::SecretKeyRef {
            name: "shared-pg-ca".into(),
            key: None,
        }),
        ..Default::default()
    });
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    let objects = build(&v, &owner(&v));
    let volume = objects
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|pod| pod.volumes.clone())
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "db-ca")
        .and_then(|v| v.secret)
        .expect("db-ca from a Secret");
    assert_eq!(volume.secret_name.as_deref(), Some("shared-pg-ca"));
    let items = volume.items.unwrap_or_default();
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("ca.crt", "ca.crt")
    );
    assert_eq!(
        v.data_plane.settings["MADBASE_DB_SSL_ROOT_CERT"],
        "/etc/madbase/db-ca/ca.crt"
    );
    // Without `tls`, nothing of it is rendered and the data plane's default (prefer) applies.
    let plain = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    for unset in ["MADBASE_DB_SSL_MODE", "MADBASE_DB_SSL_ROOT_CERT"] {
        assert!(!plain.data_plane.settings.contains_key(unset), "{unset}");
    }
    assert!(!plain.data_plane.mounts.iter().any(|m| m.volume == "db-ca"));
}
