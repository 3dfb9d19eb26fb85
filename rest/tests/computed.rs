//! Computed fields (`f(tbl) RETURNS scalar`) and computed relationships
//! (`f(tbl) RETURNS [SETOF] other [ROWS 1]`), found by introspection.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::json;

#[tokio::test]
async fn computed_fields_are_selected_only_when_asked_for() {
    let api = Api::new().await;
    let r = api.get("/projects?id=eq.1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()[0].get("label").is_none(), "{}", r.body);
    let r = api
        .get("/projects?select=id,label,named:label,t:label::text&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "label": "Engine #1", "named": "Engine #1", "t": "Engine #1"}])
    );
    // JSON paths work on a computed field returning jsonb.
    let r = api
        .get("/tasks?select=id,summary->>title,t:summary->tags->0&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 1, "title": "Design", "t": "a"}]));
}

#[tokio::test]
async fn computed_fields_filter_and_order() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=id&label=like.*%231&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![1]);
    let r = api.get("/projects?select=id&order=label.desc").await;
    assert_eq!(ids(&r.json()), vec![3, 2, 1]);
    let r = api
        .get("/projects?select=id&or=(label.eq.Mill%20%233,id.eq.1)&order=id")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 3]);
    let r = api.get("/tasks?select=id&summary->>title=eq.Build").await;
    assert_eq!(ids(&r.json()), vec![2]);
    // In embeds too, and counted.
    let r = api
        .get_h(
            "/users?select=id,projects!inner(label)&projects.label=eq.Mill%20%233",
            &[("prefer", "count=exact")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 2, "projects": [{"label": "Mill #3"}]}])
    );
    assert_eq!(r.header("content-range"), Some("0-0/1"));
}

#[tokio::test]
async fn computed_fields_on_rpc_results_and_write_representations() {
    let api = Api::new().await;
    let r = api
        .get("/rpc/all_projects?select=id,label&label=neq.Loom%20%232&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "label": "Engine #1"}, {"id": 3, "label": "Mill #3"}])
    );
    let r = api
        .send(
            "POST",
            "/items?select=name,shout",
            &[("prefer", "return=representation")],
            r#"{"id": 7101, "name": "bolt"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "bolt", "shout": "BOLT"}]));
    let r = api
        .send(
            "PATCH",
            "/items?id=eq.7101&shout=eq.BOLT&select=shout",
            &[("prefer", "return=representation")],
            r#"{"name": "nut"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"shout": "NUT"}]));
    let r = api
        .send("DELETE", "/items?shout=eq.NUT&id=eq.7101", &[], "")
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn computed_fields_follow_the_search_path() {
    let api = Api::new().await;
    // `private` is neither exposed nor on the extra search path.
    let r = api.get("/projects?select=id,hidden_label").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "42703");
    assert_eq!(
        r.json()["message"],
        "column projects.hidden_label does not exist"
    );
    // A function in the profile's schema is found there.
    let r = api
        .get_h(
            "/widgets?select=id,loud&order=id",
            &[("accept-profile", "api")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "loud": "GEAR"}, {"id": 2, "loud": "COG"}])
    );
}

#[tokio::test]
async fn computed_relationships_embed_to_many_and_to_one() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=id,open_tasks(id,title),first_task(id),owner(name)&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            {"id": 1, "open_tasks": [{"id": 1, "title": "Design"}], "first_task": {"id": 1}, "owner": {"name": "Ada"}},
            {"id": 2, "open_tasks": [{"id": 3, "title": "Weave, carefully"}], "first_task": {"id": 3}, "owner": {"name": "Ada"}},
            {"id": 3, "open_tasks": [], "first_task": {"id": 4}, "owner": {"name": "Bob"}}
        ])
    );
    // Aliases, filters, order, inner joins and spreads work as for foreign keys.
    let r = api
        .get("/projects?select=id,t:open_tasks!inner(title),...owner(owner_name:name)&t.title=like.W*")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 2, "t": [{"title": "Weave, carefully"}], "owner_name": "Ada"}])
    );
    let r = api
        .get("/projects?select=id,first_task(id)&order=first_task(id).desc")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![3, 2, 1]);
    let r = api
        .get("/projects?select=id,open_tasks()&open_tasks=is.null&order=id")
        .await;
    assert_eq!(ids(&r.json()), vec![3]);
    // A to-many computed relationship cannot order its parent.
    let r = api
        .get("/projects?select=id,open_tasks(id)&order=open_tasks(id)")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "PGRST118");
}

#[tokio::test]
async fn computed_relationships_embed_from_rpc_and_writes() {
    let api = Api::new().await;
    let r = api
        .get("/rpc/project_by_id?pid=3&select=name,owner(name),open_tasks(id)")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"name": "Mill", "owner": {"name": "Bob"}, "open_tasks": []})
    );
    let r = api
        .send(
            "POST",
            "/projects?select=id,owner(name),label",
            &[
                ("prefer", "return=representation,tx=rollback"),
                ("accept", "application/vnd.pgrst.object+json"),
            ],
            r#"{"id": 90, "name": "Kiln", "owner_id": 3}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": 90, "owner": {"name": "Cy"}, "label": "Kiln #90"})
    );
}

#[tokio::test]
async fn a_function_named_like_a_table_overrides_its_foreign_keys() {
    let api = Api::new().await;
    // Without the function, parcels -> addresses would be ambiguous (two foreign keys).
    let r = api.get("/parcels?select=id,addresses(city)&order=id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "addresses": {"city": "Paris"}}, {"id": 2, "addresses": {"city": "London"}}])
    );
    // As in PostgREST, the replaced foreign keys are gone, even by column name.
    let r = api.get("/parcels?select=id,sender_id(city)&id=eq.1").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "PGRST200");
    // Shipments keep their ambiguous pair: the function takes a parcel, not a shipment.
    let r = api.get("/shipments?select=id,addresses(city)").await;
    assert_eq!(r.status, 300, "{}", r.body);
}
