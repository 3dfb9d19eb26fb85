//! The data plane's settings contract outside the operator: `compose.yaml` may only use
//! environment variable names `madbase serve` reads and must set every required one, the auth
//! settings it uses must be ones a project can set through `spec.auth`, and the `crd`
//! subcommand prints exactly the committed CRD.

use std::path::Path;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn compose_madbase_environment_follows_the_contract() {
    let text = std::fs::read_to_string(repo("compose.yaml")).expect("compose.yaml");
    let compose: serde_yaml::Value = serde_yaml::from_str(&text).expect("compose.yaml is YAML");
    let service = &compose["services"]["madbase"];
    assert_eq!(
        service["command"][0].as_str(),
        Some("serve"),
        "the madbase service runs `madbase serve`"
    );
    let env = service["environment"]
        .as_mapping()
        .expect("environment as a map");
    let names: Vec<&str> = env.keys().filter_map(|k| k.as_str()).collect();
    for name in &names {
        assert!(
            madbase_config::SETTINGS.iter().any(|s| s.env == *name),
            "compose.yaml sets {name}, which is not in the data plane's settings contract"
        );
    }
    // Auth settings compose uses must be reachable from `spec.auth` too (the full example sets
    // every one the operator can render), so both deployments configure the same things.
    let example: madbase_crds::MadBaseProject =
        serde_yaml::from_str(include_str!("../../crds/examples/auth.yaml")).expect("example");
    let auth = madbase_operator::auth_settings::render(&example.spec.auth);
    for name in names.iter().filter(|n| {
        n.starts_with("MADBASE_AUTH_")
            || n.starts_with("MADBASE_SMTP_")
            || **n == "MADBASE_SITE_URL"
    }) {
        assert!(
            auth.settings.contains_key(*name) || auth.secrets.contains_key(*name),
            "compose.yaml sets {name}, which spec.auth cannot set"
        );
    }
    for required in madbase_config::SETTINGS.iter().filter(|s| s.required) {
        assert!(
            names.contains(&required.env),
            "compose.yaml misses required {}",
            required.env
        );
    }
    // The data API's login: the role the init script creates, with the password it is given.
    let pg_service = &compose["services"]["postgres"];
    assert_eq!(
        service["environment"]["MADBASE_DB_API_USER"].as_str(),
        Some("authenticator")
    );
    assert_eq!(
        service["environment"]["MADBASE_DB_API_PASSWORD"],
        pg_service["environment"]["AUTHENTICATOR_PASSWORD"]
    );
    let init = pg_service["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.split(':').next())
        .find(|source| source.ends_with("postgres-init.sh"))
        .expect("the init script is mounted");
    let script = std::fs::read_to_string(repo(init)).expect("the init script exists");
    assert!(script.contains("CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD :'password'"));
    let postgres =
        serde_yaml::to_string(&compose["services"]["postgres"]["command"]).expect("yaml");
    assert!(
        postgres.contains("wal_level=logical"),
        "realtime needs logical decoding"
    );
    assert!(
        compose["services"]["minio"].is_mapping(),
        "MinIO provides storage"
    );
}

#[test]
fn crd_subcommand_prints_the_committed_crd() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_madbase-operator"))
        .arg("crd")
        .output()
        .expect("run madbase-operator crd");
    assert!(out.status.success());
    let committed = std::fs::read_to_string(repo("crds/madbaseproject.yaml")).expect("crd");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}
