//! Schemas, errors, roles, RLS, per-request settings, pre-request, OpenAPI.

mod data_plane;
mod postgres;

use data_plane::*;
use madbase_rest::JwtErrorKind;
use madbase_rest::{ClientErrorVerbosity, OpenApiMode, RestSettings};
use serde_json::{Value, json};

#[tokio::test]
async fn profiles_switch_schema() {
    let api = Api::new().await;
    let r = api
        .get_h("/widgets?order=id", &[("accept-profile", "api")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![1, 2]);
    assert_eq!(r.header("content-profile"), Some("api"));
    let r = api.get_h("/widgets", &[("accept-profile", "nope")]).await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.json(),
        json!({"code": "PGRST106", "message": "Invalid schema: nope", "details": null, "hint": "Only the following schemas are exposed: public, api"})
    );
    let r = api.get("/widgets").await;
    assert_eq!(r.status, 404);
    // OPTIONS names its schema as reads do, in Accept-Profile.
    let r = api
        .req(
            "OPTIONS",
            "/widgets",
            &[("accept-profile", "api")],
            "",
            "anon",
            json!({"role": "anon"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("allow").is_some_and(|a| a.contains("POST")));
    let r = api
        .send(
            "POST",
            "/rpc/widget_count",
            &[("content-profile", "api")],
            "{}",
        )
        .await;
    assert_eq!(r.body, "2");
}

#[tokio::test]
async fn unknown_table_column_and_path() {
    let api = Api::new().await;
    let r = api.get("/task").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": "PGRST205", "message": "Could not find the table 'public.task' in the schema cache", "details": null, "hint": "Perhaps you meant the table 'public.tasks'"})
    );
    // PostgREST's fuzzy match (14.6 on): a table name is suggested only from a score of 0.75,
    // so that probing with fragments does not list the schema. "mem" shares trigrams with
    // "members" only, 4 edits away of 7 (0.43): no hint; "membes" is 1 edit away (0.86).
    let r = api.get("/mem").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["hint"], Value::Null, "{}", r.body);
    let r = api.get("/membes").await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant the table 'public.members'"
    );
    // Unknown columns are PostgreSQL's errors, with its hints: both columns at the smallest
    // distance, and none more than half the name's length away.
    let r = api.get("/items?select=nate").await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant to reference the column \"items.name\" or the column \"items.note\"."
    );
    let r = api.get("/items?select=i").await;
    assert_eq!(
        r.json(),
        json!({"code": "42703", "message": "column items.i does not exist", "details": null, "hint": null})
    );
    let r = api.get("/tasks?select=titel").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "42703");
    assert!(
        r.json()["hint"]
            .as_str()
            .expect("hint")
            .contains("tasks.title")
    );
    for path in [
        "/tasks/1",
        "//tasks",
        "/tasks/",
        "/rpc/add/",
        "/rpc//add",
        "//",
    ] {
        let r = api.get(path).await;
        assert_eq!(
            (r.status, &r.json()["code"]),
            (404, &json!("PGRST125")),
            "{path}"
        );
    }
    let r = api.send("TRACE", "/tasks", &[], "").await;
    assert_eq!(r.json()["code"], "PGRST117");
    let r = api.send("PUT", "/rpc/add", &[], "{}").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "PGRST101");
}

#[tokio::test]
async fn malformed_queries_are_400_and_never_reach_sql() {
    let api = Api::new().await;
    for q in [
        "select=id;drop table users",
        "select=id,(name",
        "id=noop.1",
        "order=id;delete",
        "order=id.sideways",
        "select=id::int);drop table x;--",
        "id=in.(1,2",
        "or=(id.eq.1",
        "\"id\"\"=eq.1",
    ] {
        let r = api.get(&format!("/users?{q}")).await;
        assert!(
            r.status >= 400 && r.status < 500,
            "{q}: {} {}",
            r.status,
            r.body
        );
    }
    // Hostile names are quoted identifiers that simply do not exist.
    let r = api
        .get("/users?select=\"name\\\"; drop table users; --\"")
        .await;
    assert_eq!(r.status, 400);
    let r = api
        .get("/users?select=id&name=eq.'; drop table users; --")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]));
    let r = api.get("/users?select=name->>'x'').count").await;
    assert!(r.status >= 400 && r.status < 500);
    let r = api.get("/tasks?select=id&meta->>\"a'b\"=eq.1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.get("/users?select=id").await;
    assert_eq!(r.json().as_array().expect("rows").len(), 3);
}

