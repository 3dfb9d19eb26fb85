//! `GET /`: a Swagger 2.0 description of the exposed schema, built from the schema cache
//! (tables and views as paths and definitions, functions under `/rpc`). As PostgREST's
//! `openapi-mode`: `follow-privileges` (the default) shows only the relations and functions
//! the request's role may use, which one catalog query run as that role says;
//! `ignore-privileges` shows everything; `disabled` turns the endpoint off.

use std::collections::HashSet;

use http::StatusCode;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::error::RestError;
use crate::execute::Connection;
use crate::request::{Ctx, OpenApiMode, RestSettings};
use crate::response::RestResponse;
use crate::schema_cache::{Cardinality, Function, Relationship, SchemaCache, Table, TableKind};
use crate::sql::Sql;

/// What the request's role may use in one schema; `None` in [`document`] shows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visible {
    /// Relations with any table or column privilege (or owned through a role).
    pub tables: HashSet<String>,
    /// Functions with at least one overload the role may execute.
    pub functions: HashSet<String>,
}

/// As PostgREST's `accessibleTables` and `accessibleFuncs`: a relation is shown when the role
/// owns it (through membership) or holds any table or column privilege on it; a function when
/// it may be executed.
const VISIBLE_SQL: &str = r#"SELECT json_build_object(
  'tables', COALESCE((SELECT json_agg(c.relname::text) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('v', 'r', 'm', 'f', 'p')
      AND (pg_has_role(c.relowner, 'USAGE')
        OR has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))), '[]'),
  'functions', COALESCE((SELECT json_agg(DISTINCT p.proname::text) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1 AND has_function_privilege(p.oid, 'EXECUTE')), '[]')
)::text AS body"#;

impl Visible {
    fn from_json(text: &str) -> Result<Visible, RestError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| RestError::Internal(format!("privileges: {e}")))?;
        let names = |key: &str| -> HashSet<String> {
            v[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Visible {
            tables: names("tables"),
            functions: names("functions"),
        })
    }
}

/// A JSON object that keeps its members in the order they were added. serde_json's `Map`
/// sorts them by name (its `preserve_order` feature would change every object the product
/// writes), while PostgREST lists the document's named members in an order of its own: the
/// paths (the root, then the relations, then the functions), the parameters (the shared ones,
/// then each relation's body and row filters), and a definition's properties in the order of
/// the relation's columns. Members that are plain [`Value`]s (an operation, a parameter, a
/// property) keep serde_json's name order, which carries nothing there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    members: Vec<(String, Member)>,
    names: HashSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Member {
    Value(Value),
    Object(Object),
}

impl From<Value> for Member {
    fn from(v: Value) -> Member {
        Member::Value(v)
    }
}

impl From<Object> for Member {
    fn from(o: Object) -> Member {
        Member::Object(o)
    }
}

impl Object {
    /// Adds a member at the end. A name added again replaces its earlier member and moves to
    /// the end, as the last of PostgREST's pairs with one name wins.
    fn insert(&mut self, name: impl Into<String>, value: impl Into<Member>) {
        let name = name.into();
        if !self.names.insert(name.clone()) {
            self.members.retain(|(n, _)| *n != name);
        }
        self.members.push((name, value.into()));
    }

    /// [`Object::insert`], chained.
    fn with(mut self, name: impl Into<String>, value: impl Into<Member>) -> Object {
        self.insert(name, value);
        self
    }

    /// The names of the members, in order.
    #[cfg(test)]
    fn names(&self) -> Vec<&str> {
        self.members.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The member named `name`.
    #[cfg(test)]
    fn get(&self, name: &str) -> Option<&Object> {
        self.members.iter().find_map(|(n, m)| match m {
            Member::Object(o) if n == name => Some(o),
            _ => None,
        })
    }

    /// The same object as a [`Value`] (its members then in name order).
    #[cfg(test)]
    fn to_value(&self) -> Value {
        Value::Object(
            self.members
                .iter()
                .map(|(n, m)| {
                    let v = match m {
                        Member::Value(v) => v.clone(),
                        Member::Object(o) => o.to_value(),
                    };
                    (n.clone(), v)
                })
                .collect(),
        )
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.members.len()))?;
        for (name, member) in &self.members {
            match member {
                Member::Value(v) => map.serialize_entry(name, v)?,
                Member::Object(o) => map.serialize_entry(name, o)?,
            }
        }
        map.end()
    }
}

