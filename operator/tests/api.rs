//! The control-plane API end to end against the fake API server: create a project over HTTP,
//! reconcile it, read its endpoint and keys back; bad requests get 4xx JSON errors with field
//! paths; every route needs the admin token.

mod support;

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use kube::Api;
use madbase_crds::MadBaseProject;
use madbase_operator::api::{ApiState, router};
use madbase_operator::reconcile::reconcile;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token";

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn create_reconcile_and_read_back_endpoint_and_keys() {
    let client = fake_client(vec![], vec![]).await;
    let app = router(ApiState::new(client.clone(), NS, TOKEN));

    let (status, body) = call(&app, "POST", "/v1/projects", Some(TOKEN), Some(json!({
        "ref": "shop",
        "spec": {"database": {"shared": {"pool": "default"}}, "exposure": {"ingress": {"host": "shop.example.com"}}}
    }))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ref"], "shop");
    assert_eq!(body["ready"], false);

    let (status, _) = call(&app, "GET", "/v1/projects/shop/api-keys", Some(TOKEN), None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no keys before the operator ran"
    );

    let ctx = context(
        client.clone(),
        config("postgres://admin:pw@pg:5432/postgres"),
        Arc::new(FakePostgres::default()),
        Arc::new(FakeBuckets::default()),
    );
    let project = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("created");
    let _ = reconcile(Arc::new(project), ctx.clone())
        .await
        .expect("reconcile");
    // The fake bumps `generation` on the finalizer patch (a real API server does not); a second
    // pass observes the generation the project now has.
    let project = Api::<MadBaseProject>::namespaced(client.clone(), NS)
        .get("shop")
        .await
        .expect("created");
    let _ = reconcile(Arc::new(project), ctx)
        .await
        .expect("reconcile again");

    let (status, body) = call(&app, "GET", "/v1/projects/shop", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["endpoint"], "http://shop.example.com");
    assert_eq!(body["phase"], "Provisioning");
    assert_eq!(body["up_to_date"], true);

    let (status, keys) = call(&app, "GET", "/v1/projects/shop/api-keys", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys[0]["name"], "anon");
    assert_eq!(keys[1]["name"], "service_role");
    assert_eq!(
        keys[0]["api_key"].as_str().map(|k| k.split('.').count()),
        Some(3)
    );

    let (status, list) = call(&app, "GET", "/v1/projects", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let (status, body) = call(
        &app,
        "PATCH",
        "/v1/projects/shop",
        Some(TOKEN),
        Some(json!({"spec": {"dataPlane": {"replicas": 3}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["dataPlane"]["replicas"], 3);
    assert_eq!(body["up_to_date"], false);

    let (status, body) = call(
        &app,
        "POST",
        "/v1/projects",
        Some(TOKEN),
        Some(json!({"ref": "shop", "spec": {"database": {"shared": {}}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, _) = call(&app, "DELETE", "/v1/projects/shop", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = call(&app, "GET", "/v1/projects/shop", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let client = fake_client(vec![], vec![]).await;
    let app = router(ApiState::new(client, NS, TOKEN));
    let cases = [
        (
            json!({"ref": "Shop", "spec": {"database": {"shared": {}}}}),
            "ref",
        ),
        (
            json!({"ref": "a-very-long-project-name-that-goes-past-forty", "spec": {"database": {"shared": {}}}}),
            "ref",
        ),
        (
            json!({"ref": "shop", "spec": {"database": {}}}),
            "spec.database",
        ),
        (
            json!({"ref": "shop", "spec": {"database": {"shared": {"pool": 7}}}}),
            "spec.database.shared.pool",
        ),
        (
            json!({"ref": "shop", "spec": {"database": {"shared": {}}, "storage": {"bucket": "Bad_Bucket"}}}),
            "spec.storage.bucket",
        ),
        (json!({"ref": "shop"}), "spec"),
    ];
    for (body, path) in cases {
        let (status, answer) = call(
            &app,
            "POST",
            "/v1/projects",
            Some(TOKEN),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        assert_eq!(answer["error"], "invalid_request");
        let paths: Vec<&str> = answer["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["path"].as_str())
            .collect();
        assert!(
            paths.iter().any(|p| p.starts_with(path)),
            "{body}: expected a detail at {path}, got {answer}"
        );
    }
}

#[tokio::test]
async fn immutable_fields_cannot_be_patched() {
    let client = fake_client(vec![], vec![]).await;
    let app = router(ApiState::new(client, NS, TOKEN));
    let (status, _) = call(&app, "POST", "/v1/projects", Some(TOKEN), Some(json!({"ref": "shop", "spec": {"database": {"shared": {}}, "storage": {"bucket": "shop-files"}}}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &app,
        "PATCH",
        "/v1/projects/shop",
        Some(TOKEN),
        Some(json!({"spec": {"storage": {"bucket": "other-files"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("storage.bucket is immutable"),
        "{body}"
    );
    let (status, _) = call(
        &app,
        "PATCH",
        "/v1/projects/shop",
        Some(TOKEN),
        Some(json!({"metadata": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn every_project_route_needs_the_admin_token() {
    let client = fake_client(vec![], vec![]).await;
    let app = router(ApiState::new(client, NS, TOKEN));
    for (method, path) in [
        ("GET", "/v1/projects"),
        ("POST", "/v1/projects"),
        ("GET", "/v1/projects/shop"),
        ("DELETE", "/v1/projects/shop"),
        ("GET", "/v1/projects/shop/api-keys"),
    ] {
        for token in [None, Some("wrong"), Some("test-admin-toke")] {
            let (status, body) = call(&app, method, path, token, None).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(body["error"], "unauthorized");
        }
    }
    let (status, doc) = call(&app, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/projects/{ref}/api-keys"]["get"].is_object());
    assert!(doc["components"]["schemas"]["CreateProject"]["properties"]["spec"].is_object());
}
