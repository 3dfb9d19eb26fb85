//! Reads: select, filters, logic trees, order, ranges, counts and representations.

mod data_plane;
mod postgres;

use data_plane::*;
use madbase_rest::RestSettings;
use serde_json::json;

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
        // A domain over a domain over tsvector is searched as one.
        ("tsv2=fts.quick%26fox", vec![1]),
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
    assert_eq!(r.header("content-range"), Some("*/4"));
    let r = api
        .get_h("/tasks?select=id&limit=1", &[("prefer", "count=planned")])
        .await;
    assert_eq!(r.status, 206, "{:?}", r.header("content-range"));
    assert!(
        r.header("content-range")
            .expect("range")
            .starts_with("0-0/")
    );
    // count=estimated counts exactly up to max-rows, as PostgREST: a small table's total is
    // its count, not the planner's guess (these tables were never analyzed).
    let capped = Api::with(RestSettings {
        max_rows: Some(10),
        ..settings()
    })
    .await;
    let r = capped
        .get_h("/tasks?select=id&limit=2", &[("prefer", "count=estimated")])
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("0-1/4"));
    // Past max-rows, the larger of that count and the estimate.
    let tight = Api::with(RestSettings {
        max_rows: Some(2),
        ..settings()
    })
    .await;
    let r = tight
        .get_h("/tasks?select=id", &[("prefer", "count=estimated")])
        .await;
    let total: i64 = r
        .header("content-range")
        .and_then(|v| v.split_once('/'))
        .and_then(|(_, t)| t.parse().ok())
        .expect("a total");
    assert!(total >= 3, "{total}");
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
    // Only GET reads the Range header (RFC 9110, as PostgREST): HEAD and RPC by POST ignore it.
    let r = api
        .send("HEAD", "/tasks?select=id", &[("range", "1-2")], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), Some("0-3/*"));
    let r = api
        .send("POST", "/rpc/numbers", &[("range", "1-1")], r#"{"n": 3}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([1, 2, 3]));
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
    // Every level is capped, as PostgREST's max-rows: embedded arrays too, at any depth.
    let one = Api::with(RestSettings {
        max_rows: Some(1),
        ..settings()
    })
    .await;
    let r = one
        .get("/users?select=id,projects(id,tasks(id))&id=eq.1&projects.order=id.desc&projects.tasks.order=id.desc")
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 1, "projects": [{"id": 2, "tasks": [{"id": 3}]}]}]),
        "{}",
        r.body
    );
    let r = one
        .get("/projects?select=id,tasks(id)&id=eq.1&tasks.order=id.desc")
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 1, "tasks": [{"id": 2}]}]),
        "{}",
        r.body
    );
    let r = api.get("/tasks?limit=-1").await;
    assert_eq!(r.status, 416);
    let r = api.get_h("/tasks?select=id", &[("range", "3-1")]).await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.json()["details"],
        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
    );
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
    // No rows: an empty header line, as PostgREST.
    let r = api
        .get_h("/users?select=id&id=eq.999", &[("accept", "text/csv")])
        .await;
    assert_eq!(r.body, "\n");
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
    // The table is looked up first: an unknown one is a 404 whatever is accepted, as in
    // PostgREST, for reads and writes alike.
    let r = api.get_h("/userz", &[("accept", "unknown/unknown")]).await;
    r.expect_error(404, "PGRST205");
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant the table 'public.users'"
    );
    let r = api
        .send(
            "POST",
            "/userz",
            &[("accept", "application/octet-stream")],
            r#"{"id": 1}"#,
        )
        .await;
    r.expect_error(404, "PGRST205");
    // A read is planned before its media type is negotiated and its preferences checked, as
    // PostgREST plans it: a malformed select or an embed that does not resolve answers first.
    let unservable = [("accept", "unknown/unknown")];
    let strict = [("prefer", "handling=strict, bogus=1")];
    for headers in [&unservable[..], &strict[..]] {
        let r = api.get_h("/users?select=id,name(", headers).await;
        r.expect_error(400, "PGRST100");
        let r = api.get_h("/users?select=id,nowhere(id)", headers).await;
        r.expect_error(400, "PGRST200");
    }
    let r = api.get_h("/users?select=id", &strict).await;
    r.expect_error(400, "PGRST122");
    // Writes too; and a write's preferences are checked before its media type.
    let r = api
        .send(
            "PATCH",
            "/users?id=eq.1&select=id,nowhere(id)",
            &unservable,
            r#"{"name": "x"}"#,
        )
        .await;
    r.expect_error(400, "PGRST200");
    let both = [
        ("accept", "unknown/unknown"),
        ("prefer", "handling=strict, bogus=1"),
    ];
    let r = api
        .send("PATCH", "/users?id=eq.1", &both, r#"{"name": "x"}"#)
        .await;
    r.expect_error(400, "PGRST122");
    let r = api.get_h("/users?select=id", &both).await;
    r.expect_error(406, "PGRST107");
    // The query string is parsed before the table is looked up.
    let r = api.get("/userz?select=id,name(").await;
    r.expect_error(400, "PGRST100");
    let r = api
        .send(
            "POST",
            "/userz",
            &[("content-type", "application/json")],
            "{",
        )
        .await;
    r.expect_error(400, "PGRST102");
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
    assert_eq!(
        r.header("content-type"),
        Some(
            "application/vnd.pgrst.plan+text; for=\"application/json\"; options=verbose; charset=utf-8"
        )
    );
    // for= names the representation explained: the singular object's statement here.
    let r = api
        .get_h(
            "/users?id=eq.1",
            &[(
                "accept",
                "application/vnd.pgrst.plan+text; for=\"application/vnd.pgrst.object\"; options=verbose",
            )],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("-> 0"), "{}", r.body);
    // Without a format, the plan is text, as PostgREST gives it.
    let r = api
        .get_h("/users", &[("accept", "application/vnd.pgrst.plan")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.pgrst.plan+text; for=\"application/json\"; charset=utf-8")
    );
    assert!(r.body.starts_with("Aggregate"), "{}", r.body);
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
