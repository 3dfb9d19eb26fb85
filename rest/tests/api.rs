//! End-to-end behaviour of `madbase_rest::handle` against a private PostgreSQL 15.

mod postgres;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use madbase_rest::{JwtErrorKind, RestRequest, RestSettings, SchemaCache};
use serde_json::{Value, json};

struct Api {
    client: tokio_postgres::Client,
    cache: SchemaCache,
    settings: RestSettings,
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn settings() -> RestSettings {
    RestSettings {
        schemas: vec!["public".into(), "api".into()],
        plan_enabled: true,
        aggregates_enabled: true,
        tx_allow_override: true,
        ..RestSettings::default()
    }
}

impl Api {
    async fn new() -> Api {
        Api::with(settings()).await
    }

    async fn with(settings: RestSettings) -> Api {
        let client = postgres::connect().await;
        let cache = SchemaCache::load(&client, &settings.schemas)
            .await
            .expect("schema cache loads");
        Api {
            client,
            cache,
            settings,
        }
    }

    async fn req(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &str, role: &str, claims: Value) -> Resp {
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url.to_string(), None),
        };
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let r = madbase_rest::handle(
            &self.cache,
            &self.settings,
            &self.client,
            RestRequest {
                method: Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                query,
                headers: h,
                body: Bytes::from(body.to_string()),
                role: role.to_string(),
                claims,
            },
        )
        .await;
        Resp {
            status: r.status.as_u16(),
            headers: r.headers,
            body: String::from_utf8(r.body.to_vec()).expect("utf8"),
        }
    }

    async fn get(&self, url: &str) -> Resp {
        self.req("GET", url, &[], "", "anon", json!({"role": "anon"})).await
    }

    async fn get_h(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.req("GET", url, headers, "", "anon", json!({"role": "anon"})).await
    }

    async fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.req(method, url, headers, body, "service_role", json!({"role": "service_role"}))
            .await
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

// ---------- reads ----------

#[tokio::test]
async fn select_columns_alias_cast_and_json_paths() {
    let api = Api::new().await;
    let r = api
        .get("/tasks?select=id,label:title,id_text:id::text,prio:meta->priority,owner:meta->owner->>name&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "label": "Design", "id_text": "1", "prio": 1, "owner": "Ada"}])
    );
    assert_eq!(r.header("content-range"), Some("0-0/*"));
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
}

#[tokio::test]
async fn json_path_output_key_is_last_key() {
    let api = Api::new().await;
    let r = api.get("/tasks?select=meta->owner->>name&id=eq.1").await;
    assert_eq!(r.json(), json!([{"name": "Ada"}]));
}

#[tokio::test]
async fn filters_every_operator() {
    let api = Api::new().await;
    let cases: &[(&str, Vec<i64>)] = &[
        ("id=eq.2", vec![2]),
        ("id=neq.2", vec![1, 3, 4]),
        ("id=gt.2", vec![3, 4]),
        ("id=gte.2", vec![2, 3, 4]),
        ("id=lt.2", vec![1]),
        ("id=lte.2", vec![1, 2]),
        ("title=like.*ui*", vec![2]),
        ("title=ilike.DES*", vec![1]),
        ("title=match.^B", vec![2]),
        ("title=imatch.^b", vec![2]),
        ("id=in.(1,3)", vec![1, 3]),
        ("title=in.(\"Weave, carefully\",Build)", vec![2, 3]),
        ("meta=is.null", vec![3]),
        ("meta=not.is.null", vec![1, 2, 4]),
        ("due=isdistinct.2024-01-01", vec![2, 3, 4]),
        ("tags=cs.{b}", vec![1, 2]),
        ("tags=cd.{a,b}", vec![1, 2, 3]),
        ("tags=ov.{a,c}", vec![1, 4]),
        ("meta=cs.{\"priority\":2}", vec![2]),
        ("id=not.eq.1", vec![2, 3, 4]),
        ("id=eq(any).{1,4}", vec![1, 4]),
        ("title=like(any).{D*,G*}", vec![1, 4]),
        ("id=gt(all).{1,2}", vec![3, 4]),
        ("title=eq.Grind \"fine\"", vec![4]),
        ("status=eq.closed", vec![2, 4]),
        ("meta->>priority=eq.2", vec![2]),
        ("meta->priority=gt.1", vec![2, 4]),
    ];
    for (filter, expected) in cases {
        let r = api.get(&format!("/tasks?select=id&order=id&{filter}")).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(&ids(&r.json()), expected, "{filter}");
    }
}

