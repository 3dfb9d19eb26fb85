//! Tests of the OpenAPI description: what it lists, in which order, and its details.

use super::*;
use crate::plan::tests::sample_cache;
use crate::schema_cache::{FuncArg, ReturnKind};

#[test]
fn only_visible_relations_and_functions_are_described() {
    let cache = sample_cache();
    let settings = RestSettings::default();
    let all = document(&cache, "public", None, &settings).to_value();
    assert!(all["paths"]["/users"].is_object());
    assert!(all["paths"]["/projects"].is_object());
    let visible = Visible {
        tables: HashSet::from(["users".to_string()]),
        functions: HashSet::new(),
    };
    let some = document(&cache, "public", Some(&visible), &settings).to_value();
    assert!(some["paths"]["/users"].is_object());
    assert!(some["paths"]["/projects"].is_null());
    assert!(some["definitions"]["projects"].is_null());
    assert!(some["parameters"]["rowFilter.projects.id"].is_null());
    assert_eq!(
        Visible::from_json(r#"{"tables":["a"],"functions":["f","g"]}"#).expect("parses"),
        Visible {
            tables: HashSet::from(["a".to_string()]),
            functions: HashSet::from(["f".to_string(), "g".to_string()]),
        }
    );
}

/// A function `name(args)` of `public`, stable unless `volatile`.
fn function(name: &str, args: &[(&str, &str)], volatile: bool) -> Function {
    Function {
        schema: "public".into(),
        name: name.into(),
        args: args
            .iter()
            .map(|(n, t)| FuncArg {
                name: (*n).into(),
                data_type: (*t).into(),
                has_default: false,
                variadic: false,
            })
            .collect(),
        return_type: "integer".into(),
        returns: ReturnKind::Scalar,
        returns_set: false,
        volatility: if volatile { 'v' } else { 's' },
        description: None,
        isolation: None,
        config: Vec::new(),
    }
}

#[test]
fn members_come_in_postgrest_order_and_properties_in_column_order() {
    let mut cache = sample_cache();
    if let Some(users) = cache.tables.get_mut(&("public".into(), "users".into())) {
        users.description = Some("People".into());
        users.columns[1].nullable = false;
    }
    cache.functions.insert(
        ("public".into(), "a_function".into()),
        vec![function(
            "a_function",
            &[("z", "integer"), ("a", "text")],
            false,
        )],
    );
    let doc = document(&cache, "public", None, &RestSettings::default());
    assert_eq!(
        doc.names(),
        [
            "swagger",
            "info",
            "basePath",
            "schemes",
            "consumes",
            "produces",
            "paths",
            "definitions",
            "parameters",
            "externalDocs"
        ]
    );
    let member = |path: &[&str]| path.iter().try_fold(&doc, |o, n| o.get(n)).expect("member");
    // The root, the relations, then the functions.
    assert_eq!(
        member(&["paths"]).names(),
        [
            "/",
            "/members",
            "/projects",
            "/tasks",
            "/teams",
            "/users",
            "/rpc/a_function"
        ]
    );
    assert_eq!(
        member(&["paths", "/users"]).names(),
        ["get", "post", "delete", "patch"]
    );
    assert_eq!(
        member(&["paths", "/rpc/a_function"]).names(),
        ["get", "post"]
    );
    let users = member(&["definitions", "users", "properties"]);
    assert_eq!(users.names(), ["id", "name", "manager_id", "data"]);
    assert_eq!(
        member(&["definitions", "users"]).names(),
        ["description", "required", "properties", "type"]
    );
    // Written in that order too, which a `Value` would not keep.
    let text = serde_json::to_string(users).expect("serializes");
    let at = |name: &str| text.find(&format!("\"{name}\":")).expect(name);
    assert!(
        at("id") < at("name") && at("name") < at("manager_id") && at("manager_id") < at("data"),
        "{text}"
    );
    let parameters = member(&["parameters"]).names();
    assert_eq!(
        parameters[..14],
        [
            "preferParams",
            "preferReturn",
            "preferCount",
            "preferPost",
            "select",
            "on_conflict",
            "order",
            "range",
            "rangeUnit",
            "offset",
            "limit",
            "body.members",
            "rowFilter.members.user_id",
            "rowFilter.members.team_id"
        ]
    );
    assert_eq!(
        parameters[parameters.len() - 5..],
        [
            "body.users",
            "rowFilter.users.id",
            "rowFilter.users.name",
            "rowFilter.users.manager_id",
            "rowFilter.users.data"
        ]
    );
    let mut twice = Object::default().with("a", json!(1)).with("b", json!(2));
    twice.insert("a", json!(3));
    assert_eq!(twice.names(), ["b", "a"]);
    assert_eq!(twice.to_value(), json!({"a": 3, "b": 2}));
}

#[test]
fn empty_members_are_left_out_as_in_postgrest() {
    let mut cache = sample_cache();
    cache.tables.insert(
        ("other".into(), "bare".into()),
        Table {
            schema: "other".into(),
            name: "bare".into(),
            columns: Vec::new(),
            pk: Vec::new(),
            uniques: Vec::new(),
            ..cache.tables[&("public".to_string(), "users".to_string())].clone()
        },
    );
    cache.functions.insert(
        ("public".into(), "none".into()),
        vec![function("none", &[], false)],
    );
    let settings = RestSettings::default();
    let doc = document(&cache, "public", None, &settings).to_value();
    let none = &doc["paths"]["/rpc/none"];
    assert!(none["get"].get("parameters").is_none(), "{none}");
    assert_eq!(
        none["post"]["parameters"][0]["schema"],
        json!({"type": "object"})
    );
    // A relation without columns, and a schema without relations.
    let other = document(&cache, "other", None, &settings).to_value();
    assert_eq!(other["definitions"]["bare"], json!({"type": "object"}));
    let nowhere = document(&cache, "nowhere", None, &settings);
    assert!(
        !nowhere.names().contains(&"definitions"),
        "{:?}",
        nowhere.names()
    );
}

#[test]
fn prefer_parameters_are_a_described_preference_as_in_postgrest() {
    let doc = document(&sample_cache(), "public", None, &RestSettings::default()).to_value();
    assert_eq!(
        doc["parameters"]["preferParams"],
        json!({"name": "Prefer", "description": "Preference", "in": "header", "required": false, "type": "string"})
    );
    assert_eq!(
        doc["parameters"]["preferCount"],
        json!({"name": "Prefer", "description": "Preference", "in": "header", "required": false, "type": "string", "enum": ["count=none"]})
    );
    for (name, values) in [("preferReturn", 3), ("preferPost", 5)] {
        let p = &doc["parameters"][name];
        assert_eq!(p["description"], "Preference", "{name}");
        assert_eq!(p["enum"].as_array().map(Vec::len), Some(values), "{name}");
    }
}

#[test]
fn a_column_notes_one_key_held_on_its_side_in_its_schema_tables_first() {
    let mut cache = sample_cache();
    let users = ("public".to_string(), "users".to_string());
    let mut view = cache.tables[&users].clone();
    view.name = "people".into();
    view.kind = TableKind::View;
    cache
        .tables
        .insert(("public".into(), "people".into()), view);
    let to = |schema: &str, name: &str, cardinality: Cardinality, column: &str| Relationship {
        origin: users.clone(),
        target: (schema.into(), name.into()),
        cardinality,
        constraint: "c".into(),
        columns: vec![(column.into(), "id".into())],
    };
    let rels = cache.relationships.entry(users.clone()).or_default();
    // Before the self-reference: one in another schema, one to a view, and a one-to-one
    // whose key is on the other side.
    rels.insert(
        0,
        to("other", "users", Cardinality::ManyToOne, "manager_id"),
    );
    rels.insert(
        1,
        to("public", "people", Cardinality::ManyToOne, "manager_id"),
    );
    rels.insert(
        2,
        to(
            "public",
            "people",
            Cardinality::OneToOne {
                origin_holds_fk: false,
            },
            "id",
        ),
    );
    let doc = document(&cache, "public", None, &RestSettings::default()).to_value();
    let props = &doc["definitions"]["users"]["properties"];
    assert_eq!(
        props["manager_id"]["description"],
        "Note:\nThis is a Foreign Key to `users.id`.<fk table='users' column='id'/>"
    );
    assert_eq!(
        props["id"]["description"],
        "Note:\nThis is a Primary Key.<pk/>"
    );
}

#[test]
fn a_relation_taking_any_write_is_described_with_every_write_as_in_postgrest() {
    let mut cache = sample_cache();
    let users = ("public".to_string(), "users".to_string());
    let methods = |cache: &SchemaCache| {
        let doc = document(cache, "public", None, &RestSettings::default());
        let paths = doc.get("paths").expect("paths");
        let users = paths.get("/users").expect("/users");
        users
            .names()
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
    };
    for (insertable, updatable, deletable) in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
    ] {
        if let Some(t) = cache.tables.get_mut(&users) {
            (t.insertable, t.updatable, t.deletable) = (insertable, updatable, deletable);
        }
        assert_eq!(methods(&cache), ["get", "post", "delete", "patch"]);
    }
    if let Some(t) = cache.tables.get_mut(&users) {
        (t.insertable, t.updatable, t.deletable) = (false, false, false);
    }
    assert_eq!(methods(&cache), ["get"]);
}

