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

    async fn req(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
        role: &str,
        claims: Value,
    ) -> Resp {
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
        self.req("GET", url, &[], "", "anon", json!({"role": "anon"}))
            .await
    }

    async fn get_h(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.req("GET", url, headers, "", "anon", json!({"role": "anon"}))
            .await
    }

    async fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.req(
            method,
            url,
            headers,
            body,
            "service_role",
            json!({"role": "service_role"}),
        )
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
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
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
        let r = api
            .get(&format!("/tasks?select=id&order=id&{filter}"))
            .await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(&ids(&r.json()), expected, "{filter}");
    }
}

#[tokio::test]
async fn plus_in_values_is_a_space() {
    let api = Api::new().await;
    let r = api
        .get("/articles?select=id&body=eq.The+quick+brown+fox+jumps")
        .await;
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
            .req(
                "GET",
                &format!("/reservations?select=id&order=id&{filter}"),
                &[],
                "",
                "service_role",
                json!({}),
            )
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
    let r = api
        .get("/tasks?select=id&order=id&or=(id.eq.1,and(status.eq.closed,id.gt.3))")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 4]);
    let r = api
        .get("/tasks?select=id&order=id&not.or=(id.eq.1,id.eq.2)")
        .await;
    assert_eq!(ids(&r.json()), vec![3, 4]);
    let r = api
        .get("/tasks?select=id&order=id&and=(id.gte.2,status.not.eq.closed)")
        .await;
    assert_eq!(ids(&r.json()), vec![3]);
    let r = api
        .get("/tasks?select=id&order=id&or=(title.eq.\"Weave, carefully\",id.in.(1,2))")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 2, 3]);
    let r = api
        .get("/tasks?select=id&order=id&or=(tags.cs.{c},meta->>priority.eq.1)")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 4]);
}

#[tokio::test]
async fn order_limit_offset_and_nulls() {
    let api = Api::new().await;
    let r = api
        .get("/tasks?select=id&order=due.desc.nullslast,id")
        .await;
    assert_eq!(ids(&r.json()), vec![4, 2, 1, 3]);
    let r = api.get("/tasks?select=id&order=due.asc.nullsfirst").await;
    assert_eq!(ids(&r.json()), vec![3, 1, 2, 4]);
    let r = api
        .get("/tasks?select=id&order=meta->priority.desc.nullslast&limit=2&offset=1")
        .await;
    assert_eq!(ids(&r.json()), vec![2, 1]);
    assert_eq!(r.header("content-range"), Some("1-2/*"));
}