#[tokio::test]
async fn plus_in_values_is_a_space() {
    let api = Api::new().await;
    let r = api.get("/articles?select=id&body=eq.The+quick+brown+fox+jumps").await;
    assert_eq!(ids(&r.json()), vec![1]);
    let r = api.get("/articles?select=id&body=like.*brown%20fox*").await;
    assert_eq!(ids(&r.json()), vec![1]);
}

#[tokio::test]
async fn range_operators() {
    let api = Api::new().await;
    let cases: &[(&str, Vec<i64>)] = &[
        ("during=sl.[6,8)", vec![1]),
        ("during=sr.[6,8)", vec![2]),
        ("during=nxr.[6,8)", vec![1]),
        ("during=nxl.[6,8)", vec![2]),
        ("during=adj.[5,10)", vec![1, 2]),
        ("during=ov.[4,12)", vec![1, 2]),
        ("during=cs.[2,3)", vec![1]),
    ];
    for (filter, expected) in cases {
        let r = api
            .req("GET", &format!("/reservations?select=id&order=id&{filter}"), &[], "", "service_role", json!({}))
            .await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(&ids(&r.json()), expected, "{filter}");
    }
}

#[tokio::test]
async fn full_text_search_variants() {
    let api = Api::new().await;
    for (f, expected) in [
        ("tsv=fts.quick%26fox", vec![1]),
        ("tsv=plfts.lazy+dogs", vec![2]),
        ("tsv=phfts(english).quick+brown", vec![1]),
        ("tsv=wfts(english).\"lazy dogs\" -cats", vec![2]),
        ("body=fts(english).jumps", vec![1]),
        ("tsv=not.fts.fox", vec![2]),
    ] {
        let r = api.get(&format!("/articles?select=id&{f}")).await;
        assert_eq!(r.status, 200, "{f}: {}", r.body);
        assert_eq!(ids(&r.json()), expected, "{f}");
    }
}

#[tokio::test]
async fn logic_trees_nest_and_negate() {
    let api = Api::new().await;
    let r = api.get("/tasks?select=id&order=id&or=(id.eq.1,and(status.eq.closed,id.gt.3))").await;
    assert_eq!(ids(&r.json()), vec![1, 4]);
    let r = api.get("/tasks?select=id&order=id&not.or=(id.eq.1,id.eq.2)").await;
    assert_eq!(ids(&r.json()), vec![3, 4]);
    let r = api.get("/tasks?select=id&order=id&and=(id.gte.2,not.status.eq.closed)").await;
    assert_eq!(ids(&r.json()), vec![3]);
    let r = api.get("/tasks?select=id&order=id&or=(title.eq.\"Weave, carefully\",id.in.(1,2))").await;
    assert_eq!(ids(&r.json()), vec![1, 2, 3]);
    let r = api.get("/tasks?select=id&order=id&or=(tags.cs.{c},meta->>priority.eq.1)").await;
    assert_eq!(ids(&r.json()), vec![1, 4]);
}

#[tokio::test]
async fn order_limit_offset_and_nulls() {
    let api = Api::new().await;
    let r = api.get("/tasks?select=id&order=due.desc.nullslast,id").await;
    assert_eq!(ids(&r.json()), vec![4, 2, 1, 3]);
    let r = api.get("/tasks?select=id&order=due.asc.nullsfirst").await;
    assert_eq!(ids(&r.json()), vec![3, 1, 2, 4]);
    let r = api.get("/tasks?select=id&order=meta->priority.desc.nullslast&limit=2&offset=1").await;
    assert_eq!(ids(&r.json()), vec![2, 1]);
    assert_eq!(r.header("content-range"), Some("1-2/*"));
}

#[tokio::test]
async fn counts_and_content_range() {
    let api = Api::new().await;
    let r = api.get_h("/tasks?select=id&order=id&limit=2", &[("prefer", "count=exact")]).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("0-1/4"));
    assert_eq!(r.header("preference-applied"), Some("count=exact"));
    let r = api.get_h("/tasks?select=id", &[("prefer", "count=exact")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), Some("0-3/4"));
    let r = api.get_h("/tasks?select=id&id=gt.100", &[("prefer", "count=exact")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), Some("*/0"));
    let r = api.get_h("/tasks?offset=10", &[("prefer", "count=exact")]).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.json()["code"], "PGRST103");
    assert_eq!(r.json()["details"], "An offset of 10 was requested, but there are only 4 rows.");
    let r = api.get_h("/tasks?select=id&limit=1", &[("prefer", "count=planned")]).await;
    assert_eq!(r.status, 206, "{:?}", r.header("content-range"));
    assert!(r.header("content-range").expect("range").starts_with("0-0/"));
    let r = api.get_h("/tasks?select=id", &[("prefer", "count=estimated")]).await;
    assert_eq!(r.header("content-range"), Some("0-3/4"));
}

