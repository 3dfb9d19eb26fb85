//! Pure CloudNativePG pieces: merging the project's entry into someone else's role list, reading
//! `managedRolesStatus`, and deciding whether a `Database` is applied.

use super::*;
use crate::validate::tests::{config, project};
use crate::validate::{Referenced, validate};

fn crm() -> ValidatedProject {
    let p = project(include_str!("../../crds/examples/cnpg.yaml"));
    validate(&p, &config(), &Referenced::default()).expect("valid")
}

fn present() -> Value {
    role_entry(&crm(), Ensure::Present).expect("cnpg project")
}

fn cluster(data: Value) -> DynamicObject {
    let mut c = DynamicObject::new("shared-pg", &cluster_resource());
    c.data = data;
    c
}

#[test]
fn entry_is_appended_after_other_managers_entries() {
    let others = vec![
        json!({"name": "reporting", "login": true}),
        json!({"name": "dante"}),
    ];
    let merged = merge_role(&others, &present(), "databases/shared-pg")
        .expect("no conflict")
        .expect("a write is needed");
    assert_eq!(merged.len(), 3);
    assert_eq!(&merged[..2], &others[..]);
    assert_eq!(merged[2], present());
}

#[test]
fn entry_with_server_defaults_needs_no_write() {
    let mut stored = present();
    // What the API server adds from the CRD's defaults.
    stored["inherit"] = json!(true);
    stored["connectionLimit"] = json!(-1);
    let roles = vec![json!({"name": "reporting"}), stored];
    assert_eq!(merge_role(&roles, &present(), "c"), Ok(None));
}

#[test]
fn absent_replaces_the_projects_entry_and_drops_its_password_secret() {
    let roles = vec![present(), json!({"name": "reporting"})];
    let absent = role_entry(&crm(), Ensure::Absent).expect("cnpg project");
    let merged = merge_role(&roles, &absent, "c")
        .expect("ours")
        .expect("changed");
    assert_eq!(merged[0]["ensure"], "absent");
    assert!(merged[0].get("passwordSecret").is_none());
    assert_eq!(merged[1], json!({"name": "reporting"}));
    assert_eq!(merge_role(&merged, &absent, "c"), Ok(None));
}

#[test]
fn an_entry_of_the_same_name_written_by_someone_else_is_a_conflict() {
    let roles = vec![json!({"name": "acme_crm", "login": true, "comment": "hand-written"})];
    let err = merge_role(&roles, &present(), "databases/shared-pg").expect_err("conflict");
    assert_eq!(err.role, "acme_crm");
    assert!(err.to_string().contains("databases/shared-pg"), "{err}");
}

#[test]
fn role_state_reads_managed_roles_status() {
    let c = cluster(json!({"status": {"managedRolesStatus": {
        "byStatus": {"reconciled": ["app", "acme_crm"], "reserved": ["postgres"]},
        "cannotReconcile": {"broken": ["role \"poets\" does not exist", "second"]},
    }}}));
    assert_eq!(role_state(&c, "acme_crm"), RoleState::Reconciled);
    assert_eq!(
        role_state(&c, "broken"),
        RoleState::CannotReconcile("role \"poets\" does not exist; second".into())
    );
    assert_eq!(role_state(&c, "other"), RoleState::Pending);
    assert_eq!(
        role_state(&cluster(json!({})), "acme_crm"),
        RoleState::Pending
    );
}

#[test]
fn database_is_applied_only_for_the_current_generation() {
    let mut db = database(&crm(), &OwnerReference::default()).expect("cnpg project");
    assert_eq!(database_applied(&db), Err("not applied yet".into()));
    db.metadata.generation = Some(2);
    db.data["status"] = json!({"applied": true, "observedGeneration": 1});
    assert!(database_applied(&db).is_err(), "stale status");
    db.data["status"] = json!({"applied": true, "observedGeneration": 2});
    assert_eq!(database_applied(&db), Ok(()));
    db.data["status"] = json!({"applied": false, "observedGeneration": 2, "message": "role acme_crm does not exist"});
    assert_eq!(
        database_applied(&db),
        Err("role acme_crm does not exist".into())
    );
}

#[test]
fn database_reclaim_policy_follows_deletion_policy_and_owner_stays_in_namespace() {
    let mut v = crm();
    let owner = OwnerReference::default();
    let db = database(&v, &owner).expect("cnpg project");
    assert_eq!(db.data["spec"]["databaseReclaimPolicy"], "retain");
    assert!(
        db.metadata.owner_references.is_none(),
        "cluster in another namespace: no cross-namespace owner"
    );
    v.deletion_policy = DeletionPolicy::Delete;
    if let DatabasePlan::Cnpg {
        cluster_namespace, ..
    } = &mut v.database
    {
        *cluster_namespace = v.namespace.clone();
    }
    let db = database(&v, &owner).expect("cnpg project");
    assert_eq!(db.data["spec"]["databaseReclaimPolicy"], "delete");
    assert_eq!(db.metadata.owner_references.map(|o| o.len()), Some(1));
}

#[test]
fn url_points_at_the_read_write_service() {
    assert_eq!(
        project_url("shared-pg", "databases", "acme_crm", "acme_crm", "pw"),
        "postgres://acme_crm:pw@shared-pg-rw.databases.svc:5432/acme_crm"
    );
}
