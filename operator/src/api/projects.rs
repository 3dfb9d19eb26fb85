//! `/v1/projects` handlers: requests are parsed with field paths, checked against the CRD's CEL
//! rules before anything is written, and turned into `MadBaseProject` writes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use madbase_crds::naming::project_name_problem;
use madbase_crds::{MadBaseProject, MadBaseProjectSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, ApiState, FIELD_MANAGER, FieldError};
use crate::keys::{ANON_KEY, SERVICE_ROLE_KEY, secret_value};

/// Body of `POST /v1/projects`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Project ref: a DNS-1035 label of at most 40 characters; also the resource name.
    #[serde(rename = "ref")]
    pub project_ref: String,
    /// The project's spec, as in the `MadBaseProject` resource.
    pub spec: MadBaseProjectSpec,
}

/// A project as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProjectView {
    /// Project ref.
    #[serde(rename = "ref")]
    pub project_ref: String,
    /// Namespace of the resource.
    pub namespace: String,
    /// Phase reported by the operator.
    pub phase: Option<String>,
    /// Whether the `Ready` condition is true.
    pub ready: bool,
    /// Base URL for supabase-js, once known.
    pub endpoint: Option<String>,
    /// Whether the operator has seen the latest spec.
    pub up_to_date: bool,
    /// The spec.
    pub spec: MadBaseProjectSpec,
}

/// One API key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApiKey {
    /// `anon` or `service_role`.
    pub name: String,
    /// The JWT.
    pub api_key: String,
}

fn view(p: &MadBaseProject) -> ProjectView {
    let status = p.status.as_ref();
    ProjectView {
        project_ref: p.name_any(),
        namespace: p.namespace().unwrap_or_default(),
        phase: status.and_then(|s| s.phase).map(|ph| format!("{ph:?}")),
        ready: status.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        }),
        endpoint: status.and_then(|s| s.endpoint.clone()),
        up_to_date: status.and_then(|s| s.observed_generation) == p.metadata.generation,
        spec: p.spec.clone(),
    }
}

/// Deserializes with the failing field's path in the error.
fn parse<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let message = e.into_inner().to_string();
        let mut path = match (prefix, inner.as_str()) {
            (p, ".") => p.to_owned(),
            ("", i) => i.to_owned(),
            (p, i) => format!("{p}.{i}"),
        };
        // serde reports a missing field at its parent; name the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
        }
        ApiError::invalid(vec![FieldError { path, message }])
    })
}

fn cel_errors(e: kube::core::cel::ValidationErrors) -> ApiError {
    ApiError::invalid(
        e.as_slice()
            .iter()
            .map(|v| FieldError {
                path: if v.field_path.is_empty() {
                    "spec".into()
                } else {
                    v.field_path.clone()
                },
                message: v.message.clone(),
            })
            .collect(),
    )
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn api(state: &ApiState) -> Api<MadBaseProject> {
    Api::namespaced(state.client.clone(), &state.namespace)
}

async fn create(
    State(state): State<Arc<ApiState>>,
    Json(body): Json<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let request: CreateProject = parse(body, "")?;
    if let Some(problem) = project_name_problem(&request.project_ref) {
        return Err(ApiError::invalid(vec![FieldError {
            path: "ref".into(),
            message: problem,
        }]));
    }
    let mut project = MadBaseProject::new(&request.project_ref, request.spec);
    project.metadata.namespace = Some(state.namespace.clone());
    project.validate_cel().map_err(cel_errors)?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let created = api(&state).create(&params, &project).await?;
    Ok((StatusCode::CREATED, Json(view(&created))))
}

async fn list(State(state): State<Arc<ApiState>>) -> Result<Json<Vec<ProjectView>>, ApiError> {
    let projects = api(&state).list(&ListParams::default()).await?;
    Ok(Json(projects.items.iter().map(view).collect()))
}

fn check_ref(project_ref: &str) -> Result<(), ApiError> {
    match project_name_problem(project_ref) {
        None => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "project not found",
        )),
    }
}

async fn get_one(
    State(state): State<Arc<ApiState>>,
    Path(project_ref): Path<String>,
) -> Result<Json<ProjectView>, ApiError> {
    check_ref(&project_ref)?;
    Ok(Json(view(&api(&state).get(&project_ref).await?)))
}

async fn update(
    State(state): State<Arc<ApiState>>,
    Path(project_ref): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<ProjectView>, ApiError> {
    check_ref(&project_ref)?;
    let Some(spec_patch) = body.get("spec").filter(|s| s.is_object()).cloned() else {
        return Err(ApiError::invalid(vec![FieldError {
            path: "spec".into(),
            message: "a JSON merge patch of the spec is required: {\"spec\": {...}}".into(),
        }]));
    };
    if let Some(other) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "spec"))
    {
        return Err(ApiError::invalid(vec![FieldError {
            path: other.clone(),
            message: "unknown field; only spec can be changed".into(),
        }]));
    }
    let projects = api(&state);
    let current = projects.get(&project_ref).await?;
    let mut merged = serde_json::to_value(&current.spec)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    merge_patch(&mut merged, &spec_patch);
    let mut next = current.clone();
    next.spec = parse(merged, "spec")?;
    next.validate_cel().map_err(cel_errors)?;
    next.validate_cel_update(&current).map_err(cel_errors)?;
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": current.resource_version()},
        "spec": spec_patch,
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let updated = projects
        .patch(&project_ref, &params, &Patch::Merge(&patch))
        .await?;
    Ok(Json(view(&updated)))
}

async fn delete(
    State(state): State<Arc<ApiState>>,
    Path(project_ref): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    check_ref(&project_ref)?;
    api(&state)
        .delete(&project_ref, &DeleteParams::background())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"ref": project_ref, "status": "deleting"})),
    ))
}

async fn api_keys(
    State(state): State<Arc<ApiState>>,
    Path(project_ref): Path<String>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    check_ref(&project_ref)?;
    let project = api(&state).get(&project_ref).await?;
    let not_ready = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "the project's keys have not been created yet",
        )
    };
    let secret_name = project
        .status
        .as_ref()
        .and_then(|s| s.keys_secret_ref.as_ref())
        .map(|r| r.name.clone())
        .ok_or_else(not_ready)?;
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), &state.namespace);
    let secret = secrets.get_opt(&secret_name).await?.ok_or_else(not_ready)?;
    let key = |name: &str, key: &str| -> Result<ApiKey, ApiError> {
        Ok(ApiKey {
            name: name.into(),
            api_key: secret_value(&secret, key).ok_or_else(not_ready)?,
        })
    };
    Ok(Json(vec![
        key("anon", ANON_KEY)?,
        key("service_role", SERVICE_ROLE_KEY)?,
    ]))
}

/// Routes under `/v1/projects`.
pub fn router() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/projects", get(list).post(create))
        .route(
            "/v1/projects/{project_ref}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/v1/projects/{project_ref}/api-keys", get(api_keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(
            &mut target,
            &serde_json::json!({"a": {"b": null, "e": 3}, "d": [2]}),
        );
        assert_eq!(target, serde_json::json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = parse::<CreateProject>(
            serde_json::json!({"ref": "shop", "spec": {"database": {"shared": {"pool": 3}}}}),
            "",
        )
        .expect_err("bad type");
        assert_eq!(err.details[0].path, "spec.database.shared.pool");
        let err = parse::<CreateProject>(
            serde_json::json!({"ref": "x", "spec": {"database": {}}, "extra": 1}),
            "",
        )
        .expect_err("unknown");
        assert!(
            err.details[0].message.contains("extra"),
            "{:?}",
            err.details
        );
    }
}