#[tokio::test]
async fn counts_and_content_range() {
    let api = Api::new().await;
    let r = api
        .get_h(
            "/tasks?select=id&order=id&limit=2",
            &[("prefer", "count=exact")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("0-1/4"));
    assert_eq!(r.header("preference-applied"), Some("count=exact"));
    let r = api
        .get_h("/tasks?select=id", &[("prefer", "count=exact")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), Some("0-3/4"));
    let r = api
        .get_h("/tasks?select=id&id=gt.100", &[("prefer", "count=exact")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), Some("*/0"));
    let r = api
        .get_h("/tasks?offset=10", &[("prefer", "count=exact")])
        .await;
    assert_eq!(r.status, 416);
    assert_eq!(r.json()["code"], "PGRST103");
    assert_eq!(
        r.json()["details"],
        "An offset of 10 was requested, but there are only 4 rows."
    );
    let r = api
        .get_h("/tasks?select=id&limit=1", &[("prefer", "count=planned")])
        .await;
    assert_eq!(r.status, 206, "{:?}", r.header("content-range"));
    assert!(
        r.header("content-range")
            .expect("range")
            .starts_with("0-0/")
    );
    let r = api
        .get_h("/tasks?select=id", &[("prefer", "count=estimated")])
        .await;
    assert_eq!(r.header("content-range"), Some("0-3/4"));
}

#[tokio::test]
async fn range_header_and_max_rows() {
    let api = Api::new().await;
    let r = api
        .get_h(
            "/tasks?select=id&order=id",
            &[("range", "1-2"), ("range-unit", "items")],
        )
        .await;
    assert_eq!(ids(&r.json()), vec![2, 3]);
    assert_eq!(r.header("content-range"), Some("1-2/*"));
    let r = api
        .get_h("/tasks?select=id&order=id", &[("range", "2-")])
        .await;
    assert_eq!(ids(&r.json()), vec![3, 4]);
    let capped = Api::with(RestSettings {
        max_rows: Some(2),
        ..settings()
    })
    .await;
    let r = capped
        .get_h("/tasks?select=id&order=id", &[("prefer", "count=exact")])
        .await;
    assert_eq!(ids(&r.json()), vec![1, 2]);
    assert_eq!(r.header("content-range"), Some("0-1/4"));
    let r = api.get("/tasks?limit=-1").await;
    assert_eq!(r.status, 416);
}

#[tokio::test]
async fn head_returns_headers_only() {
    let api = Api::new().await;
    let r = api
        .req(
            "HEAD",
            "/tasks",
            &[("prefer", "count=exact")],
            "",
            "anon",
            json!({}),
        )
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
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.pgrst.object+json; charset=utf-8")
    );
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
    let r = api
        .get_h(
            "/users?select=id,name,email&order=id",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.body,
        "id,name,email\n1,Ada,ada@example.com\n2,Bob,bob@example.com\n3,Cy,"
    );
    let r = api
        .get_h(
            "/users?select=id,email&id=eq.3",
            &[("accept", "application/vnd.pgrst.array+json;nulls=stripped")],
        )
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
    let r = api
        .get_h(
            "/users?id=eq.1",
            &[("accept", "application/vnd.pgrst.plan+json")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()[0]["Plan"].is_object());
    let r = api
        .get_h(
            "/users?id=eq.1",
            &[("accept", "application/vnd.pgrst.plan+text; options=verbose")],
        )
        .await;
    assert!(r.body.contains("Output:"), "{}", r.body);
    let off = Api::with(RestSettings {
        plan_enabled: false,
        ..settings()
    })
    .await;
    let r = off
        .get_h("/users", &[("accept", "application/vnd.pgrst.plan")])
        .await;
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
    let r = api
        .get("/users?select=name,projects(name,tasks(title))&id=eq.2")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "projects": [{"name": "Mill", "tasks": [{"title": "Grind \"fine\""}]}]}])
    );
}

#[tokio::test]
async fn embeds_many_to_many_one_to_one_self_and_composite() {
    let api = Api::new().await;
    let r = api
        .get("/users?select=name,teams(name)&id=eq.2&teams.order=id")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "teams": [{"name": "Core"}, {"name": "Docs"}]}])
    );
    let r = api.get("/users?select=name,profiles(bio)&id=eq.1").await;
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "profiles": {"bio": "Mathematician"}}])
    );
    let r = api
        .get("/users?select=name,manager:users!manager_id(name)&id=eq.2")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "manager": {"name": "Ada"}}])
    );
    let r = api
        .get("/users?select=name,reports:users!id(name)&id=eq.1&reports.order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "reports": [{"name": "Bob"}, {"name": "Cy"}]}])
    );
    let r = api.get("/cities?select=name,regions(name)&id=eq.1").await;
    assert_eq!(
        r.json(),
        json!([{"name": "Paris", "regions": {"name": "Ile-de-France"}}])
    );
}

#[tokio::test]
async fn embeds_through_views() {
    let api = Api::new().await;
    let r = api
        .get("/project_summaries?select=title,users(name)&id=eq.3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"title": "Mill", "users": {"name": "Bob"}}])
    );
    let r = api
        .get("/users?select=name,visible_secrets(id)&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "visible_secrets": [{"id": 1}]}])
    );
}

