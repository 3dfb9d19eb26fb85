//! Fixtures and tests for validation; the fixtures are shared with the build and status tests.

use super::*;
use crate::operator_config::{DatabasePool, ObjectStore};

/// Operator configuration with one pool and one object store, both named `default`.
pub(crate) fn config() -> OperatorConfig {
    let mut config = OperatorConfig::default();
    config.database_pools.insert(
        "default".into(),
        DatabasePool {
            admin_url: Some(SecretString::new(
                "postgres://admin:pw@pg.db.svc:5432/postgres",
            )),
            ..DatabasePool::default()
        },
    );
    config.object_stores.insert(
        "default".into(),
        ObjectStore {
            endpoint: Some("http://minio.minio.svc:9000".into()),
            region: "us-east-1".into(),
            force_path_style: true,
            access_key_id_file: None,
            secret_access_key_file: None,
            access_key_id: Some(SecretString::new("store-id")),
            secret_access_key: Some(SecretString::new("store-secret")),
        },
    );
    config
}

/// A project parsed from YAML, with a uid and generation as the API server would set them.
pub(crate) fn project(yaml: &str) -> MadBaseProject {
    let mut p: MadBaseProject = serde_yaml::from_str(yaml).expect("project yaml");
    p.metadata.uid = Some("0b7c5a2e-1111-4222-8333-944455556666".into());
    p.metadata.generation = Some(1);
    p
}

/// The shared-mode example from `crds/examples/shared.yaml`, in namespace `acme`.
pub(crate) fn shared() -> MadBaseProject {
    project(
        "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop, namespace: acme}
spec:
  database: {shared: {pool: default}}
",
    )
}

fn external_referenced() -> Referenced {
    Referenced {
        external_url: Some(SecretString::new("postgres://shop:pw@db.example.com/shop")),
        s3_credentials: Some((SecretString::new("id"), SecretString::new("secret"))),
        ..Referenced::default()
    }
}

/// The external-mode example, with an Ingress and two replicas.
pub(crate) fn external() -> (MadBaseProject, Referenced) {
    (
        project(include_str!("../../crds/examples/external.yaml")),
        external_referenced(),
    )
}