#[test]
fn an_overloaded_function_is_described_by_postgrest_s_last_overload() {
    let mut cache = sample_cache();
    let mut commented = function("multi", &[("", "text")], false);
    commented.description = Some("Text".into());
    cache.functions.insert(
        ("public".into(), "multi".into()),
        vec![
            function("multi", &[], true),
            function("multi", &[("x", "integer"), ("y", "integer")], false),
            function("multi", &[("", "text")], false),
        ],
    );
    cache.functions.insert(
        ("public".into(), "single".into()),
        vec![
            function("single", &[("", "text")], false),
            commented,
            function("single", &[("", "bytea")], false),
        ],
    );
    let doc = document(&cache, "public", None, &RestSettings::default()).to_value();
    // The most arguments.
    let multi = &doc["paths"]["/rpc/multi"];
    assert_eq!(
        multi["post"]["parameters"][0]["schema"]["required"],
        json!(["x", "y"])
    );
    assert!(multi["get"].is_object());
    // As many: a comment after none.
    assert_eq!(doc["paths"]["/rpc/single"]["post"]["summary"], "Text");
    let mut cache = sample_cache();
    cache.functions.insert(
        ("public".into(), "single".into()),
        vec![
            function("single", &[("", "bytea")], false),
            function("single", &[("", "text")], true),
        ],
    );
    // Then by the arguments: `text` after `bytea`.
    let doc = document(&cache, "public", None, &RestSettings::default()).to_value();
    assert!(doc["paths"]["/rpc/single"]["get"].is_null());
}