#[tokio::test]
async fn ambiguous_and_missing_relationships() {
    let api = Api::new().await;
    let r = api.get("/shipments?select=id,addresses(city)").await;
    assert_eq!(r.status, 300);
    let b = r.json();
    assert_eq!(b["code"], "PGRST201");
    assert_eq!(b["details"].as_array().expect("details").len(), 2);
    assert!(
        b["hint"]
            .as_str()
            .expect("hint")
            .contains("'addresses!billing'")
    );
    let r = api.get("/shipments?select=id,billing:addresses!billing(city),shipping:addresses!shipping_id(city)").await;
    assert_eq!(
        r.json(),
        json!([{"id": 1, "billing": {"city": "London"}, "shipping": {"city": "Paris"}}])
    );
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
    let r = api
        .get("/projects?select=id,tasks!inner(id)&tasks.status=eq.open&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.status=eq.open&order=id")
        .await;
    assert_eq!(r.json()[2]["tasks"], json!([]));
    let r = api
        .get("/users?select=id,projects()&projects=is.null")
        .await;
    assert_eq!(r.json(), json!([{"id": 3}]));
    let r = api
        .get("/users?select=id,projects()&projects=not.is.null&order=id")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api.get("/users?select=id,projects(id)&projects=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST120");
    let r = api.get("/users?select=id&projects.id=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST108");
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.limit=1&tasks.order=id.desc&id=eq.1")
        .await;
    assert_eq!(r.json(), json!([{"id": 1, "tasks": [{"id": 2}]}]));
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.or=(id.eq.1,id.eq.3)&order=id")
        .await;
    assert_eq!(r.json()[0]["tasks"], json!([{"id": 1}]));
}

#[tokio::test]
async fn spread_and_related_order() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=name,...users(owner_name:name)&id=eq.3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Mill", "owner_name": "Bob"}]));
    let r = api
        .get("/users?select=name,...projects(project_names:name)&id=eq.1")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "project_names": ["Engine", "Loom"]}])
    );
    let r = api
        .get("/projects?select=id,users(name)&order=users(name).desc,id")
        .await;
    assert_eq!(ids(&r.json()), vec![3, 1, 2]);
    let r = api
        .get("/users?select=id,projects(name)&order=projects(name)")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST118");
}

#[tokio::test]
async fn aggregates_group_by_other_columns() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=owner_id,budget.sum(),count()&order=owner_id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"owner_id": 1, "sum": 150.5, "count": 2}, {"owner_id": 2, "sum": null, "count": 1}])
    );
    let r = api.get("/tasks?select=total:id.max()::text").await;
    assert_eq!(r.json(), json!([{"total": "4"}]));
    let off = Api::with(RestSettings {
        aggregates_enabled: false,
        ..settings()
    })
    .await;
    let r = off.get("/tasks?select=count()").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST123");
}

// ---------- schema, errors, security ----------

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
    let r = api.get("/tasks?select=titel").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "42703");
    assert!(
        r.json()["hint"]
            .as_str()
            .expect("hint")
            .contains("tasks.title")
    );
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
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["code"], "42501");
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
    let r = madbase_rest::jwt_error(JwtErrorKind::Claims("JWT expired".into()));
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
    let r = madbase_rest::jwt_error(JwtErrorKind::Invalid(
        "Expected 3 parts in JWT; got 2".into(),
    ));
    let b: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(b["code"], "PGRST301");
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
    assert!(
        doc["definitions"]["tasks"]["properties"]["project_id"]["description"]
            .as_str()
            .expect("fk note")
            .contains("<fk table='projects' column='id'/>")
    );
}

// ---------- writes ----------