#[tokio::test]
async fn parse_error_names_the_offending_part() {
    let api = Api::new().await;
    let r = api.get("/users?id=noop.1").await;
    assert_eq!(r.status, 400);
    let b = r.json();
    assert_eq!(b["code"], "PGRST100");
    assert!(
        b["message"].as_str().expect("msg").contains("noop.1"),
        "{b}"
    );
}

#[tokio::test]
async fn rls_and_roles() {
    let api = Api::new().await;
    let r = api.get("/todos?select=title").await;
    assert_eq!(r.json(), json!([{"title": "public one"}]));
    let r = api
        .req(
            "GET",
            "/todos?select=title&order=id",
            &[],
            "",
            "authenticated",
            json!({"sub": "u1", "role": "authenticated"}),
        )
        .await;
    assert_eq!(
        r.json(),
        json!([{"title": "public one"}, {"title": "private one"}])
    );
    // Anonymous write denied by RLS: 401; a user writing for someone else: 403.
    let r = api
        .req(
            "POST",
            "/todos",
            &[],
            r#"{"title":"x","user_id":"u1"}"#,
            "anon",
            json!({"role": "anon"}),
        )
        .await;
    r.expect_error(401, "42501");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = api
        .req(
            "POST",
            "/todos",
            &[],
            r#"{"title":"x","user_id":"u2"}"#,
            "authenticated",
            json!({"sub": "u1", "role": "authenticated"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Missing table privileges for anon.
    let r = api.get("/reservations").await;
    assert_eq!(r.status, 401);
    // Unknown role from a JWT.
    let r = api
        .req(
            "GET",
            "/users",
            &[],
            "",
            "nobody",
            json!({"role": "nobody"}),
        )
        .await;
    r.expect_error(401, "22023");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    // service_role bypasses RLS.
    let r = api.send("GET", "/todos?select=id", &[], "").await;
    assert_eq!(r.json().as_array().expect("rows").len(), 3);
}

#[tokio::test]
async fn request_settings_reach_the_database() {
    let api = Api::new().await;
    let r = api
        .req(
            "GET",
            "/rpc/whoami",
            &[
                ("user-agent", "tester/1"),
                ("cookie", "session=abc; other=1"),
            ],
            "",
            "authenticated",
            json!({"sub": "u9", "role": "authenticated"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = r.json();
    assert_eq!(b["role"], "authenticated");
    assert_eq!(b["claims"]["sub"], "u9");
    assert_eq!(b["method"], "GET");
    assert_eq!(b["path"], "/rpc/whoami");
    assert_eq!(b["ua"], "tester/1");
    assert_eq!(b["cookie"], "abc");
}

#[tokio::test]
async fn pre_request_runs_first() {
    let api = Api::with(RestSettings {
        pre_request: Some("public.check_request".into()),
        ..settings()
    })
    .await;
    let r = api.get("/rpc/whoami").await;
    assert_eq!(r.json()["pre"], "ran");
    let r = api.get_h("/users", &[("x-block", "yes")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["message"], "Blocked by pre-request");
}

#[tokio::test]
async fn jwt_errors_render_postgrest_bodies() {
    let verbose = RestSettings::default();
    let r = madbase_rest::jwt_error(JwtErrorKind::Claims("JWT expired".into()), &verbose);
    assert_eq!(r.status.as_u16(), 401);
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        b,
        json!({"code": "PGRST303", "message": "JWT expired", "details": null, "hint": null})
    );
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer error=\"invalid_token\", error_description=\"JWT expired\""
    );
    let r = madbase_rest::jwt_error(
        JwtErrorKind::Invalid("Expected 3 parts in JWT; got 2".into()),
        &verbose,
    );
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(b["code"], "PGRST301");
    let minimal = RestSettings {
        error_verbosity: ClientErrorVerbosity::Minimal,
        ..RestSettings::default()
    };
    let r = madbase_rest::jwt_error(JwtErrorKind::Claims("JWT expired".into()), &minimal);
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(b, json!({"code": "PGRST303", "message": "JWT expired"}));
}

#[tokio::test]
async fn minimal_error_verbosity_keeps_code_and_message_only() {
    let api = Api::with(RestSettings {
        error_verbosity: ClientErrorVerbosity::Minimal,
        ..settings()
    })
    .await;
    // A parse error, a schema cache miss and a database error: each loses details and hint.
    for url in ["/users?id=eq", "/userz", "/rpc/plain_raise"] {
        let r = api.get(url).await;
        assert!(r.status >= 400, "{url}: {}", r.status);
        let body = r.json();
        let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["code", "message"], "{url}: {body}");
    }
    // A successful response is untouched, and verbose stays the default.
    assert_eq!(api.get("/users?select=id&limit=1").await.status, 200);
    let r = Api::new().await.get("/userz").await;
    assert!(r.json()["hint"].is_string(), "{}", r.body);
}

#[tokio::test]
async fn log_query_hands_back_the_main_statement_without_its_values() {
    let api = Api::with(RestSettings {
        log_query: true,
        ..settings()
    })
    .await;
    let r = api.get("/users?select=id&name=eq.very-private-value").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let query = r.query.expect("the query");
    assert!(query.contains(r#"FROM "public"."users""#), "{query}");
    assert!(query.contains("$1"), "{query}");
    assert!(!query.contains("very-private-value"), "{query}");
    // A failing statement is reported too; a request refused before SQL has none.
    let r = api.get("/rpc/plain_raise").await;
    assert_eq!(r.status, 400);
    assert!(r.query.expect("the query").contains("plain_raise"));
    assert_eq!(api.get("/userz").await.query, None);
    assert_eq!(
        Api::new().await.get("/users").await.query,
        None,
        "off by default"
    );
}

#[tokio::test]
async fn server_timing_reports_postgrest_s_metrics_when_enabled() {
    let api = Api::with(RestSettings {
        server_timing: true,
        ..settings()
    })
    .await;
    let metric_names = |h: &str| -> Vec<String> {
        h.split(", ")
            .map(|m| {
                let (name, dur) = m.split_once(";dur=").expect("metric");
                assert!(dur.parse::<f64>().is_ok_and(|d| d >= 0.0), "{h}");
                name.to_owned()
            })
            .collect()
    };
    for (method, url) in [
        ("GET", "/users?select=id&limit=1"),
        ("HEAD", "/users"),
        ("POST", "/rpc/add"),
    ] {
        let body = if method == "POST" {
            r#"{"a": 1, "b": 2}"#
        } else {
            ""
        };
        let r = api.send(method, url, &[], body).await;
        assert!(r.status < 300, "{url}: {} {}", r.status, r.body);
        let h = r.header("server-timing").expect("server-timing");
        assert_eq!(
            metric_names(h),
            ["parse", "plan", "transaction", "response"],
            "{url}: {h}"
        );
    }
    // Errors are not timed, as in PostgREST; nor is anything when the setting is off.
    assert!(api.get("/userz").await.header("server-timing").is_none());
    let off = Api::new().await;
    assert!(off.get("/users").await.header("server-timing").is_none());
}

#[tokio::test]
async fn options_and_openapi() {
    let api = Api::new().await;
    let r = api.send("OPTIONS", "/tasks", &[], "").await;
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE")
    );
    let r = api.send("OPTIONS", "/project_counts", &[], "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,HEAD"));
    let r = api.get("/").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openapi+json; charset=utf-8")
    );
    let doc = r.json();
    assert_eq!(doc["swagger"], "2.0");
    assert!(doc["paths"]["/tasks"]["get"].is_object());
    assert!(doc["paths"]["/rpc/add"]["get"].is_object());
    assert!(doc["paths"]["/rpc/noop"]["get"].is_null());
    assert_eq!(
        doc["definitions"]["tasks"]["properties"]["status"]["enum"],
        json!(["open", "closed"])
    );
    // One key note per column, as PostgREST: from the side holding the key (a one-to-one
    // seen from its other side is none), to a table before a view over it.
    let note = |table: &str, column: &str| {
        doc["definitions"][table]["properties"][column]
            .get("description")
            .cloned()
    };
    let fk = |t: &str, c: &str| {
        format!("This is a Foreign Key to `{t}.{c}`.<fk table='{t}' column='{c}'/>")
    };
    assert_eq!(
        note("tasks", "project_id"),
        Some(json!(format!("Note:\n{}", fk("projects", "id"))))
    );
    assert_eq!(
        note("users", "manager_id"),
        Some(json!(format!("Note:\n{}", fk("users", "id"))))
    );
    assert_eq!(
        note("users", "id"),
        Some(json!("Note:\nThis is a Primary Key.<pk/>"))
    );
    assert_eq!(
        note("profiles", "user_id"),
        Some(json!(format!(
            "Note:\nThis is a Primary Key.<pk/>\n{}",
            fk("users", "id")
        )))
    );
    assert_eq!(
        note("visible_secrets", "owner_id"),
        Some(json!(format!("Note:\n{}", fk("users", "id"))))
    );
    // As PostgREST's description: no empty `required` (Swagger 2.0 forbids it), every
    // non-null column required (a default or not), row filters without a format (their value
    // is `op.value`), no trigger functions nor functions with an unnamed non-body argument.
    // Nor empty `properties` or `parameters`: PostgREST leaves empty members out.
    let noop = &doc["paths"]["/rpc/noop"]["post"]["parameters"][0]["schema"];
    assert_eq!(noop, &json!({"type": "object"}));
    let all_projects = &doc["paths"]["/rpc/all_projects"]["get"];
    assert!(all_projects.get("parameters").is_none(), "{all_projects}");
    assert_eq!(doc["definitions"]["bare"], json!({"type": "object"}));
    assert!(
        doc["definitions"]["items"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("id"))),
        "{}",
        doc["definitions"]["items"]
    );
    assert!(doc["parameters"]["rowFilter.tasks.due"].is_object());
    assert!(
        doc["parameters"]["rowFilter.tasks.due"]
            .get("format")
            .is_none()
    );
    // A column's comment describes its row filter too, without the key notes.
    assert_eq!(
        doc["parameters"]["rowFilter.tasks.title"],
        json!({"name": "title", "description": "What to do", "in": "query", "required": false, "type": "string"})
    );
    assert_eq!(
        doc["definitions"]["tasks"]["properties"]["title"]["description"],
        "What to do"
    );
    assert!(
        doc["parameters"]["rowFilter.tasks.id"]
            .get("description")
            .is_none()
    );
    // A function's comment: its first line the operations' summary, the rest their
    // description, the whole the body's.
    let add = &doc["paths"]["/rpc/add"]["post"];
    assert_eq!(
        (&add["summary"], &add["description"]),
        (&json!("Adds two numbers"), &json!("b defaults to 0"))
    );
    assert_eq!(
        add["parameters"][0]["schema"],
        json!({
            "description": "Adds two numbers\n\nb defaults to 0",
            "type": "object",
            "properties": {
                "a": {"format": "int32", "type": "integer"},
                "b": {"format": "int32", "type": "integer"}
            },
            "required": ["a"]
        })
    );
    // One overload describes a function, PostgREST's: the one with the most arguments.
    assert_eq!(
        doc["paths"]["/rpc/multi"]["get"]["parameters"],
        json!([
            {"name": "x", "in": "query", "required": true, "type": "integer", "format": "int32"},
            {"name": "y", "in": "query", "required": true, "type": "integer", "format": "int32"}
        ])
    );
    assert!(doc["paths"]["/rpc/touch"].is_null());
    // A domain over a built-in type is described as that type, with its default.
    assert_eq!(
        doc["definitions"]["entries"]["properties"]["points"],
        json!({"type": "integer", "format": "int32", "default": 666})
    );
    assert!(doc["paths"]["/rpc/twice"].is_null());
    // A view joining two keyed tables has both keys, every time.
    let pk = |col: &str| {
        doc["definitions"]["user_teams"]["properties"][col]["description"]
            .as_str()
            .is_some_and(|d| d.contains("<pk/>"))
    };
    assert!(
        pk("team_id") && pk("user_id") && !pk("name"),
        "{}",
        doc["definitions"]["user_teams"]
    );
    // The schema's comment is the title, as PostgREST (PostgreSQL's own for public).
    assert_eq!(doc["info"]["title"], "standard public schema");
    let r = api.get_h("/", &[("accept-profile", "api")]).await;
    // Without one, PostgREST's defaults, naming MadBase.
    let api_doc = r.json();
    assert_eq!(api_doc["info"]["title"], "MadBase API");
    assert_eq!(
        api_doc["info"]["description"],
        "This is a dynamic API generated by MadBase"
    );
    assert_eq!(
        doc["externalDocs"],
        json!({"description": "PostgREST Documentation", "url": "https://postgrest.org/en/v13/references/api.html"})
    );
}

/// The names of the object at `path` in the JSON text `body`, in the order they are written
/// (`Value` sorts them).
fn names_in_order(body: &str, path: &[&str]) -> Vec<String> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct At<'a>(&'a [&'a str]);
    impl<'de> DeserializeSeed<'de> for At<'_> {
        type Value = Option<Vec<String>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for At<'_> {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut names, mut found) = (Vec::new(), None);
            while let Some(name) = map.next_key::<String>()? {
                match self.0.split_first() {
                    Some((first, rest)) if *first == name => {
                        found = map.next_value_seed(At(rest))?;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                names.push(name);
            }
            Ok(if self.0.is_empty() {
                Some(names)
            } else {
                found
            })
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    let mut d = serde_json::Deserializer::from_str(body);
    At(path)
        .deserialize(&mut d)
        .expect("JSON")
        .unwrap_or_else(|| panic!("no object at {path:?}"))
}

#[tokio::test]
async fn openapi_lists_columns_paths_and_parameters_in_postgrest_order() {
    let api = Api::new().await;
    let r = api.get("/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A relation's properties and row filters in the order of its columns, as PostgREST.
    let columns = ["id", "project_id", "title", "status", "tags", "meta", "due"];
    assert_eq!(
        names_in_order(&r.body, &["definitions", "tasks", "properties"]),
        columns
    );
    let parameters = names_in_order(&r.body, &["parameters"]);
    let tasks: Vec<String> = std::iter::once("body.tasks".to_string())
        .chain(columns.iter().map(|c| format!("rowFilter.tasks.{c}")))
        .collect();
    let at = parameters
        .iter()
        .position(|p| p == "body.tasks")
        .expect("body.tasks");
    assert_eq!(parameters[at..at + tasks.len()], tasks);
    // The shared parameters first, in PostgREST's order.
    assert_eq!(
        parameters[..11],
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
            "limit"
        ]
    );
    // The root, then every relation, then every function.
    let paths = names_in_order(&r.body, &["paths"]);
    assert_eq!(paths[0], "/");
    let first_rpc = paths.iter().position(|p| p.starts_with("/rpc/"));
    let first_rpc = first_rpc.expect("functions");
    assert!(
        paths[first_rpc..].iter().all(|p| p.starts_with("/rpc/"))
            && paths.contains(&"/users".to_string()),
        "{paths:?}"
    );
    assert_eq!(
        names_in_order(&r.body, &["paths", "/tasks"]),
        ["get", "post", "delete", "patch"]
    );
    assert_eq!(
        names_in_order(&r.body, &[])[..3],
        ["swagger", "info", "basePath"]
    );
}

#[tokio::test]
async fn openapi_mode_ignores_privileges_or_turns_the_root_off() {
    let ignoring = Api::with(RestSettings {
        openapi_mode: OpenApiMode::IgnorePrivileges,
        ..settings()
    })
    .await;
    let anon = ignoring.get("/").await;
    assert_eq!(anon.status, 200, "{}", anon.body);
    let doc = anon.json();
    // anon holds no privilege on these, and sees them all the same.
    for shown in ["/reservations", "/ledger", "/rpc/admin_only", "/tasks"] {
        assert!(doc["paths"][shown].is_object(), "{shown}");
    }
    assert!(doc["definitions"]["reservations"].is_object());
    // The request's transaction still runs: a role that does not exist fails as elsewhere.
    let ghost = ignoring
        .req("GET", "/", &[], "", "ghost", json!({"role": "ghost"}))
        .await;
    assert_eq!(ghost.status, 401, "{}", ghost.body);

    let disabled = Api::with(RestSettings {
        openapi_mode: OpenApiMode::Disabled,
        ..settings()
    })
    .await;
    for method in ["GET", "HEAD"] {
        let r = disabled
            .req(method, "/", &[], "", "anon", json!({"role": "anon"}))
            .await;
        assert_eq!(r.status, 404, "{method}");
        if method == "GET" {
            assert_eq!(
                r.json(),
                json!({"code": "PGRST126", "message": "Root endpoint metadata is disabled", "details": null, "hint": null})
            );
        }
    }
    // Only the root is off.
    assert_eq!(disabled.get("/tasks?select=id&limit=1").await.status, 200);
}

#[tokio::test]
async fn a_root_spec_function_answers_the_root() {
    let api = Api::with(RestSettings {
        root_spec: Some("add".into()),
        ..settings()
    })
    .await;
    // Called like GET /rpc/add: arguments from the query string.
    let r = api.get("/?a=40&b=2").await;
    assert_eq!((r.status, r.json()), (200, json!(42)), "{}", r.body);
    let r = api.get("/?a=1").await;
    assert_eq!(r.json(), json!(1));
    let (root, rpc) = (api.get("/?x=1").await, api.get("/rpc/add?x=1").await);
    assert_eq!((root.status, root.json()), (rpc.status, rpc.json()));
    assert!(root.status >= 400);
    // Only the root's verbs: writes to / stay refused.
    assert_eq!(api.send("POST", "/", &[], "{}").await.status, 405);
    let options = api.send("OPTIONS", "/", &[], "").await;
    assert_eq!(options.status, 200);
    // Other paths are untouched.
    assert_eq!(api.get("/tasks?select=id&limit=1").await.status, 200);
    let who = Api::with(RestSettings {
        root_spec: Some("whoami".into()),
        ..settings()
    })
    .await
    .get("/")
    .await;
    assert_eq!(who.status, 200, "{}", who.body);
    assert_eq!(who.json()["role"], "anon");
}

#[tokio::test]
async fn openapi_follows_the_privileges_of_the_role() {
    let api = Api::new().await;
    let paths = |r: &Resp| -> Vec<String> {
        r.json()["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect()
    };
    let anon = api.get("/").await;
    assert_eq!(anon.status, 200, "{}", anon.body);
    let anon_paths = paths(&anon);
    assert!(anon_paths.contains(&"/tasks".to_string()));
    assert!(anon_paths.contains(&"/rpc/add".to_string()));
    // No privilege on reservations, ledger or admin_only for anon.
    for hidden in ["/reservations", "/ledger", "/rpc/admin_only"] {
        assert!(
            !anon_paths.contains(&hidden.to_string()),
            "{hidden} {anon_paths:?}"
        );
    }
    assert!(anon.json()["definitions"].get("reservations").is_none());
    // A column privilege is enough to see the table.
    let user = api
        .req(
            "GET",
            "/",
            &[],
            "",
            "authenticated",
            json!({"role": "authenticated", "sub": "u1"}),
        )
        .await;
    let user_paths = paths(&user);
    assert!(user_paths.contains(&"/ledger".to_string()));
    assert!(user_paths.contains(&"/reservations".to_string()));
    assert!(!user_paths.contains(&"/rpc/admin_only".to_string()));
    let service = api.send("GET", "/", &[], "").await;
    let service_paths = paths(&service);
    for shown in ["/reservations", "/ledger", "/rpc/admin_only"] {
        assert!(service_paths.contains(&shown.to_string()), "{shown}");
    }
    // HEAD answers the same headers without a body.
    let head = api.anon("HEAD", "/", "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn options_allow_follows_the_relation_and_the_function() {
    let api = Api::new().await;
    let r = api.send("OPTIONS", "/tasks", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE")
    );
    assert_eq!(r.header("content-type"), None);
    // A table without a primary key can be written to but not PUT.
    let r = api.send("OPTIONS", "/audit", &[], "").await;
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS,GET,HEAD,POST,PATCH,DELETE")
    );
    let r = api.send("OPTIONS", "/rpc/noop", &[], "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,POST"));
    let r = api.send("OPTIONS", "/rpc/add", &[], "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,HEAD,POST"));
    let r = api.send("OPTIONS", "/nope", &[], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "PGRST205");
    let r = api.send("OPTIONS", "/rpc/nope", &[], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "PGRST202");
}

#[tokio::test]
async fn reads_carry_a_canonical_content_location() {
    let api = Api::new().await;
    let r = api
        .get("/tasks?title=eq.Build&select=id,title&id=gt.0&id=lt.9")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-location"),
        Some("/tasks?id=gt.0,lt.9&select=id%2Ctitle&title=eq.Build")
    );
    let r = api.get("/tasks").await;
    assert_eq!(r.header("content-location"), Some("/tasks"));
    let r = api.anon("HEAD", "/tasks?title=eq.x&id=eq.1", "").await;
    assert_eq!(
        r.header("content-location"),
        Some("/tasks?id=eq.1&title=eq.x")
    );
}