/// A type's name without its modifiers (`character(1)` is `character`, `numeric(10,2)[]`
/// `numeric[]`), as PostgREST names column and parameter types.
fn base_type(data_type: &str) -> String {
    let mut out = String::with_capacity(data_type.len());
    let mut depth = 0usize;
    for ch in data_type.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out
}

/// PostgREST's Swagger type for a type name: none for `json`/`jsonb`, `array` for arrays,
/// `string` for anything it does not list.
fn swagger_type(t: &str) -> Option<&'static str> {
    Some(match t {
        "boolean" => "boolean",
        "smallint" | "integer" | "bigint" => "integer",
        "numeric" | "real" | "double precision" => "number",
        "json" | "jsonb" => return None,
        _ if t.ends_with("[]") => "array",
        _ => "string",
    })
}

/// `items` of an array type: its element's type.
fn array_items(t: &str) -> Option<Value> {
    let element = t.strip_suffix("[]")?;
    Some(match swagger_type(element) {
        Some(ty) => json!({"type": ty}),
        None => json!({}),
    })
}

/// A column default as PostgREST shows it: a string type's literal without its quotes and
/// cast, another type's when it reads as JSON (`42`, `false`); none for an expression.
fn default_value(t: &str, default: &str) -> Option<Value> {
    let text = if swagger_type(t) == Some("string") {
        let literal = default
            .strip_suffix(&format!("::{t}"))
            .map(|d| d.trim_matches('\''))
            .unwrap_or(default);
        format!("\"{literal}\"")
    } else {
        default.to_owned()
    };
    serde_json::from_str(&text).ok()
}

/// A property's type, `items` and format, as PostgREST builds them.
fn typed(p: &mut Map<String, Value>, data_type: &str) {
    let t = base_type(data_type);
    if let Some(ty) = swagger_type(&t) {
        p.insert("type".into(), json!(ty));
    }
    if let Some(items) = array_items(&t) {
        p.insert("items".into(), items);
    }
    p.insert("format".into(), json!(swagger_format(&t)));
}

/// A type's `format`: its name, but OpenAPI 2.0's own formats for integers (PostgREST 14.8).
fn swagger_format(t: &str) -> &str {
    match t {
        "smallint" | "integer" => "int32",
        "bigint" => "int64",
        _ => t,
    }
}

/// The key a column's note names, as PostgREST finds it: the first relationship that goes
/// through that column alone with the key on this side (many-to-one, or one-to-one from the
/// table holding the key), to a relation of the same schema, tables before views.
fn foreign_key<'a>(
    cache: &SchemaCache,
    t: &Table,
    rels: &'a [Relationship],
    column: &str,
) -> Option<&'a Relationship> {
    let is_view = |r: &Relationship| {
        cache.tables.get(&r.target).is_some_and(|target| {
            matches!(target.kind, TableKind::View | TableKind::MaterializedView)
        })
    };
    rels.iter()
        .filter(|r| {
            matches!(
                r.cardinality,
                Cardinality::ManyToOne
                    | Cardinality::OneToOne {
                        origin_holds_fk: true
                    }
            ) && r.target.0 == t.schema
                && r.columns.len() == 1
                && r.columns[0].0 == column
        })
        .min_by_key(|r| is_view(r))
}