#[tokio::test]
async fn insert_single_bulk_and_representation() {
    let api = Api::new().await;
    let r = api
        .send("POST", "/items", &[], r#"{"id": 1001, "name": "bolt"}"#)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-range"), Some("*/*"));
    let r = api
        .send(
            "POST",
            "/items?select=id,name,qty",
            &[("prefer", "return=representation, count=exact")],
            r#"[{"id": 1002, "name": "nut", "qty": 5}, {"id": 1003, "name": "washer"}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1002, "name": "nut", "qty": 5}, {"id": 1003, "name": "washer", "qty": null}])
    );
    assert_eq!(r.header("content-range"), Some("*/2"));
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation, count=exact")
    );
}

#[tokio::test]
async fn insert_missing_default_columns_and_location() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/items?select=id,qty",
            &[("prefer", "return=representation, missing=default")],
            r#"[{"id": 1101, "name": "a", "qty": 7}, {"id": 1102, "name": "b"}]"#,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 1101, "qty": 7}, {"id": 1102, "qty": 1}])
    );
    let r = api
        .send(
            "POST",
            "/items?columns=id,name&select=id,name,note",
            &[("prefer", "return=representation")],
            r#"{"id": 1103, "name": "c", "note": "ignored"}"#,
        )
        .await;
    assert_eq!(r.json(), json!([{"id": 1103, "name": "c", "note": null}]));
    let r = api
        .send("POST", "/items?columns=id,nope", &[], r#"{"id": 1104}"#)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Could not find the 'nope' column of 'items' in the schema cache"
    );
    assert_eq!(r.json()["code"], "PGRST204");
    let r = api
        .send(
            "POST",
            "/items",
            &[("prefer", "return=headers-only")],
            r#"{"id": 1105, "name": "d"}"#,
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location"), Some("/items?id=eq.1105"));
}

#[tokio::test]
async fn insert_csv_and_bad_bodies() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/items?select=id,note",
            &[
                ("content-type", "text/csv"),
                ("prefer", "return=representation"),
            ],
            "id,name,note\n1201,x,NULL\n1202,y,\"a, b\"",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1201, "note": null}, {"id": 1202, "note": "a, b"}])
    );
    let r = api.send("POST", "/items", &[], "{nope").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST102");
}

