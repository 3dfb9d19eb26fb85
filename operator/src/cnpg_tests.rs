//! Pure CloudNativePG pieces: merging the project's entry into someone else's role list, reading
//! `managedRolesStatus`, and deciding whether a `Database` is applied.

use super::*;
use crate::validate::tests::{config, project};
use crate::validate::{Referenced, validate};

fn crm() -> ValidatedProject {
    let p = project(include_str!("../../crds/examples/cnpg.yaml"));
    validate(&p, &config(), &Referenced::default()).expect("valid")
}

fn present() -> Vec<Value> {
    role_entries(&crm(), Ensure::Present)
}

/// The project's own entries: owner, then API login.
fn own(entries: &[Value]) -> Vec<&Value> {
    entries
        .iter()
        .filter(|e| e["comment"] == crate::apply::project_mark(&crm()))
        .collect()
}

fn cluster(data: Value) -> DynamicObject {
    let mut c = DynamicObject::new("shared-pg", &cluster_resource());
    c.data = data;
    c
}

#[test]
fn entries_are_the_layout_then_the_owner_and_the_api_login() {
    let entries = present();
    let names: Vec<&str> = entries.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(&names[..9], &naming::LAYOUT_ROLES[..]);
    assert_eq!(&names[9..], ["acme_crm", "api_acme_crm"]);
    let by_name = |n: &str| entries.iter().find(|e| e["name"] == n).expect(n).clone();
    assert_eq!(by_name("service_role")["bypassrls"], true);
    assert_eq!(by_name("anon")["login"], false);
    assert_eq!(by_name("authenticator")["login"], true);
    assert!(
        by_name("authenticator").get("disablePassword").is_none(),
        "a password someone set stays"
    );
    let api = by_name("api_acme_crm");
    assert_eq!(api["inherit"], false, "acts only through SET ROLE");
    assert_eq!(
        api["inRoles"],
        json!(["anon", "authenticated", "service_role"])
    );
    assert_eq!(
        api["passwordSecret"]["name"], "acme-crm-db-api-password",
        "{api}"
    );
    assert_eq!(by_name("acme_crm")["inRoles"], api["inRoles"]);
}

#[test]
fn entries_are_appended_after_other_managers_entries() {
    let others = vec![
        json!({"name": "reporting", "login": true}),
        json!({"name": "dante"}),
    ];
    let merged = merge_roles(&others, &present(), "databases/shared-pg")
        .expect("no conflict")
        .expect("a write is needed");
    assert_eq!(merged.len(), 2 + present().len());
    assert_eq!(&merged[..2], &others[..]);
    assert_eq!(&merged[2..], &present()[..]);
}

#[test]
fn entries_with_server_defaults_need_no_write() {
    let stored: Vec<Value> = present()
        .into_iter()
        .map(|mut e| {
            // What the API server adds from the CRD's defaults.
            if e.get("inherit").is_none() {
                e["inherit"] = json!(true);
            }
            e["connectionLimit"] = json!(-1);
            e
        })
        .collect();
    let mut roles = vec![json!({"name": "reporting"})];
    roles.extend(stored);
    assert_eq!(merge_roles(&roles, &present(), "c"), Ok(None));
}

#[test]
fn a_rewrite_keeps_the_keys_the_operator_never_sets() {
    let mut roles = present();
    let owner = roles
        .iter_mut()
        .find(|e| e["name"] == "acme_crm")
        .expect("owner entry");
    owner["connectionLimit"] = json!(20);
    owner["validUntil"] = json!("2030-01-01T00:00:00Z");
    owner["login"] = json!(false);
    owner["superuser"] = json!(true);
    let merged = merge_roles(&roles, &present(), "c")
        .expect("ours")
        .expect("login is set back");
    let owner = merged
        .iter()
        .find(|e| e["name"] == "acme_crm")
        .expect("owner entry");
    assert_eq!(owner["login"], true);
    assert_eq!(owner["connectionLimit"], 20);
    assert_eq!(owner["validUntil"], "2030-01-01T00:00:00Z");
    assert!(
        owner.get("superuser").is_none(),
        "privileges never carry over"
    );
    assert_eq!(merge_roles(&merged, &present(), "c"), Ok(None));
}

#[test]
fn absent_replaces_the_projects_entries_and_leaves_the_layout() {
    let mut roles = present();
    roles.push(json!({"name": "reporting"}));
    let absent = role_entries(&crm(), Ensure::Absent);
    assert_eq!(absent.len(), 2);
    let merged = merge_roles(&roles, &absent, "c")
        .expect("ours")
        .expect("changed");
    let own = own(&merged);
    assert_eq!(own.len(), 2);
    for entry in own {
        assert_eq!(entry["ensure"], "absent");
        assert!(entry.get("passwordSecret").is_none());
    }
    assert_eq!(merged.len(), roles.len());
    assert!(
        merged
            .iter()
            .filter(|e| e["comment"] == LAYOUT_COMMENT)
            .all(|e| e["ensure"] == "present"),
        "shared roles stay"
    );
    assert_eq!(merge_roles(&merged, &absent, "c"), Ok(None));
}

#[test]
fn an_entry_of_the_same_name_written_by_someone_else_is_a_conflict() {
    for name in ["acme_crm", "api_acme_crm"] {
        let roles = vec![json!({"name": name, "login": true, "comment": "hand-written"})];
        let err = merge_roles(&roles, &present(), "databases/shared-pg").expect_err("conflict");
        assert_eq!(err.role, name);
        assert!(err.to_string().contains("databases/shared-pg"), "{err}");
    }
}

#[test]
fn a_layout_role_someone_else_declared_is_left_as_it_is() {
    let theirs = json!({"name": "anon", "login": false, "comment": "platform team"});
    let merged = merge_roles(std::slice::from_ref(&theirs), &present(), "c")
        .expect("no conflict")
        .expect("the rest is added");
    assert_eq!(merged[0], theirs);
    assert_eq!(
        merged.iter().filter(|e| e["name"] == "anon").count(),
        1,
        "not declared twice"
    );
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

#[test]
fn bootstrap_names_default_to_app() {
    assert_eq!(
        bootstrap_names(&cluster(json!({}))),
        ("app".into(), "app".into())
    );
    let c = cluster(json!({"spec": {"bootstrap": {"initdb": {"database": "crm"}}}}));
    assert_eq!(bootstrap_names(&c), ("crm".into(), "crm".into()));
    let c =
        cluster(json!({"spec": {"bootstrap": {"pg_basebackup": {"database": "d", "owner": "o"}}}}));
    assert_eq!(bootstrap_names(&c), ("d".into(), "o".into()));
}