/// A relation's definition, its members in PostgREST's order and its properties in the order
/// of the columns.
fn definition(cache: &SchemaCache, t: &Table, rels: &[Relationship]) -> Object {
    let mut props = Object::default();
    let mut required = Vec::new();
    for c in &t.columns {
        let mut p = Map::new();
        typed(&mut p, &c.data_type);
        let mut notes = Vec::new();
        if t.pk.contains(&c.name) {
            notes.push("This is a Primary Key.<pk/>".to_string());
        }
        if let Some(r) = foreign_key(cache, t, rels, &c.name) {
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
        if let Some(d) = c
            .default
            .as_deref()
            .and_then(|d| default_value(&base_type(&c.data_type), d))
        {
            p.insert("default".into(), d);
        }
        if let Some(l) = c.max_len {
            p.insert("maxLength".into(), json!(l));
        }
        if !c.enum_values.is_empty() {
            p.insert("enum".into(), json!(c.enum_values));
        }
        // As PostgREST: every column that cannot be null, with a default or not.
        if !c.nullable {
            required.push(c.name.clone());
        }
        props.insert(c.name.clone(), Value::Object(p));
    }
    let mut d = Object::default();
    if let Some(desc) = &t.description {
        d.insert("description", json!(desc));
    }
    if !required.is_empty() {
        d.insert("required", json!(required));
    }
    // As PostgREST, which leaves empty members out: no `properties` without columns.
    if !props.members.is_empty() {
        d.insert("properties", props);
    }
    d.with("type", json!("object"))
}

/// The overload of a function PostgREST describes (one path holds one): the last in its order.
fn described_overload(overloads: &[Function]) -> Option<&Function> {
    overloads.iter().max_by(|a, b| a.overload_order(b))
}

/// Builds the document for `schema`, limited to `visible` when given.
pub fn document(
    cache: &SchemaCache,
    schema: &str,
    visible: Option<&Visible>,
    settings: &RestSettings,
) -> Object {
    let mut paths = Object::default();
    let mut definitions = Object::default();
    let mut parameters = shared_parameters();
    paths.insert(
        "/",
        Object::default().with("get", json!({"tags": ["Introspection"], "summary": "OpenAPI description (this document)", "produces": ["application/openapi+json", "application/json"], "responses": {"200": {"description": "OK"}}})),
    );
    let table_visible = |n: &str| visible.is_none_or(|v| v.tables.contains(n));
    let function_visible = |n: &str| visible.is_none_or(|v| v.functions.contains(n));
    for ((s, name), t) in cache
        .tables
        .iter()
        .filter(|((s, n), _)| s == schema && table_visible(n))
    {
        let rels = cache.relationships_from(s, name);
        definitions.insert(name.clone(), definition(cache, t, rels));
        parameters.insert(
            format!("body.{name}"),
            json!({"name": name, "in": "body", "required": false, "description": name, "schema": {"$ref": format!("#/definitions/{name}")}}),
        );
        let mut row_filters = Vec::new();
        for c in &t.columns {
            let key = format!("rowFilter.{name}.{}", c.name);
            // An operator and a value (`eq.5`), whatever the column's type: no format. As
            // PostgREST, the column's comment describes it (without the key notes).
            let mut filter =
                json!({"name": c.name, "in": "query", "required": false, "type": "string"});
            if let Some(d) = &c.description {
                filter["description"] = json!(d);
            }
            parameters.insert(key.clone(), filter);
            row_filters.push(json!({"$ref": format!("#/parameters/{key}")}));
        }
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
        // Operations in PostgREST's order: GET, POST, DELETE, PATCH.
        let mut ops = vec![(
            "get",
            json!({"tags": [name], "parameters": get_params, "responses": {"200": {"description": "OK", "schema": {"type": "array", "items": {"$ref": format!("#/definitions/{name}")}}}, "206": {"description": "Partial Content"}}}),
        )];
        // As PostgREST: a relation that takes any write is described with all three.
        if t.insertable || t.updatable || t.deletable {
            let p = refs(&[&format!("body.{name}"), "select", "preferPost"]);
            ops.push(("post", json!({"tags": [name], "parameters": p, "responses": {"201": {"description": "Created"}}})));
            let mut p = row_filters.clone();
            p.extend(refs(&["preferReturn"]));
            ops.push(("delete", json!({"tags": [name], "parameters": p, "responses": {"204": {"description": "No Content"}}})));
            let mut p = row_filters;
            p.extend(refs(&[&format!("body.{name}"), "preferReturn"]));
            ops.push(("patch", json!({"tags": [name], "parameters": p, "responses": {"204": {"description": "No Content"}}})));
        }
        // The table's comment: its first line the summary, the rest the description.
        if let Some(comment) = &t.description {
            describe_operations(&mut ops, comment);
        }
        paths.insert(format!("/{name}"), path_item(ops));
    }
    for ((_, name), overloads) in cache
        .functions
        .iter()
        .filter(|((s, n), _)| s == schema && function_visible(n))
    {
        let Some(f) = described_overload(overloads) else {
            continue;
        };
        let props: Map<String, Value> = f
            .args
            .iter()
            .filter(|a| !a.name.is_empty())
            .map(|a| {
                let mut p = Map::new();
                typed(&mut p, &a.data_type);
                (a.name.clone(), Value::Object(p))
            })
            .collect();
        let required: Vec<&str> = f
            .args
            .iter()
            .filter(|a| !a.has_default && !a.name.is_empty())
            .map(|a| a.name.as_str())
            .collect();
        let produces = json!([
            "application/json",
            "application/vnd.pgrst.object+json;nulls=stripped",
            "application/vnd.pgrst.object+json"
        ]);
        // As PostgREST, empty members are left out (Swagger 2.0 forbids an empty `required`);
        // the whole comment describes the body.
        let mut schema = json!({"type": "object"});
        if !props.is_empty() {
            schema["properties"] = json!(props);
        }
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if let Some(d) = &f.description {
            schema["description"] = json!(d);
        }
        let mut ops = Vec::new();
        if f.is_read_only() {
            let params: Vec<Value> = f
                .args
                .iter()
                .filter(|a| !a.name.is_empty())
                .map(get_param)
                .collect();
            let mut get = json!({"tags": ["(rpc) ".to_string() + name], "produces": produces, "responses": {"200": {"description": "OK"}}});
            if !params.is_empty() {
                get["parameters"] = json!(params);
            }
            ops.push(("get", get));
        }
        ops.push(("post", json!({"tags": ["(rpc) ".to_string() + name], "produces": produces, "parameters": [{"name": "args", "in": "body", "required": true, "schema": schema}, {"$ref": "#/parameters/preferParams"}], "responses": {"200": {"description": "OK"}}})));
        if let Some(comment) = &f.description {
            describe_operations(&mut ops, comment);
        }
        paths.insert(format!("/rpc/{name}"), path_item(ops));
    }
    // As PostgREST: the schema's comment gives the title (its first line) and description.
    let (title, description) = match cache.schema_descriptions.get(schema) {
        Some(comment) => match comment.split_once('\n') {
            Some((title, rest)) => (title, rest.trim_start_matches('\n')),
            None => (comment.as_str(), ""),
        },
        // PostgREST's own words, naming MadBase where PostgREST names itself.
        None => ("MadBase API", "This is a dynamic API generated by MadBase"),
    };
    let (mut schemes, mut host, mut base_path) = (json!(["http", "https"]), None, "/");
    match settings.openapi_server.as_deref() {
        Some(path) if path.starts_with('/') => base_path = path,
        Some(url) => {
            if let Some((scheme, h, base)) = split_url(url) {
                schemes = json!([scheme]);
                host = Some(h);
                base_path = base;
            }
        }
        None => {}
    }
    let media = json!([
        "application/json",
        "application/vnd.pgrst.object+json;nulls=stripped",
        "application/vnd.pgrst.object+json",
        "text/csv"
    ]);
    // The members in PostgREST's order.
    let mut doc = Object::default().with("swagger", json!("2.0")).with(
        "info",
        json!({"title": title, "description": description, "version": env!("CARGO_PKG_VERSION")}),
    );
    if let Some(host) = host {
        doc.insert("host", json!(host));
    }
    doc = doc
        .with("basePath", json!(base_path))
        .with("schemes", schemes)
        .with("consumes", media.clone())
        .with("produces", media)
        .with("paths", paths);
    if !definitions.members.is_empty() {
        doc.insert("definitions", definitions);
    }
    doc.insert("parameters", parameters);
    if settings.openapi_security_active {
        // PostgREST's `JWT`, and the API key a Supabase-style gateway asks for too.
        doc.insert(
            "securityDefinitions",
            json!({
                "JWT": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Add the token prepending \"Bearer \" (without quotes) to it"},
                "apikey": {"type": "apiKey", "in": "header", "name": "apikey", "description": "The project's anon or service_role key"}
            }),
        );
        doc.insert("security", json!([{"JWT": [], "apikey": []}]));
    }
    // The reference for the API's grammar is PostgREST 13's, which it follows.
    doc.with(
        "externalDocs",
        json!({"description": "PostgREST Documentation", "url": EXTERNAL_DOCS}),
    )
}