#[tokio::test]
async fn constraint_violations_map_to_http() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/items",
            &[],
            r#"{"id": 1301, "name": "e", "sku": "S1"}"#,
        )
        .await;
    assert_eq!(r.status, 201);
    let r = api
        .send(
            "POST",
            "/items",
            &[],
            r#"{"id": 1302, "name": "f", "sku": "S1"}"#,
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "23505");
    let r = api
        .send(
            "POST",
            "/tasks",
            &[],
            r#"{"id": 1303, "title": "t", "project_id": 999}"#,
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "23503");
    let r = api.send("POST", "/items", &[], r#"{"id": 1304}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "23502");
    let r = api
        .send("POST", "/items", &[], r#"{"id": "abc", "name": "g"}"#)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "22P02");
}

#[tokio::test]
async fn upserts_merge_and_ignore() {
    let api = Api::new().await;
    api.send(
        "POST",
        "/items",
        &[],
        r#"{"id": 1401, "name": "orig", "sku": "U1"}"#,
    )
    .await;
    let r = api
        .send(
            "POST",
            "/items?select=id,name",
            &[(
                "prefer",
                "resolution=merge-duplicates, return=representation",
            )],
            r#"{"id": 1401, "name": "merged"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 1401, "name": "merged"}]));
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation, resolution=merge-duplicates")
    );
    let r = api
        .send(
            "POST",
            "/items?on_conflict=sku&select=id,name",
            &[("prefer", "resolution=ignore-duplicates, return=representation")],
            r#"[{"id": 1402, "name": "dup", "sku": "U1"}, {"id": 1403, "name": "new", "sku": "U2"}]"#,
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json(), json!([{"id": 1403, "name": "new"}]));
}

#[tokio::test]
async fn patch_delete_and_max_affected() {
    let api = Api::new().await;
    api.send("POST", "/items", &[], r#"[{"id": 1501, "name": "p", "qty": 1}, {"id": 1502, "name": "p", "qty": 2}, {"id": 1503, "name": "q"}]"#)
        .await;
    let r = api
        .send("PATCH", "/items?name=eq.p", &[], r#"{"note": "patched"}"#)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("content-range"), Some("0-1/*"));
    let r = api
        .send(
            "PATCH",
            "/items?id=eq.1501&select=id,note,qty",
            &[("prefer", "return=representation")],
            r#"{"qty": 9}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([{"id": 1501, "note": "patched", "qty": 9}]));
    let r = api
        .send(
            "PATCH",
            "/items?name=eq.p",
            &[("prefer", "handling=strict, max-affected=1")],
            r#"{"note": "x"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST124");
    assert_eq!(r.json()["details"], "The query affects 2 rows");
    let r = api
        .send("GET", "/items?name=eq.p&select=note", &[], "")
        .await;
    assert_eq!(
        r.json(),
        json!([{"note": "patched"}, {"note": "patched"}]),
        "rolled back"
    );
    let r = api
        .send(
            "DELETE",
            "/items?id=eq.1503&select=id",
            &[("prefer", "return=representation")],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([{"id": 1503}]));
    let r = api.send("DELETE", "/items?id=eq.1502", &[], "").await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn singular_write_rolls_back() {
    let api = Api::new().await;
    api.send(
        "POST",
        "/items",
        &[],
        r#"[{"id": 1601, "name": "s"}, {"id": 1602, "name": "s"}]"#,
    )
    .await;
    let r = api
        .send(
            "PATCH",
            "/items?name=eq.s",
            &[
                ("accept", "application/vnd.pgrst.object+json"),
                ("prefer", "return=representation"),
            ],
            r#"{"note": "one"}"#,
        )
        .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["details"], "The result contains 2 rows");
    let r = api
        .send("GET", "/items?name=eq.s&note=is.null&select=id", &[], "")
        .await;
    assert_eq!(r.json().as_array().expect("rows").len(), 2);
    let r = api
        .send(
            "POST",
            "/items?select=id",
            &[
                ("accept", "application/vnd.pgrst.object+json"),
                ("prefer", "return=representation"),
            ],
            r#"{"id": 1603, "name": "t"}"#,
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json(), json!({"id": 1603}));
}

#[tokio::test]
async fn tx_rollback_preference() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/items",
            &[("prefer", "tx=rollback, return=representation")],
            r#"{"id": 1701, "name": "ghost"}"#,
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(
        r.header("preference-applied")
            .expect("applied")
            .contains("tx=rollback")
    );
    let r = api.send("GET", "/items?id=eq.1701", &[], "").await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn put_upserts_one_row_by_primary_key() {
    let api = Api::new().await;
    let r = api
        .send(
            "PUT",
            "/items?id=eq.1801&select=id,name",
            &[("prefer", "return=representation")],
            r#"{"id": 1801, "name": "put"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api
        .send(
            "PUT",
            "/items?id=eq.1801",
            &[],
            r#"{"id": 1801, "name": "put again"}"#,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = api
        .send(
            "PUT",
            "/items?name=eq.x",
            &[],
            r#"{"id": 1801, "name": "x"}"#,
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "PGRST105");
    let r = api
        .send(
            "PUT",
            "/items?id=eq.1801",
            &[],
            r#"{"id": 1802, "name": "x"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST115");
    let r = api
        .send(
            "PUT",
            "/items?id=eq.1801&limit=1",
            &[],
            r#"{"id": 1801, "name": "x"}"#,
        )
        .await;
    assert_eq!(r.json()["code"], "PGRST114");
}

#[tokio::test]
async fn strict_handling_rejects_unknown_preferences() {
    let api = Api::new().await;
    let r = api
        .get_h("/users", &[("prefer", "handling=strict, bogus=1")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST122");
    let r = api
        .get_h("/users?select=id&id=eq.1", &[("prefer", "bogus=1")])
        .await;
    assert_eq!(r.status, 200);
}

// ---------- rpc ----------

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
