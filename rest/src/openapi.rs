//! `GET /`: a Swagger 2.0 description of the exposed schema, built from the schema cache only
//! (tables and views as paths and definitions, functions under `/rpc`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::request::Ctx;
use crate::response::RestResponse;
use crate::schema_cache::{Column, Relationship, SchemaCache, Table};

fn swagger_type(c: &Column) -> (&'static str, Option<&'static str>) {
    let t = c.type_name.as_str();
    if t.starts_with('_') {
        return ("array", None);
    }
    match t {
        "int2" | "int4" | "int8" => ("integer", None),
        "float4" | "float8" | "numeric" => ("number", None),
        "bool" => ("boolean", None),
        "json" | "jsonb" => ("object", None),
        _ => ("string", None),
    }
}

fn definition(t: &Table, rels: &[Relationship]) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for c in &t.columns {
        let (ty, _) = swagger_type(c);
        let mut p = Map::new();
        p.insert("type".into(), json!(ty));
        p.insert("format".into(), json!(c.data_type));
        let mut notes = Vec::new();
        if t.pk.contains(&c.name) {
            notes.push("This is a Primary Key.<pk/>".to_string());
        }
        for r in rels
            .iter()
            .filter(|r| r.is_to_one() && r.columns.len() == 1 && r.columns[0].0 == c.name)
        {
            notes.push(format!(
                "This is a Foreign Key to `{}.{}`.<fk table='{}' column='{}'/>",
                r.target.1, r.columns[0].1, r.target.1, r.columns[0].1
            ));
        }
        let mut desc = c.description.clone().unwrap_or_default();
        if !notes.is_empty() {
            if !desc.is_empty() {
                desc.push_str("\n\n");
            }
            desc.push_str("Note:\n");
            desc.push_str(&notes.join("\n"));
        }
        if !desc.is_empty() {
            p.insert("description".into(), json!(desc));
        }
        if let Some(d) = &c.default {
            p.insert("default".into(), json!(d));
        }
        if let Some(l) = c.max_len {
            p.insert("maxLength".into(), json!(l));
        }
        if !c.enum_values.is_empty() {
            p.insert("enum".into(), json!(c.enum_values));
        }
        if !c.nullable && c.default.is_none() {
            required.push(c.name.clone());
        }
        props.insert(c.name.clone(), Value::Object(p));
    }
    let mut d = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        d["required"] = json!(required);
    }
    if let Some(desc) = &t.description {
        d["description"] = json!(desc);
    }
    d
}

