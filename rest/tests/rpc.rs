//! Function calls through /rpc.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::json;

#[tokio::test]
async fn rpc_scalar_named_defaults_and_get() {
    let api = Api::new().await;
    let r = api
        .send("POST", "/rpc/add", &[], r#"{"a": 2, "b": 3}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "5");
    let r = api.send("POST", "/rpc/add", &[], r#"{"a": 2}"#).await;
    assert_eq!(r.body, "2");
    let r = api.get("/rpc/add?a=4&b=5").await;
    assert_eq!(r.body, "9");
    let r = api.send("POST", "/rpc/add", &[], r#"{"x": 1}"#).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "PGRST202");
    assert_eq!(
        r.json()["details"],
        "Searched for the function public.add with parameter x or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
    );
    // The name exists: the hint names the overload's parameters.
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant to call the function public.add(a, b)"
    );
    let r = api.send("POST", "/rpc/ad", &[], r#"{}"#).await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant to call the function public.add"
    );
}

#[tokio::test]
async fn rpc_json_args_variadic_and_sets() {
    let api = Api::new().await;
    let r = api
        .send("POST", "/rpc/echo", &[], r#"{"body": {"k": [1, 2]}}"#)
        .await;
    assert_eq!(r.json(), json!({"k": [1, 2]}));
    let r = api
        .send("POST", "/rpc/echo_raw", &[], r#"[1, "two"]"#)
        .await;
    assert_eq!(r.json(), json!([1, "two"]));
    let r = api
        .send(
            "POST",
            "/rpc/echo",
            &[("prefer", "params=single-object")],
            r#"{"whole": true}"#,
        )
        .await;
    assert_eq!(r.json(), json!({"whole": true}));
    let r = api
        .send("POST", "/rpc/total", &[], r#"{"nums": [1, 2, 3]}"#)
        .await;
    assert_eq!(r.body, "6");
    let r = api.get("/rpc/total?nums=4&nums=5").await;
    assert_eq!(r.body, "9", "{}", r.body);
    let r = api.get("/rpc/numbers?n=5&limit=2&offset=1").await;
    assert_eq!(r.json(), json!([2, 3]));
}

#[tokio::test]
async fn rpc_composite_setof_and_table_results() {
    let api = Api::new().await;
    let r = api.get("/rpc/project_by_id?pid=2&select=id,name").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"id": 2, "name": "Loom"}));
    let r = api
        .get_h(
            "/rpc/all_projects?select=id,users(name)&owner_id=eq.1&order=id.desc",
            &[("prefer", "count=exact")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 2, "users": {"name": "Ada"}}, {"id": 1, "users": {"name": "Ada"}}])
    );
    assert_eq!(r.header("content-range"), Some("0-1/2"));
    let r = api.get("/rpc/project_rows?pname=eq.Mill").await;
    assert_eq!(r.json(), json!([{"pid": 3, "pname": "Mill"}]));
    let r = api
        .get_h(
            "/rpc/all_projects?id=eq.1",
            &[("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!(r.json()["name"], "Engine");
}

#[tokio::test]
async fn rpc_void_volatile_and_errors() {
    let api = Api::new().await;
    let r = api.send("POST", "/rpc/noop", &[], "").await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let r = api.get("/rpc/add_item?item_name=viaget").await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.json()["code"], "25006");
    let r = api
        .send("POST", "/rpc/add_item", &[], r#"{"item_name": "viapost"}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.send("POST", "/rpc/payment_required", &[], "{}").await;
    assert_eq!(r.status, 402);
    assert_eq!(
        r.json(),
        json!({"code": "PT402", "message": "Pay up", "details": "Quota", "hint": "Upgrade"})
    );
    let r = api.send("POST", "/rpc/plain_raise", &[], "{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "P0001");
    let r = api.send("POST", "/rpc/custom_raise", &[], "{}").await;
    assert_eq!(r.status, 418);
    assert_eq!(r.header("x-teapot"), Some("yes"));
    assert_eq!(
        r.json(),
        json!({"code": "123", "message": "Custom", "details": "x", "hint": "y"})
    );
    let r = api.send("POST", "/rpc/with_headers", &[], "{}").await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    let r = api
        .send(
            "POST",
            "/rpc/add",
            &[("prefer", "handling=strict, max-affected=1")],
            r#"{"a": 1}"#,
        )
        .await;
    assert_eq!(r.json()["code"], "PGRST128");
}