#[tokio::test]
async fn range_header_and_max_rows() {
    let api = Api::new().await;
    let r = api.get_h("/tasks?select=id&order=id", &[("range", "1-2"), ("range-unit", "items")]).await;
    assert_eq!(ids(&r.json()), vec![2, 3]);
    assert_eq!(r.header("content-range"), Some("1-2/*"));
    let r = api.get_h("/tasks?select=id&order=id", &[("range", "2-")]).await;
    assert_eq!(ids(&r.json()), vec![3, 4]);
    let capped = Api::with(RestSettings { max_rows: Some(2), ..settings() }).await;
    let r = capped.get_h("/tasks?select=id&order=id", &[("prefer", "count=exact")]).await;
    assert_eq!(ids(&r.json()), vec![1, 2]);
    assert_eq!(r.header("content-range"), Some("0-1/4"));
    let r = api.get("/tasks?limit=-1").await;
    assert_eq!(r.status, 416);
}

#[tokio::test]
async fn head_returns_headers_only() {
    let api = Api::new().await;
    let r = api
        .req("HEAD", "/tasks", &[("prefer", "count=exact")], "", "anon", json!({}))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-range"), Some("0-3/4"));
}

#[tokio::test]
async fn singular_object_and_406() {
    let api = Api::new().await;
    let acc = [("accept", "application/vnd.pgrst.object+json")];
    let r = api.get_h("/users?select=id,name&id=eq.1", &acc).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"id": 1, "name": "Ada"}));
    assert_eq!(r.header("content-type"), Some("application/vnd.pgrst.object+json; charset=utf-8"));
    let r = api.get_h("/users?id=gt.0", &acc).await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.json(),
        json!({"code": "PGRST116", "message": "Cannot coerce the result to a single JSON object", "details": "The result contains 3 rows", "hint": null})
    );
    let r = api.get_h("/users?id=eq.99", &acc).await;
    assert_eq!(r.json()["details"], "The result contains 0 rows");
}

#[tokio::test]
async fn csv_and_stripped_nulls() {
    let api = Api::new().await;
    let r = api.get_h("/users?select=id,name,email&order=id", &[("accept", "text/csv")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(r.body, "id,name,email\n1,Ada,ada@example.com\n2,Bob,bob@example.com\n3,Cy,");
    let r = api
        .get_h("/users?select=id,email&id=eq.3", &[("accept", "application/vnd.pgrst.array+json;nulls=stripped")])
        .await;
    assert_eq!(r.json(), json!([{"id": 3}]));
}

#[tokio::test]
async fn unknown_accept_is_406() {
    let api = Api::new().await;
    let r = api.get_h("/users", &[("accept", "unknown/unknown")]).await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "PGRST107");
}

#[tokio::test]
async fn explain_plans_are_gated() {
    let api = Api::new().await;
    let r = api.get_h("/users?id=eq.1", &[("accept", "application/vnd.pgrst.plan+json")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()[0]["Plan"].is_object());
    let r = api.get_h("/users?id=eq.1", &[("accept", "application/vnd.pgrst.plan+text; options=verbose")]).await;
    assert!(r.body.contains("Output:"), "{}", r.body);
    let off = Api::with(RestSettings { plan_enabled: false, ..settings() }).await;
    let r = off.get_h("/users", &[("accept", "application/vnd.pgrst.plan")]).await;
    assert_eq!(r.status, 406);
}

// ---------- embedding ----------

#[tokio::test]
async fn embeds_many_to_one_one_to_many_and_nested() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=name,owner:users(name),tasks(id,title)&id=eq.1&tasks.order=id.desc")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Engine", "owner": {"name": "Ada"}, "tasks": [{"id": 2, "title": "Build"}, {"id": 1, "title": "Design"}]}])
    );
    let r = api.get("/users?select=name,projects(name,tasks(title))&id=eq.2").await;
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "projects": [{"name": "Mill", "tasks": [{"title": "Grind \"fine\""}]}]}])
    );
}