/// Builds the document for `schema`.
pub fn document(cache: &SchemaCache, schema: &str) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    let mut parameters = Map::new();
    paths.insert(
        "/".into(),
        json!({"get": {"tags": ["Introspection"], "summary": "OpenAPI description (this document)", "produces": ["application/openapi+json", "application/json"], "responses": {"200": {"description": "OK"}}}}),
    );
    for ((s, name), t) in cache.tables.iter().filter(|((s, _), _)| s == schema) {
        let rels = cache.relationships_from(s, name);
        definitions.insert(name.clone(), definition(t, rels));
        let mut row_filters = Vec::new();
        for c in &t.columns {
            let key = format!("rowFilter.{name}.{}", c.name);
            parameters.insert(
                key.clone(),
                json!({"name": c.name, "in": "query", "required": false, "type": "string", "format": c.data_type}),
            );
            row_filters.push(json!({"$ref": format!("#/parameters/{key}")}));
        }
        parameters.insert(
            format!("body.{name}"),
            json!({"name": name, "in": "body", "required": false, "description": name, "schema": {"$ref": format!("#/definitions/{name}")}}),
        );
        let refs = |names: &[&str]| -> Vec<Value> {
            names
                .iter()
                .map(|n| json!({"$ref": format!("#/parameters/{n}")}))
                .collect()
        };
        let mut get_params = row_filters.clone();
        get_params.extend(refs(&[
            "select",
            "order",
            "range",
            "rangeUnit",
            "offset",
            "limit",
            "preferCount",
        ]));
        let mut item = Map::new();
        item.insert("get".into(), json!({"tags": [name], "parameters": get_params, "responses": {"200": {"description": "OK", "schema": {"type": "array", "items": {"$ref": format!("#/definitions/{name}")}}}, "206": {"description": "Partial Content"}}}));
        if t.insertable {
            let mut p = refs(&[&format!("body.{name}"), "select", "preferPost"]);
            p.truncate(3);
            item.insert("post".into(), json!({"tags": [name], "parameters": p, "responses": {"201": {"description": "Created"}}}));
        }
        if t.updatable {
            let mut p = row_filters.clone();
            p.extend(refs(&[&format!("body.{name}"), "preferReturn"]));
            item.insert("patch".into(), json!({"tags": [name], "parameters": p, "responses": {"204": {"description": "No Content"}}}));
        }
        if t.deletable {
            let mut p = row_filters.clone();
            p.extend(refs(&["preferReturn"]));
            item.insert("delete".into(), json!({"tags": [name], "parameters": p, "responses": {"204": {"description": "No Content"}}}));
        }
        paths.insert(format!("/{name}"), Value::Object(item));
    }
    for ((s, name), overloads) in cache.functions.iter().filter(|((s, _), _)| s == schema) {
        let _ = s;
        let Some(f) = overloads.first() else { continue };
        let props: Map<String, Value> = f
            .args
            .iter()
            .filter(|a| !a.name.is_empty())
            .map(|a| {
                (
                    a.name.clone(),
                    json!({"type": "string", "format": a.data_type}),
                )
            })
            .collect();
        let required: Vec<&str> = f
            .args
            .iter()
            .filter(|a| !a.has_default && !a.name.is_empty())
            .map(|a| a.name.as_str())
            .collect();
        let mut item = Map::new();
        let summary = f.description.clone().unwrap_or_default();
        item.insert("post".into(), json!({"tags": ["(rpc) ".to_string() + name], "summary": summary, "parameters": [{"name": "args", "in": "body", "required": true, "schema": {"type": "object", "required": required, "properties": props}}, {"$ref": "#/parameters/preferParams"}], "responses": {"200": {"description": "OK"}}}));
        if f.is_read_only() {
            let params: Vec<Value> = f
                .args
                .iter()
                .filter(|a| !a.name.is_empty())
                .map(|a| json!({"name": a.name, "in": "query", "required": !a.has_default, "type": "string", "format": a.data_type}))
                .collect();
            item.insert("get".into(), json!({"tags": ["(rpc) ".to_string() + name], "summary": summary, "parameters": params, "responses": {"200": {"description": "OK"}}}));
        }
        paths.insert(format!("/rpc/{name}"), Value::Object(item));
    }
    let common = json!({
        "preferParams": {"name": "Prefer", "in": "header", "required": false, "type": "string", "enum": ["params=single-object"]},
        "preferReturn": {"name": "Prefer", "in": "header", "required": false, "type": "string", "enum": ["return=representation", "return=minimal", "return=none"]},
        "preferCount": {"name": "Prefer", "in": "header", "required": false, "type": "string", "enum": ["count=none"]},
        "preferPost": {"name": "Prefer", "in": "header", "required": false, "type": "string", "enum": ["return=representation", "return=minimal", "return=none", "resolution=ignore-duplicates", "resolution=merge-duplicates"]},
        "select": {"name": "select", "description": "Filtering Columns", "required": false, "in": "query", "type": "string"},
        "on_conflict": {"name": "on_conflict", "description": "On Conflict", "required": false, "in": "query", "type": "string"},
        "order": {"name": "order", "description": "Ordering", "required": false, "in": "query", "type": "string"},
        "range": {"name": "Range", "description": "Limiting and Pagination", "required": false, "in": "header", "type": "string"},
        "rangeUnit": {"name": "Range-Unit", "description": "Limiting and Pagination", "required": false, "default": "items", "in": "header", "type": "string"},
        "offset": {"name": "offset", "description": "Limiting and Pagination", "required": false, "in": "query", "type": "string"},
        "limit": {"name": "limit", "description": "Limiting and Pagination", "required": false, "in": "query", "type": "string"}
    });
    if let Value::Object(c) = common {
        parameters.extend(c);
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "MadBase data API", "description": "Generated from the exposed schema", "version": env!("CARGO_PKG_VERSION")},
        "basePath": "/",
        "schemes": ["http", "https"],
        "consumes": ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
        "produces": ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
        "parameters": parameters,
    })
}

/// The `GET /` response.
pub fn response(ctx: &Ctx) -> RestResponse {
    let doc = document(ctx.cache, &ctx.schema);
    ctx.finish(RestResponse::new(
        StatusCode::OK,
        "application/openapi+json; charset=utf-8",
        doc.to_string(),
    ))
}