#[test]
fn types_formats_and_defaults_as_postgrest_shows_them() {
    assert_eq!(base_type("character(1)"), "character");
    assert_eq!(base_type("numeric(10,2)[]"), "numeric[]");
    assert_eq!(
        base_type("timestamp(3) with time zone"),
        "timestamp with time zone"
    );
    for (t, ty) in [
        ("integer", Some("integer")),
        ("double precision", Some("number")),
        ("boolean", Some("boolean")),
        ("jsonb", None),
        ("text[]", Some("array")),
        ("uuid", Some("string")),
    ] {
        assert_eq!(swagger_type(t), ty, "{t}");
    }
    assert_eq!(array_items("text[]"), Some(json!({"type": "string"})));
    assert_eq!(array_items("json[]"), Some(json!({})));
    for (t, default, shown) in [
        ("text", "'default'::text", Some(json!("default"))),
        ("date", "'1900-01-01'::date", Some(json!("1900-01-01"))),
        ("boolean", "false", Some(json!(false))),
        ("integer", "42", Some(json!(42))),
        ("bigint", "nextval('t_id_seq'::regclass)", None),
    ] {
        assert_eq!(default_value(t, default), shown, "{default}");
    }
    let variadic = crate::schema_cache::FuncArg {
        name: "v".into(),
        data_type: "text[]".into(),
        has_default: false,
        variadic: true,
    };
    assert_eq!(
        get_param(&variadic),
        json!({"name": "v", "in": "query", "required": true, "type": "array",
               "collectionFormat": "multi", "items": {"type": "string", "format": "text"}})
    );
    // Integers carry OpenAPI 2.0's formats, other types their own names.
    for (t, format) in [
        ("smallint", "int32"),
        ("integer", "int32"),
        ("bigint", "int64"),
        ("numeric", "numeric"),
        ("integer[]", "integer[]"),
    ] {
        let mut p = serde_json::Map::new();
        typed(&mut p, t);
        assert_eq!(p["format"], json!(format), "{t}");
    }
    let ints = crate::schema_cache::FuncArg {
        name: "ns".into(),
        data_type: "bigint[]".into(),
        has_default: false,
        variadic: true,
    };
    assert_eq!(get_param(&ints)["items"]["format"], json!("int64"));
}