#[test]
fn shared_project_gets_derived_names_and_defaults() {
    let v = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    assert_eq!(v.keys.secret_name, "shop-keys");
    assert_eq!(v.storage.bucket, "mb-acme-shop");
    assert_eq!(
        v.storage.endpoint.as_deref(),
        Some("http://minio.minio.svc:9000")
    );
    assert!(
        matches!(v.storage.credentials, CredentialsSource::Operator { ref secret_name } if secret_name == "shop-storage")
    );
    match &v.database {
        DatabasePlan::Shared {
            database,
            role,
            api_role,
            secret_name,
            ..
        } => {
            assert_eq!(database, "mb_acme_shop");
            assert_eq!(role, "mb_acme_shop");
            assert_eq!(api_role, "api_mb_acme_shop");
            assert_eq!(secret_name, "shop-db");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        v.data_plane
            .settings
            .get("MADBASE_DB_API_USER")
            .map(String::as_str),
        Some("api_mb_acme_shop")
    );
    assert_eq!(
        v.data_plane
            .settings
            .get("MADBASE_DB_PRIVATE")
            .map(String::as_str),
        Some("true"),
        "other projects on the pool are kept out"
    );
    assert_eq!(v.endpoint, "http://shop.acme.svc:8000");
    assert_eq!(v.data_plane.replicas, 1);
    assert_eq!(v.data_plane.image, crate::operator_config::DEFAULT_IMAGE);
    assert_eq!(v.deletion_policy, DeletionPolicy::Retain);
}

#[test]
fn a_database_name_may_not_take_a_shared_or_api_role() {
    for (name, says) in [
        ("authenticator", "every project on the cluster shares"),
        ("service_role", "every project on the cluster shares"),
        ("api_shop", "the data API's login roles"),
    ] {
        let mut p = shared();
        if let Some(s) = p.spec.database.shared.as_mut() {
            s.database_name = Some(name.into());
        }
        let err = validate(&p, &config(), &Referenced::default()).expect_err(name);
        assert_eq!(err.0[0].path, "spec.database.shared.databaseName");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn stopped_scales_to_zero() {
    let mut p = shared();
    p.spec.stopped = true;
    p.spec.data_plane.replicas = 3;
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    assert_eq!(v.data_plane.replicas, 0);
}

#[test]
fn unknown_pool_and_store_are_reported_with_paths() {
    let mut p = shared();
    if let Some(s) = p.spec.database.shared.as_mut() {
        s.pool = "nope".into();
    }
    p.spec.storage.object_store = Some("elsewhere".into());
    let err = validate(&p, &config(), &Referenced::default()).expect_err("invalid");
    let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.database.shared.pool", "spec.storage.objectStore"]
    );
    assert!(
        err.to_string()
            .contains("pool `nope` is not configured in the operator (known: default)"),
        "{err}"
    );
}

#[test]
fn external_url_must_be_postgres() {
    let (p, mut referenced) = external();
    let v = validate(&p, &config(), &referenced).expect("valid");
    assert_eq!(
        v.database.url_secret(),
        ("shop-database".into(), "uri".into())
    );
    assert_eq!(v.endpoint, "https://shop.api.example.com");
    referenced.external_url = Some(SecretString::new("mysql://nope"));
    let err = validate(&p, &config(), &referenced).expect_err("invalid");
    assert_eq!(err.0[0].path, "spec.database.external.connectionSecretRef");
}

#[test]
fn an_external_api_login_reaches_the_settings_and_its_password_comes_from_its_secret() {
    let (mut p, referenced) = external();
    let v = validate(&p, &config(), &referenced).expect("valid");
    assert_eq!(
        v.database.api_login(),
        Some((
            "authenticator",
            Some(("shop-database".into(), "authenticator-password".into()))
        ))
    );
    assert_eq!(
        v.data_plane
            .settings
            .get("MADBASE_DB_API_USER")
            .map(String::as_str),
        Some("authenticator")
    );
    let login = p
        .spec
        .database
        .external
        .as_mut()
        .and_then(|e| e.api_login.as_mut())
        .expect("example has one");
    login.password_secret_ref.as_mut().expect("ref").key = None;
    let v = validate(&p, &config(), &referenced).expect("valid");
    assert_eq!(
        v.database.api_login().and_then(|(_, pw)| pw),
        Some(("shop-database".into(), "password".into())),
        "the key defaults to password"
    );
    if let Some(login) = p
        .spec
        .database
        .external
        .as_mut()
        .and_then(|e| e.api_login.as_mut())
    {
        login.password_secret_ref = None;
        login.user = "x".repeat(64);
    }
    let err = validate(&p, &config(), &referenced).expect_err("too long");
    assert_eq!(err.0[0].path, "spec.database.external.apiLogin.user");
    p.spec
        .database
        .external
        .as_mut()
        .expect("external")
        .api_login = None;
    let v = validate(&p, &config(), &referenced).expect("valid");
    assert_eq!(v.database.api_login(), None);
    assert!(!v.data_plane.settings.contains_key("MADBASE_DB_API_USER"));
    assert!(
        !v.data_plane.settings.contains_key("MADBASE_DB_PRIVATE"),
        "an external database's privileges are its owner's"
    );
}

#[test]
fn byo_jwt_secret_must_be_long_enough() {
    let p = shared();
    let referenced = Referenced {
        jwt_secret: Some(SecretString::new("too-short")),
        ..Referenced::default()
    };
    let err = validate(&p, &config(), &referenced).expect_err("short");
    assert_eq!(err.0[0].path, "spec.auth.jwtSecretRef");
}

#[test]
fn store_without_credentials_needs_a_project_secret() {
    let mut cfg = config();
    if let Some(store) = cfg.object_stores.get_mut("default") {
        store.access_key_id = None;
    }
    let err = validate(&shared(), &cfg, &Referenced::default()).expect_err("no creds");
    assert!(err.to_string().contains("has no credentials"), "{err}");
}

#[test]
fn long_namespace_and_name_still_produce_valid_names() {
    let mut p = shared();
    p.metadata.namespace = Some("n".repeat(63));
    p.metadata.name = Some("p".repeat(40));
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    assert_eq!(v.storage.bucket.len(), 63);
    match &v.database {
        DatabasePlan::Shared { database, .. } => assert_eq!(database.len(), 63),
        other => panic!("{other:?}"),
    }
}

#[test]
fn name_over_forty_characters_is_rejected_even_if_the_api_server_let_it_through() {
    let mut p = shared();
    p.metadata.name = Some("p".repeat(41));
    let err = validate(&p, &config(), &Referenced::default()).expect_err("long");
    assert_eq!(err.0[0].path, "metadata.name");
}

#[test]
fn endpoint_prefers_external_url_then_ingress_then_route() {
    let mut exposure = ExposureSpec::default();
    assert_eq!(endpoint("a", "ns", &exposure), "http://a.ns.svc:8000");
    exposure.http_route = Some(madbase_crds::HttpRouteExposure {
        hostnames: vec!["a.example.com".into()],
        parent_refs: vec![],
    });
    assert_eq!(endpoint("a", "ns", &exposure), "https://a.example.com");
    exposure.external_url = Some("https://cdn.example.com/".into());
    assert_eq!(endpoint("a", "ns", &exposure), "https://cdn.example.com");
}

#[test]
fn data_plane_tuning_reaches_its_settings() {
    let mut p = shared();
    p.spec.data_plane.db_pool_size = Some(20);
    p.spec.data_plane.db_read_lanes = Some(0);
    p.spec.data_plane.db_pool_max_idletime = Some(5);
    p.spec.data_plane.db_pool_acquisition_timeout = Some(2);
    p.spec.data_plane.db_pool_max_lifetime = Some(0);
    p.spec.data_plane.db_max_rows = Some(500);
    p.spec.data_plane.openapi_mode = Some(madbase_config::OpenApiMode::IgnorePrivileges);
    p.spec.data_plane.db_prepared_statements = Some(false);
    p.spec.data_plane.db_aggregates_enabled = Some(true);
    p.spec.data_plane.db_plan_enabled = Some(false);
    p.spec.data_plane.db_pre_request = Some("api.check_request".into());
    p.spec.data_plane.db_root_spec = Some("root_doc".into());
    p.spec.data_plane.db_hoisted_tx_settings = Some(vec!["statement_timeout".into()]);
    p.spec.data_plane.db_tx_end = Some(madbase_config::DbTxEnd::RollbackAllowOverride);
    p.spec.data_plane.db_extra_search_path = Some(vec!["extensions".into(), "util".into()]);
    p.spec.data_plane.db_config = Some(false);
    p.spec.data_plane.db_pre_config = Some("postgrest.pre_config".into());
    p.spec.data_plane.jwt_aud = Some("https://app.example.com".into());
    p.spec.data_plane.jwt_role_claim_key = Some(".app_metadata.role".into());
    p.spec.data_plane.server_timing_enabled = Some(true);
    p.spec.data_plane.jwt_cache_max_entries = Some(0);
    p.spec.data_plane.openapi_security_active = Some(true);
    p.spec.data_plane.log_query = Some(true);
    p.spec.data_plane.db_anon_role = Some("web_anon".into());
    p.spec.data_plane.db_channel = Some("my_reloads".into());
    p.spec.data_plane.db_channel_enabled = Some(false);
    p.spec.data_plane.app_settings = [("jwt_exp".to_owned(), "3600".to_owned())].into();
    p.spec.data_plane.openapi_server_proxy_uri = Some("https://api.example.com/rest/v1".into());
    p.spec.data_plane.cors_allowed_origins = Some(vec![
        "https://app.example.com".into(),
        "http://localhost:3000".into(),
    ]);
    p.spec.data_plane.client_error_verbosity = Some(madbase_config::ClientErrorVerbosity::Minimal);
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    let s = &v.data_plane.settings;
    assert_eq!(s["MADBASE_DB_POOL_SIZE"], "20");
    assert_eq!(s["MADBASE_DB_READ_LANES"], "0");
    assert_eq!(s["MADBASE_DB_POOL_MAX_IDLETIME"], "5");
    assert_eq!(s["MADBASE_DB_POOL_ACQUISITION_TIMEOUT"], "2");
    assert_eq!(s["MADBASE_DB_POOL_MAX_LIFETIME"], "0");
    assert_eq!(s["MADBASE_DB_MAX_ROWS"], "500");
    assert_eq!(s["MADBASE_OPENAPI_MODE"], "ignore-privileges");
    assert_eq!(s["MADBASE_DB_PREPARED_STATEMENTS"], "false");
    assert_eq!(s["MADBASE_DB_AGGREGATES_ENABLED"], "true");
    assert_eq!(s["MADBASE_DB_PLAN_ENABLED"], "false");
    assert_eq!(s["MADBASE_DB_PRE_REQUEST"], "api.check_request");
    assert_eq!(s["MADBASE_DB_ROOT_SPEC"], "root_doc");
    assert_eq!(s["MADBASE_DB_HOISTED_TX_SETTINGS"], "statement_timeout");
    assert_eq!(s["MADBASE_DB_TX_END"], "rollback-allow-override");
    assert_eq!(s["MADBASE_DB_EXTRA_SEARCH_PATH"], "extensions,util");
    assert_eq!(s["MADBASE_DB_CONFIG"], "false");
    assert_eq!(s["MADBASE_DB_PRE_CONFIG"], "postgrest.pre_config");
    assert_eq!(s["MADBASE_JWT_AUD"], "https://app.example.com");
    assert_eq!(s["MADBASE_JWT_ROLE_CLAIM_KEY"], ".app_metadata.role");
    assert_eq!(s["MADBASE_SERVER_TIMING_ENABLED"], "true");
    assert_eq!(s["MADBASE_JWT_CACHE_MAX_ENTRIES"], "0");
    assert_eq!(s["MADBASE_OPENAPI_SECURITY_ACTIVE"], "true");
    assert_eq!(s["MADBASE_LOG_QUERY"], "main-query");
    assert_eq!(s["MADBASE_DB_ANON_ROLE"], "web_anon");
    assert_eq!(s["MADBASE_DB_CHANNEL"], "my_reloads");
    assert_eq!(s["MADBASE_DB_CHANNEL_ENABLED"], "false");
    assert_eq!(s["MADBASE_APP_SETTINGS_JWT_EXP"], "3600");
    assert_eq!(
        s["MADBASE_OPENAPI_SERVER_PROXY_URI"],
        "https://api.example.com/rest/v1"
    );
    assert_eq!(
        s["MADBASE_CORS_ALLOWED_ORIGINS"],
        "https://app.example.com,http://localhost:3000"
    );
    assert_eq!(s["MADBASE_CLIENT_ERROR_VERBOSITY"], "minimal");
    p.spec.data_plane.db_hoisted_tx_settings = Some(Vec::new());
    let v = validate(&p, &config(), &Referenced::default()).expect("valid");
    assert_eq!(
        v.data_plane.settings["MADBASE_DB_HOISTED_TX_SETTINGS"],
        "none"
    );
    let v = validate(&shared(), &config(), &Referenced::default()).expect("valid");
    for unset in [
        "MADBASE_DB_READ_LANES",
        "MADBASE_DB_POOL_MAX_IDLETIME",
        "MADBASE_DB_POOL_MAX_LIFETIME",
        "MADBASE_DB_POOL_ACQUISITION_TIMEOUT",
        "MADBASE_OPENAPI_MODE",
        "MADBASE_DB_PREPARED_STATEMENTS",
        "MADBASE_DB_AGGREGATES_ENABLED",
        "MADBASE_DB_PRE_REQUEST",
        "MADBASE_DB_ROOT_SPEC",
        "MADBASE_DB_HOISTED_TX_SETTINGS",
        "MADBASE_DB_TX_END",
        "MADBASE_DB_EXTRA_SEARCH_PATH",
        "MADBASE_DB_CONFIG",
        "MADBASE_DB_PRE_CONFIG",
        "MADBASE_JWT_AUD",
        "MADBASE_JWT_ROLE_CLAIM_KEY",
        "MADBASE_SERVER_TIMING_ENABLED",
        "MADBASE_JWT_CACHE_MAX_ENTRIES",
        "MADBASE_CORS_ALLOWED_ORIGINS",
        "MADBASE_OPENAPI_SECURITY_ACTIVE",
        "MADBASE_OPENAPI_SERVER_PROXY_URI",
        "MADBASE_CLIENT_ERROR_VERBOSITY",
        "MADBASE_LOG_QUERY",
        "MADBASE_DB_ANON_ROLE",
        "MADBASE_DB_CHANNEL",
        "MADBASE_DB_CHANNEL_ENABLED",
    ] {
        assert!(
            !v.data_plane.settings.contains_key(unset),
            "the data plane's default applies: {unset}"
        );
    }
}

#[test]
fn data_api_function_and_setting_names_the_data_plane_would_refuse_fail_the_spec() {
    let mut p = shared();
    p.spec.data_plane.db_pre_request = Some("api.check; drop".into());
    p.spec.data_plane.db_root_spec = Some("api.root".into());
    p.spec.data_plane.db_hoisted_tx_settings =
        Some(vec!["statement_timeout".into(), "Work Mem".into()]);
    p.spec.data_plane.db_extra_search_path = Some(vec!["a,b".into()]);
    p.spec.data_plane.db_pre_config = Some("pre config".into());
    p.spec.data_plane.jwt_role_claim_key = Some("app_metadata.role".into());
    p.spec.data_plane.jwt_aud = Some("line\nbreak".into());
    p.spec.data_plane.cors_allowed_origins = Some(vec!["https://app.example.com/".into()]);
    p.spec.data_plane.openapi_server_proxy_uri = Some("api.example.com".into());
    p.spec.data_plane.app_settings = [
        ("Bad-Name".to_owned(), "x".to_owned()),
        ("jwt_secret".to_owned(), "plain".to_owned()),
    ]
    .into();
    let secret_ref = |name: &str| madbase_crds::SecretKeyRef {
        name: name.into(),
        key: None,
    };
    p.spec.data_plane.app_settings_secret_refs = [
        ("jwt_secret".to_owned(), secret_ref("app")),
        ("Bad Name".to_owned(), secret_ref("app")),
    ]
    .into();
    p.spec.data_plane.db_channel = Some("reload-channel".into());
    p.spec.data_plane.db_anon_role = Some("r".repeat(64));
    let err = validate(&p, &config(), &Referenced::default()).expect_err("invalid");
    let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.dataPlane.appSettings",
            "spec.dataPlane.appSettingsSecretRefs",
            "spec.dataPlane.appSettingsSecretRefs",
            "spec.dataPlane.jwtAud",
            "spec.dataPlane.jwtRoleClaimKey",
            "spec.dataPlane.openapiServerProxyUri",
            "spec.dataPlane.dbChannel",
            "spec.dataPlane.dbAnonRole",
            "spec.dataPlane.dbPreRequest",
            "spec.dataPlane.dbPreConfig",
            "spec.dataPlane.dbRootSpec",
            "spec.dataPlane.corsAllowedOrigins",
            "spec.dataPlane.dbExtraSearchPath",
            "spec.dataPlane.dbHoistedTxSettings"
        ]
    );
    let hoisted = err.0.last().expect("problems");
    assert!(
        hoisted.message.contains("`Work Mem`"),
        "{}",
        hoisted.message
    );
}

#[test]
fn cnpg_clusters_can_be_limited_to_those_the_operator_offers() {
    let p = project(include_str!("../../crds/examples/cnpg.yaml"));
    let mut cfg = config();
    cfg.cnpg_clusters = Some(vec!["databases/shared-pg".into()]);
    validate(&p, &cfg, &Referenced::default()).expect("offered");
    cfg.cnpg_clusters = Some(vec!["databases/other-pg".into()]);
    let err = validate(&p, &cfg, &Referenced::default()).expect_err("not offered");
    assert_eq!(err.0[0].path, "spec.database.cnpg.clusterRef");
    assert!(
        err.to_string()
            .contains("Cluster databases/shared-pg is not one the operator offers (offered: databases/other-pg)"),
        "{err}"
    );
    cfg.cnpg_clusters = None;
    validate(&p, &cfg, &Referenced::default()).expect("any, when unset");
}