/// PostgREST 13's API reference, which the document points to as PostgREST 13's does.
const EXTERNAL_DOCS: &str = "https://postgrest.org/en/v13/references/api.html";

/// The parameters every relation's operations refer to, in PostgREST's order.
fn shared_parameters() -> Object {
    let mut parameters = Object::default();
    for (key, param) in [
        ("preferParams", prefer(&[])),
        (
            "preferReturn",
            prefer(&["return=representation", "return=minimal", "return=none"]),
        ),
        ("preferCount", prefer(&["count=none"])),
        (
            "preferPost",
            prefer(&[
                "return=representation",
                "return=minimal",
                "return=none",
                "resolution=ignore-duplicates",
                "resolution=merge-duplicates",
            ]),
        ),
        (
            "select",
            json!({"name": "select", "description": "Filtering Columns", "required": false, "in": "query", "type": "string"}),
        ),
        (
            "on_conflict",
            json!({"name": "on_conflict", "description": "On Conflict", "required": false, "in": "query", "type": "string"}),
        ),
        (
            "order",
            json!({"name": "order", "description": "Ordering", "required": false, "in": "query", "type": "string"}),
        ),
        (
            "range",
            json!({"name": "Range", "description": "Limiting and Pagination", "required": false, "in": "header", "type": "string"}),
        ),
        (
            "rangeUnit",
            json!({"name": "Range-Unit", "description": "Limiting and Pagination", "required": false, "default": "items", "in": "header", "type": "string"}),
        ),
        (
            "offset",
            json!({"name": "offset", "description": "Limiting and Pagination", "required": false, "in": "query", "type": "string"}),
        ),
        (
            "limit",
            json!({"name": "limit", "description": "Limiting and Pagination", "required": false, "in": "query", "type": "string"}),
        ),
    ] {
        parameters.insert(key, param);
    }
    parameters
}