#[tokio::test]
async fn embeds_many_to_many_one_to_one_self_and_composite() {
    let api = Api::new().await;
    let r = api.get("/users?select=name,teams(name)&id=eq.2&teams.order=id").await;
    assert_eq!(r.json(), json!([{"name": "Bob", "teams": [{"name": "Core"}, {"name": "Docs"}]}]));
    let r = api.get("/users?select=name,profiles(bio)&id=eq.1").await;
    assert_eq!(r.json(), json!([{"name": "Ada", "profiles": {"bio": "Mathematician"}}]));
    let r = api.get("/users?select=name,manager:users!manager_id(name)&id=eq.2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Bob", "manager": {"name": "Ada"}}]));
    let r = api.get("/users?select=name,reports:users!id(name)&id=eq.1&reports.order=id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Ada", "reports": [{"name": "Bob"}, {"name": "Cy"}]}]));
    let r = api.get("/cities?select=name,regions(name)&id=eq.1").await;
    assert_eq!(r.json(), json!([{"name": "Paris", "regions": {"name": "Ile-de-France"}}]));
}

#[tokio::test]
async fn embeds_through_views() {
    let api = Api::new().await;
    let r = api.get("/project_summaries?select=title,users(name)&id=eq.3").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"title": "Mill", "users": {"name": "Bob"}}]));
    let r = api.get("/users?select=name,visible_secrets(id)&id=eq.1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Ada", "visible_secrets": [{"id": 1}]}]));
}

#[tokio::test]
async fn ambiguous_and_missing_relationships() {
    let api = Api::new().await;
    let r = api.get("/shipments?select=id,addresses(city)").await;
    assert_eq!(r.status, 300);
    let b = r.json();
    assert_eq!(b["code"], "PGRST201");
    assert_eq!(b["details"].as_array().expect("details").len(), 2);
    assert!(b["hint"].as_str().expect("hint").contains("'addresses!billing'"));
    let r = api.get("/shipments?select=id,billing:addresses!billing(city),shipping:addresses!shipping_id(city)").await;
    assert_eq!(r.json(), json!([{"id": 1, "billing": {"city": "London"}, "shipping": {"city": "Paris"}}]));
    let r = api.get("/shipments?select=id,teams(name)").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST200");
    assert_eq!(
        r.json()["message"],
        "Could not find a relationship between 'shipments' and 'teams' in the schema cache"
    );
}

#[tokio::test]
async fn inner_joins_null_filters_and_embed_filters() {
    let api = Api::new().await;
    let r = api.get("/projects?select=id,tasks!inner(id)&tasks.status=eq.open&order=id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api.get("/projects?select=id,tasks(id)&tasks.status=eq.open&order=id").await;
    assert_eq!(r.json()[2]["tasks"], json!([]));
    let r = api.get("/users?select=id,projects()&projects=is.null").await;
    assert_eq!(r.json(), json!([{"id": 3}]));
    let r = api.get("/users?select=id,projects()&projects=not.is.null&order=id").await;
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api.get("/users?select=id,projects(id)&projects=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST120");
    let r = api.get("/users?select=id&projects.id=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST108");
    let r = api.get("/projects?select=id,tasks(id)&tasks.limit=1&tasks.order=id.desc&id=eq.1").await;
    assert_eq!(r.json(), json!([{"id": 1, "tasks": [{"id": 2}]}]));
    let r = api.get("/projects?select=id,tasks(id)&tasks.or=(id.eq.1,id.eq.3)&order=id").await;
    assert_eq!(r.json()[0]["tasks"], json!([{"id": 1}]));
}

#[tokio::test]
async fn spread_and_related_order() {
    let api = Api::new().await;
    let r = api.get("/projects?select=name,...users(owner_name:name)&id=eq.3").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Mill", "owner_name": "Bob"}]));
    let r = api.get("/users?select=name,...projects(project_names:name)&id=eq.1").await;
    assert_eq!(r.json(), json!([{"name": "Ada", "project_names": ["Engine", "Loom"]}]));
    let r = api.get("/projects?select=id,users(name)&order=users(name).desc,id").await;
    assert_eq!(ids(&r.json()), vec![3, 1, 2]);
    let r = api.get("/users?select=id,projects(name)&order=projects(name)").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST118");
}

#[tokio::test]
async fn aggregates_group_by_other_columns() {
    let api = Api::new().await;
    let r = api.get("/projects?select=owner_id,budget.sum(),count()&order=owner_id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"owner_id": 1, "sum": 150.5, "count": 2}, {"owner_id": 2, "sum": null, "count": 1}])
    );
    let r = api.get("/tasks?select=total:id.max()::text").await;
    assert_eq!(r.json(), json!([{"total": "4"}]));
    let off = Api::with(RestSettings { aggregates_enabled: false, ..settings() }).await;
    let r = off.get("/tasks?select=count()").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST123");
}

// ---------- schema, errors, security ----------

#[tokio::test]
async fn profiles_switch_schema() {
    let api = Api::new().await;
    let r = api.get_h("/widgets?order=id", &[("accept-profile", "api")]).await;
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
    let r = api.send("POST", "/rpc/widget_count", &[("content-profile", "api")], "{}").await;
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
    let r = api.get("/tasks?select=titel").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "42703");
    assert!(r.json()["hint"].as_str().expect("hint").contains("tasks.title"));
    let r = api.get("/tasks/1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "PGRST125");
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
        assert!(r.status >= 400 && r.status < 500, "{q}: {} {}", r.status, r.body);
    }
    // Hostile names are quoted identifiers that simply do not exist.
    let r = api.get("/users?select=\"name\\\"; drop table users; --\"").await;
    assert_eq!(r.status, 400);
    let r = api.get("/users?select=id&name=eq.'; drop table users; --").await;
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
    assert!(b["message"].as_str().expect("msg").contains("noop.1"), "{b}");
}