#[test]
fn comments_give_operations_a_summary_and_a_description_as_in_postgrest() {
    let mut item = vec![
        ("get", json!({"tags": ["t"]})),
        ("post", json!({"tags": ["t"]})),
    ];
    describe_operations(&mut item, "Clients summary\n\nClients description\nmore");
    for (_, op) in &item {
        assert_eq!(op["summary"], "Clients summary");
        assert_eq!(op["description"], "Clients description\nmore");
    }
    let mut item = vec![("post", json!({}))];
    describe_operations(&mut item, "Only a summary");
    assert_eq!(item[0].1, json!({"summary": "Only a summary"}));
}

#[test]
fn the_server_the_security_and_the_schema_comment_shape_the_header() {
    let mut cache = sample_cache();
    let plain = document(&cache, "public", None, &RestSettings::default()).to_value();
    assert_eq!(plain["basePath"], "/");
    assert!(plain["host"].is_null());
    assert!(plain["securityDefinitions"].is_null());
    assert_eq!(
        plain["info"],
        json!({"title": "MadBase API", "description": "This is a dynamic API generated by MadBase", "version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(
        plain["externalDocs"],
        json!({"description": "PostgREST Documentation", "url": "https://postgrest.org/en/v13/references/api.html"})
    );
    cache.schema_descriptions.insert(
        "public".into(),
        "Shop API\n\nEverything the shop sells.\nAnd more.".into(),
    );
    let settings = RestSettings {
        openapi_server: Some("https://api.example.com:8443/rest/v1".into()),
        openapi_security_active: true,
        ..RestSettings::default()
    };
    let doc = document(&cache, "public", None, &settings).to_value();
    assert_eq!(doc["schemes"], json!(["https"]));
    assert_eq!(doc["host"], "api.example.com:8443");
    assert_eq!(doc["basePath"], "/rest/v1");
    assert_eq!(doc["info"]["title"], "Shop API");
    assert_eq!(
        doc["info"]["description"],
        "Everything the shop sells.\nAnd more."
    );
    assert_eq!(doc["security"], json!([{"JWT": [], "apikey": []}]));
    assert_eq!(doc["securityDefinitions"]["JWT"]["name"], "Authorization");
    let root = RestSettings {
        openapi_server: Some("http://localhost:3000".into()),
        ..RestSettings::default()
    };
    let doc = document(&cache, "public", None, &root).to_value();
    assert_eq!(doc["basePath"], "/");
    assert_eq!(doc["host"], "localhost:3000");
    // As PostgREST: the scheme in lower case, the host with its port, given or the
    // scheme's, the path without a query.
    for (url, scheme, host, base) in [
        (
            "HTTPS://api.example.com/rest/v1?x=1",
            "https",
            "api.example.com:443",
            "/rest/v1",
        ),
        ("http://example.com", "http", "example.com:80", "/"),
        ("http://[::1]:3000/v1", "http", "[::1]:3000", "/v1"),
        ("https://[::1]", "https", "[::1]:443", "/"),
    ] {
        let settings = RestSettings {
            openapi_server: Some(url.into()),
            ..RestSettings::default()
        };
        let doc = document(&cache, "public", None, &settings).to_value();
        assert_eq!(
            (&doc["schemes"], &doc["host"], &doc["basePath"]),
            (&json!([scheme]), &json!(host), &json!(base)),
            "{url}"
        );
    }
    let relative = RestSettings {
        openapi_server: Some("/rest/v1".into()),
        ..RestSettings::default()
    };
    let doc = document(&cache, "public", None, &relative).to_value();
    assert_eq!(doc["basePath"], "/rest/v1");
    assert!(doc["host"].is_null(), "the serving host");
    assert_eq!(doc["schemes"], json!(["http", "https"]));
}