/// A `Prefer` header parameter as PostgREST describes it: "Preference", and the values it
/// lists, if any (none for the functions' `preferParams`).
fn prefer(values: &[&str]) -> Value {
    let mut p = json!({"name": "Prefer", "description": "Preference", "in": "header", "required": false, "type": "string"});
    if !values.is_empty() {
        p["enum"] = json!(values);
    }
    p
}

/// A path's operations, in the order given.
fn path_item(ops: Vec<(&str, Value)>) -> Object {
    let mut item = Object::default();
    for (method, op) in ops {
        item.insert(method, op);
    }
    item
}

/// `https://host:port/path` as PostgREST's `openapi-server-proxy-uri` gives it: the scheme in
/// lower case, the host always with a port (the scheme's, 80 or 443, when the URL has none),
/// and the path (`/` when none) without a query or fragment.
fn split_url(url: &str) -> Option<(String, String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let path = match path.find(['?', '#']) {
        Some(i) => &path[..i],
        None => path,
    };
    let path = if path.is_empty() { "/" } else { path };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // A port follows the last colon, unless that colon is inside an IPv6 address.
    let port = host
        .rsplit_once(':')
        .filter(|(_, p)| !p.contains(']'))
        .map(|(h, p)| (h, p.parse::<u16>().ok()));
    let host = match port {
        Some((h, Some(p))) => format!("{h}:{p}"),
        Some((h, None)) => format!("{h}:{}", default_port(&scheme)),
        None => format!("{host}:{}", default_port(&scheme)),
    };
    Some((scheme, host, path))
}

