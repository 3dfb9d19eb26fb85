//! The committed CRD must match the Rust types, the examples must be accepted by the CRD's schema
//! and CEL rules, and every invalid example must be rejected with its expected message.
//!
//! Set `UPDATE_GENERATED=1` to rewrite the committed files instead of failing.

use std::path::{Path, PathBuf};

use madbase_crds::{MadBaseProject, crd_yaml, helm_crd_template};
use serde_json::Value;

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn check_generated(rel: &str, expected: &str) {
    let path = repo_path(rel);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, expected).expect("write generated file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{rel} is stale: run `UPDATE_GENERATED=1 cargo test -p madbase-crds` (or `madbase-operator crd > crds/madbaseproject.yaml`) and commit the result"
    );
}

#[test]
fn committed_crd_is_up_to_date() {
    check_generated("crds/madbaseproject.yaml", &crd_yaml());
}

#[test]
fn chart_crd_is_up_to_date() {
    check_generated(
        "charts/madbase/templates/crds/madbaseproject.yaml",
        &helm_crd_template(),
    );
}

/// The CRD's openAPIV3Schema as JSON.
fn schema() -> Value {
    let crd = <MadBaseProject as kube::CustomResourceExt>::crd();
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema"),
    )
    .expect("schema json")
}

/// A structural check the API server would do before CEL: unknown fields and wrong types.
fn structural_problems(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            out.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_string() || value.is_i64()) {
            out.push(format!("{path}: must be an integer or a string"));
        }
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        out.push(format!("{path}: expected {}", ty.unwrap_or("?")));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, child) in map {
                    match props.get(key) {
                        Some(s) => structural_problems(s, child, &format!("{path}.{key}"), out),
                        None if path.is_empty() && key == "status" => {}
                        None => out.push(format!("{path}.{key}: unknown field")),
                    }
                }
                for req in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !map.contains_key(req) {
                        out.push(format!("{path}.{req}: required"));
                    }
                }
            } else if let Some(extra) = schema.get("additionalProperties")
                && extra.is_object()
            {
                for (key, child) in map {
                    structural_problems(extra, child, &format!("{path}.{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    structural_problems(item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn load(path: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(path).expect("read example");
    let value: Value = serde_yaml::from_str(&text).expect("example is YAML");
    (text, value)
}

fn examples(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path(dir))
        .expect("examples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every problem the API server would report for `value`: structure, then CEL.
fn problems(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    // The schema only describes spec and status; metadata is checked by the API server itself.
    let mut body = value.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
    }
    structural_problems(&schema(), &body, "", &mut out);
    if !out.is_empty() {
        return out;
    }
    match serde_json::from_value::<MadBaseProject>(value.clone()) {
        Err(e) => out.push(format!("does not deserialize: {e}")),
        Ok(project) => {
            if let Err(errors) = project.validate_cel() {
                out.push(errors.to_string());
            }
        }
    }
    out
}

#[test]
fn required_examples_exist() {
    let names: Vec<String> = examples("crds/examples")
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for required in ["external.yaml", "shared.yaml", "cnpg.yaml"] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
}

#[test]
fn examples_are_valid() {
    for path in examples("crds/examples") {
        let (_, value) = load(&path);
        let found = problems(&value);
        assert!(found.is_empty(), "{}: {found:?}", path.display());
    }
}

#[test]
fn invalid_examples_are_rejected_with_their_message() {
    let files = examples("crds/examples/invalid");
    assert!(files.len() >= 5);
    for path in files {
        let (text, value) = load(&path);
        let expected = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an `# expect:` line", path.display()));
        let found = problems(&value).join("\n");
        assert!(
            found.contains(expected),
            "{}: expected `{expected}`, got `{found}`",
            path.display()
        );
    }
}

#[test]
fn unknown_fields_and_wrong_types_are_structural_errors() {
    let (_, mut value) = load(&repo_path("crds/examples/shared.yaml"));
    value["spec"]["dataPlane"] = serde_json::json!({"replicas": "two", "replica": 1});
    let found = problems(&value);
    assert!(
        found
            .iter()
            .any(|p| p == ".spec.dataPlane.replicas: expected integer"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p == ".spec.dataPlane.replica: unknown field"),
        "{found:?}"
    );
}

fn project(yaml: &str) -> MadBaseProject {
    serde_yaml::from_str(yaml).expect("project yaml")
}

const BASE: &str = "
apiVersion: madbase.io/v1alpha1
kind: MadBaseProject
metadata: {name: shop, namespace: acme}
spec:
  database: {shared: {pool: default, databaseName: shop}}
  storage: {bucket: shop-files}
";

#[test]
fn bucket_cannot_change() {
    let old = project(BASE);
    let mut new = old.clone();
    new.spec.storage.bucket = Some("other-files".into());
    let err = new.validate_cel_update(&old).expect_err("immutable");
    assert!(
        err.to_string().contains("storage.bucket is immutable"),
        "{err}"
    );
    new.spec.storage.bucket = None;
    let err = new.validate_cel_update(&old).expect_err("cannot unset");
    assert!(
        err.to_string().contains("storage.bucket is immutable"),
        "{err}"
    );
    assert!(old.validate_cel_update(&old).is_ok());
}

#[test]
fn database_name_and_mode_cannot_change() {
    let old = project(BASE);
    let mut new = old.clone();
    if let Some(shared) = new.spec.database.shared.as_mut() {
        shared.database_name = Some("shop2".into());
    }
    let err = new.validate_cel_update(&old).expect_err("immutable");
    assert!(
        err.to_string().contains("databaseName is immutable"),
        "{err}"
    );

    let mut switched = old.clone();
    switched.spec.database.shared = None;
    switched.spec.database.external = Some(madbase_crds::ExternalDatabase {
        connection_secret_ref: madbase_crds::SecretKeyRef {
            name: "db".into(),
            key: None,
        },
        api_login: None,
    });
    let err = switched.validate_cel_update(&old).expect_err("mode");
    assert!(
        err.to_string().contains("database mode cannot be changed"),
        "{err}"
    );
}

#[test]
fn other_fields_may_change() {
    let old = project(BASE);
    let mut new = old.clone();
    new.spec.data_plane.replicas = 3;
    new.spec.stopped = true;
    assert!(new.validate_cel_update(&old).is_ok());
}

#[test]
fn name_length_edge_cases() {
    for (name, ok) in [
        ("a".repeat(40), true),
        ("a".repeat(41), false),
        ("a".into(), true),
        ("a-b".into(), true),
        ("-ab".into(), false),
        ("ab-".into(), false),
        ("9ab".into(), false),
    ] {
        let mut p = project(BASE);
        p.metadata.name = Some(name.clone());
        assert_eq!(p.validate_cel().is_ok(), ok, "{name}");
        assert_eq!(
            madbase_crds::naming::project_name_problem(&name).is_none(),
            ok,
            "{name}"
        );
    }
}

#[test]
fn crd_has_identity_columns_and_status() {
    let crd = <MadBaseProject as kube::CustomResourceExt>::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("madbaseprojects.madbase.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.short_names, Some(vec!["mbp".to_string()]));
    let version = &crd.spec.versions[0];
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<(String, i32)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.priority.unwrap_or(0)))
        .collect();
    assert_eq!(
        columns,
        [
            ("Phase", 0),
            ("Ready", 0),
            ("Endpoint", 0),
            ("Age", 0),
            ("Image", 1),
            ("Database", 1)
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
}

#[test]
fn every_schema_property_is_documented() {
    fn walk(schema: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (key, child) in props {
                let here = format!("{path}.{key}");
                if child.get("description").is_none() {
                    missing.push(here.clone());
                }
                walk(child, &here, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"), missing);
        }
    }
    let schema = schema();
    let mut missing = Vec::new();
    walk(&schema["properties"]["spec"], ".spec", &mut missing);
    walk(&schema["properties"]["status"], ".status", &mut missing);
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
