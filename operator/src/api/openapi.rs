//! `GET /v1/openapi.json`: an OpenAPI 3.1 description of the control-plane API. Request and
//! response schemas are generated from the same Rust types the handlers use, so the document
//! cannot drift from them.

use axum::Json;
use schemars::JsonSchema;
use serde_json::{Value, json};

use super::projects::{ApiKey, CreateProject, ProjectView};

fn schema<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
    }
    value
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The OpenAPI document.
pub fn spec() -> Value {
    let json_body = |schema_ref: &str| json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema_ref}")}}}});
    let ref_param = json!({
        "name": "ref", "in": "path", "required": true,
        "schema": {"type": "string", "maxLength": 40, "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"}
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "MadBase control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Creates and manages MadBase projects (MadBaseProject resources). Errors are JSON objects {error, message, details[{path, message}]}."
        },
        "security": [{"adminToken": []}],
        "paths": {
            "/v1/projects": {
                "get": {"summary": "List projects", "responses": {
                    "200": {"description": "Projects", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}}}},
                    "401": error_response("Missing or wrong admin token")}},
                "post": {"summary": "Create a project",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateProject"}}}},
                    "responses": {
                        "201": {"description": "Created", "content": json_body("Project")["content"].clone()},
                        "401": error_response("Missing or wrong admin token"),
                        "409": error_response("A project with this ref exists"),
                        "422": error_response("Invalid request; details name the fields")}}
            },
            "/v1/projects/{ref}": {
                "parameters": [ref_param.clone()],
                "get": {"summary": "Read a project", "responses": {
                    "200": {"description": "The project", "content": json_body("Project")["content"].clone()},
                    "404": error_response("No such project")}},
                "patch": {"summary": "Change a project's spec (JSON merge patch under `spec`)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}, "additionalProperties": false}}}},
                    "responses": {
                        "200": {"description": "Updated", "content": json_body("Project")["content"].clone()},
                        "404": error_response("No such project"),
                        "409": error_response("Changed concurrently; retry"),
                        "422": error_response("Invalid change (e.g. an immutable field)")}},
                "delete": {"summary": "Delete a project (deletionPolicy decides what happens to its data)", "responses": {
                    "202": {"description": "Deletion started"},
                    "404": error_response("No such project")}}
            },
            "/v1/projects/{ref}/api-keys": {
                "parameters": [ref_param],
                "get": {"summary": "Read the project's anon and service_role keys", "responses": {
                    "200": {"description": "Keys", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}}}},
                    "404": error_response("No such project"),
                    "409": error_response("Keys not created yet")}}
            }
        },
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "CreateProject": schema::<CreateProject>(),
                "Project": schema::<ProjectView>(),
                "ApiKey": schema::<ApiKey>(),
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}}}
            }
        }
    })
}

/// Handler for `GET /v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(spec())
}