/// A scheme's port: 443 for `https`, 80 otherwise.
fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// The `GET /` response, as `openapi-mode` says: with `follow-privileges` the privileges of
/// the request's role are read in the request's own read-only transaction (role and claims set
/// as for any request), then the document is built; with `ignore-privileges` the transaction
/// still runs (an unknown role or a failing pre-request fails the same way) but everything is
/// described; with `disabled` the answer is 404 PGRST126.
pub async fn serve(ctx: &Ctx<'_>, client: &dyn Connection) -> Result<RestResponse, RestError> {
    let mode = ctx.settings.openapi_mode;
    if mode == OpenApiMode::Disabled {
        return Err(RestError::OpenApiDisabled);
    }
    let follow = mode == OpenApiMode::FollowPrivileges;
    let mut main = Sql::new();
    if follow {
        main.push(VISIBLE_SQL);
        main.params.push(Some(ctx.schema.clone()));
    } else {
        main.push("SELECT NULL::text AS body");
    }
    let out = ctx.run(client, true, main, None).await?;
    let visible = if follow {
        let text = out
            .rows
            .first()
            .and_then(|r| r.text(0))
            .ok_or_else(|| RestError::Internal("privileges query returned no row".into()))?;
        Some(Visible::from_json(text)?)
    } else {
        None
    };
    let doc = document(ctx.cache, &ctx.schema, visible.as_ref(), ctx.settings);
    let body = serde_json::to_string(&doc)
        .map_err(|e| RestError::Internal(format!("OpenAPI document: {e}")))?;
    Ok(ctx.finish(RestResponse::new(
        StatusCode::OK,
        "application/openapi+json; charset=utf-8",
        body,
    )))
}

/// A function argument as a query parameter: PostgREST's typing (arrays and `json` as
/// strings; a variadic one repeated, `collectionFormat: multi`).
fn get_param(a: &crate::schema_cache::FuncArg) -> Value {
    let t = base_type(&a.data_type);
    let mut p = json!({"name": a.name, "in": "query", "required": !a.has_default});
    if a.variadic {
        let element = t.strip_suffix("[]").unwrap_or(&t);
        p["type"] = json!(swagger_type(&t).unwrap_or("string"));
        p["collectionFormat"] = json!("multi");
        let mut items = json!({"format": swagger_format(element)});
        if let Some(ty) = swagger_type(element) {
            items["type"] = json!(ty);
        }
        p["items"] = items;
    } else {
        p["type"] = json!(match swagger_type(&t) {
            Some("array") | None => "string",
            Some(ty) => ty,
        });
        p["format"] = json!(swagger_format(&t));
    }
    p
}

/// Gives every operation of a path PostgREST's summary and description from a comment: its
/// first line, and the rest without the newlines that start it (left out when empty).
fn describe_operations(ops: &mut [(&str, Value)], comment: &str) {
    let (summary, rest) = comment.split_once('\n').unwrap_or((comment, ""));
    let description = rest.trim_start_matches('\n');
    for (_, op) in ops {
        op["summary"] = json!(summary);
        if !description.is_empty() {
            op["description"] = json!(description);
        }
    }
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