#[tokio::test]
async fn rls_and_roles() {
    let api = Api::new().await;
    let r = api.get("/todos?select=title").await;
    assert_eq!(r.json(), json!([{"title": "public one"}]));
    let r = api
        .req("GET", "/todos?select=title&order=id", &[], "", "authenticated", json!({"sub": "u1", "role": "authenticated"}))
        .await;
    assert_eq!(r.json(), json!([{"title": "public one"}, {"title": "private one"}]));
    // Anonymous write denied by RLS: 401; a user writing for someone else: 403.
    let r = api
        .req("POST", "/todos", &[], r#"{"title":"x","user_id":"u1"}"#, "anon", json!({"role": "anon"}))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["code"], "42501");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = api
        .req("POST", "/todos", &[], r#"{"title":"x","user_id":"u2"}"#, "authenticated", json!({"sub": "u1", "role": "authenticated"}))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Missing table privileges for anon.
    let r = api.get("/reservations").await;
    assert_eq!(r.status, 401);
    // Unknown role from a JWT.
    let r = api.req("GET", "/users", &[], "", "nobody", json!({"role": "nobody"})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["code"], "22023");
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
            &[("user-agent", "tester/1"), ("cookie", "session=abc; other=1")],
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
    let api = Api::with(RestSettings { pre_request: Some("public.check_request".into()), ..settings() }).await;
    let r = api.get("/rpc/whoami").await;
    assert_eq!(r.json()["pre"], "ran");
    let r = api.get_h("/users", &[("x-block", "yes")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["message"], "Blocked by pre-request");
}

#[tokio::test]
async fn jwt_errors_render_postgrest_bodies() {
    let r = madbase_rest::jwt_error(JwtErrorKind::Claims("JWT expired".into()));
    assert_eq!(r.status.as_u16(), 401);
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(b, json!({"code": "PGRST303", "message": "JWT expired", "details": null, "hint": null}));
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer error=\"invalid_token\", error_description=\"JWT expired\""
    );
    let r = madbase_rest::jwt_error(JwtErrorKind::Invalid("Expected 3 parts in JWT; got 2".into()));
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(b["code"], "PGRST301");
}

#[tokio::test]
async fn options_and_openapi() {
    let api = Api::new().await;
    let r = api.send("OPTIONS", "/tasks", &[], "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"));
    let r = api.send("OPTIONS", "/project_counts", &[], "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,HEAD"));
    let r = api.get("/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/openapi+json; charset=utf-8"));
    let doc = r.json();
    assert_eq!(doc["swagger"], "2.0");
    assert!(doc["paths"]["/tasks"]["get"].is_object());
    assert!(doc["paths"]["/rpc/add"]["get"].is_object());
    assert!(doc["paths"]["/rpc/noop"]["get"].is_null());
    assert_eq!(doc["definitions"]["tasks"]["properties"]["status"]["enum"], json!(["open", "closed"]));
    assert!(doc["definitions"]["tasks"]["properties"]["project_id"]["description"]
        .as_str()
        .expect("fk note")
        .contains("<fk table='projects' column='id'/>"));
}
