//! Exact request sequences with tower-test for the protocol-critical paths: adding the finalizer
//! (JSON merge patch guarded by resourceVersion), the status write (server-side apply on the
//! status subresource with the operator's field manager, forced), releasing the finalizer on
//! deletion, and what happens when those writes fail. Events are answered but left out of the
//! sequence (their number depends on which conditions flip).

mod support;

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::client::Body;
use madbase_crds::MadBaseProject;
use madbase_operator::reconcile::{ReconcileError, reconcile};
use serde_json::{Value, json};
use support::*;

#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

type Responder = Box<dyn Fn(&Call) -> (StatusCode, Value) + Send + Sync>;

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason})
}

/// Runs one reconcile against a scripted API server; returns the non-event calls and the result.
async fn scenario(
    project: MadBaseProject,
    respond: Responder,
) -> (
    Vec<Call>,
    Result<kube::runtime::controller::Action, ReconcileError>,
) {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(mock, NS);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    let server = tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or_default().to_owned(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let (code, answer) = if call.path.contains("/events") {
                (StatusCode::CREATED, call.body.clone())
            } else {
                let answer = respond(&call);
                recorded.lock().expect("lock").push(call);
                answer
            };
            let response = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("response");
            send.send_response(response);
        }
    });
    let ctx = context(
        client,
        config("postgres://admin:pw@pg:5432/postgres"),
        Arc::new(FakePostgres::default()),
        Arc::new(FakeBuckets::default()),
    );
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        reconcile(Arc::new(project), ctx),
    )
    .await
    .expect("reconcile finished (no scripted call left unanswered)");
    server.abort();
    let calls = calls.lock().expect("lock").clone();
    (calls, result)
}

fn paused_project() -> MadBaseProject {
    let mut p = shared_project();
    p.spec.paused = true;
    p.metadata.resource_version = Some("7".into());
    p.metadata.generation = Some(3);
    p.metadata.uid = Some("uid-1".into());
    p
}

const PROJECT_PATH: &str = "/apis/madbase.io/v1alpha1/namespaces/acme/madbaseprojects/shop";

fn echo_project(call: &Call) -> (StatusCode, Value) {
    let mut p = serde_json::to_value(paused_project()).expect("json");
    if let Some(f) = call.body.pointer("/metadata/finalizers") {
        p["metadata"]["finalizers"] = f.clone();
    }
    (StatusCode::OK, p)
}

#[tokio::test]
async fn finalizer_then_deployment_read_then_status_apply() {
    let (calls, result) = scenario(
        paused_project(),
        Box::new(|call| match (call.method.as_str(), call.path.as_str()) {
            ("GET", "/apis/apps/v1/namespaces/acme/deployments/shop") => {
                (StatusCode::NOT_FOUND, status(404, "NotFound"))
            }
            _ => echo_project(call),
        }),
    )
    .await;
    result.expect("reconcile");
    let sequence: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.method.clone(), c.path.clone()))
        .collect();
    assert_eq!(
        sequence,
        [
            ("PATCH".to_string(), PROJECT_PATH.to_string()),
            (
                "GET".into(),
                "/apis/apps/v1/namespaces/acme/deployments/shop".into()
            ),
            ("PATCH".into(), format!("{PROJECT_PATH}/status")),
        ]
    );
    let finalizer = &calls[0];
    assert_eq!(finalizer.content_type, "application/merge-patch+json");
    assert_eq!(
        finalizer.body,
        json!({"metadata": {"finalizers": ["madbase.io/cleanup"], "resourceVersion": "7"}})
    );
    let status = &calls[2];
    assert_eq!(status.content_type, "application/apply-patch+yaml");
    assert!(
        status.query.contains("fieldManager=madbase-operator")
            && status.query.contains("force=true"),
        "{}",
        status.query
    );
    assert_eq!(status.body["status"]["phase"], "Paused");
    assert_eq!(status.body["status"]["observedGeneration"], 3);
    assert_eq!(status.body["kind"], "MadBaseProject");
}

#[tokio::test]
async fn failed_status_write_is_an_error_with_its_own_label() {
    let (calls, result) = scenario(
        paused_project(),
        Box::new(|call| {
            if call.path.ends_with("/status") {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    status(500, "InternalError"),
                )
            } else if call.method == "GET" {
                (StatusCode::NOT_FOUND, status(404, "NotFound"))
            } else {
                echo_project(call)
            }
        }),
    )
    .await;
    let err = result.expect_err("status write failed");
    assert_eq!(err.metric_label(), "status");
    assert_eq!(calls.len(), 3);
}

#[tokio::test]
async fn conflicting_finalizer_write_stops_before_anything_else() {
    let (calls, result) = scenario(
        paused_project(),
        Box::new(|_| (StatusCode::CONFLICT, status(409, "Conflict"))),
    )
    .await;
    assert_eq!(result.expect_err("conflict").metric_label(), "finalizer");
    assert_eq!(calls.len(), 1, "nothing after a failed finalizer write");
}

fn deleting_project() -> MadBaseProject {
    let mut p = shared_project();
    p.metadata.resource_version = Some("9".into());
    p.metadata.finalizers = Some(vec![
        "other.example/keep".into(),
        "madbase.io/cleanup".into(),
    ]);
    p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    p
}

#[tokio::test]
async fn retained_deletion_only_releases_our_finalizer() {
    let (calls, result) = scenario(
        deleting_project(),
        Box::new(|_| {
            (
                StatusCode::OK,
                serde_json::to_value(deleting_project()).expect("json"),
            )
        }),
    )
    .await;
    result.expect("cleanup");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("PATCH", PROJECT_PATH)
    );
    assert_eq!(
        calls[0].body,
        json!({"metadata": {"finalizers": ["other.example/keep"], "resourceVersion": "9"}})
    );
}

#[tokio::test]
async fn failed_finalizer_release_is_retried() {
    let (calls, result) = scenario(
        deleting_project(),
        Box::new(|_| (StatusCode::CONFLICT, status(409, "Conflict"))),
    )
    .await;
    assert_eq!(result.expect_err("conflict").metric_label(), "finalizer");
    assert_eq!(calls.len(), 1);
}
