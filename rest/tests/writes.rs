//! Writes: inserts, upserts, PATCH, DELETE, PUT and their preferences.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::json;

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
            "/items?columns=id,name,qty&select=id,name,qty",
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
            "/items?columns=id,name,qty&select=id,qty",
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
            r#"{"id": 1103, "name": "c", "note": "ignored", "qty": "not read"}"#,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 1103, "name": "c", "note": null}]),
        "{}",
        r.body
    );
    // Keys left out of columns= are not read in a PATCH either, valid or not.
    let r = api
        .send(
            "PATCH",
            "/items?id=eq.1103&columns=note&select=note,qty",
            &[("prefer", "return=representation")],
            r#"{"note": "set", "qty": "not read"}"#,
        )
        .await;
    assert_eq!(r.json(), json!([{"note": "set", "qty": 1}]), "{}", r.body);
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
    // An identity column and a domain with a default take them too (supabase-js's
    // `defaultToNull: false`).
    let r = api
        .send(
            "POST",
            "/entries?columns=id,label,points&select=label,points,total",
            &[("prefer", "return=representation, missing=default")],
            r#"[{"label": "a"}, {"label": "b", "points": 1}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"label": "a", "points": 666, "total": 1332}, {"label": "b", "points": 1, "total": 2}])
    );
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
        Some("resolution=merge-duplicates, return=representation")
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
    // Nothing offered, nothing inserted: a merging upsert answers 200, a plain insert 201.
    for (prefer, status) in [
        ("resolution=merge-duplicates, return=representation", 200),
        ("resolution=ignore-duplicates, return=representation", 201),
        ("return=representation", 201),
    ] {
        let r = api
            .send("POST", "/items", &[("prefer", prefer)], "[]")
            .await;
        assert_eq!(r.status, status, "{prefer}: {}", r.body);
        assert_eq!(r.json(), json!([]));
    }
    // An on_conflict column the table lacks is PostgreSQL's own error, as PostgREST passes it.
    let r = api
        .send(
            "POST",
            "/items?on_conflict=skew",
            &[("prefer", "resolution=merge-duplicates")],
            r#"{"id": 1404, "name": "x", "sku": "U4"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "42703",
            "message": "column \"skew\" does not exist",
            "details": null,
            "hint": "Perhaps you meant to reference the column \"items.sku\"."
        })
    );
}

#[tokio::test]
async fn patch_delete_and_max_affected() {
    let api = Api::new().await;
    api.send("POST", "/items?columns=id,name,qty", &[], r#"[{"id": 1501, "name": "p", "qty": 1}, {"id": 1502, "name": "p", "qty": 2}, {"id": 1503, "name": "q"}]"#)
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
    // A logic tree picks the rows to change, not the rows shown: the changed rows come back
    // though they no longer match it (PostgREST 14.4), selected columns or not.
    api.send(
        "POST",
        "/items?columns=id,name",
        &[],
        r#"[{"id": 1504, "name": "or-a"}, {"id": 1505, "name": "or-b"}]"#,
    )
    .await;
    let r = api
        .send(
            "PATCH",
            "/items?select=id,name&or=(name.eq.or-a,name.eq.or-b)&order=id",
            &[("prefer", "return=representation")],
            r#"{"name": "or-c"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1504, "name": "or-c"}, {"id": 1505, "name": "or-c"}])
    );
    let r = api
        .send(
            "DELETE",
            "/items?select=id&or=(name.eq.or-c,id.eq.0)&order=id",
            &[("prefer", "return=representation")],
            "",
        )
        .await;
    assert_eq!(r.json(), json!([{"id": 1504}, {"id": 1505}]));
}

#[tokio::test]
async fn order_and_limit_on_patch_and_delete_are_ignored() {
    // supabase-js sends `order` with `.update().select().order()`; PostgREST dropped limited
    // writes, so the write still touches every matching row.
    let api = Api::new().await;
    api.send(
        "POST",
        "/items",
        &[],
        r#"[{"id": 1701, "name": "o"}, {"id": 1702, "name": "o"}, {"id": 1703, "name": "o"}]"#,
    )
    .await;
    let r = api
        .send(
            "PATCH",
            "/items?name=eq.o&select=id&order=id.desc&limit=1",
            &[("prefer", "return=representation")],
            r#"{"note": "all"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every row written, returned in the order asked for.
    assert_eq!(r.json(), json!([{"id": 1703}, {"id": 1702}, {"id": 1701}]));
    let r = api
        .send("GET", "/items?name=eq.o&note=eq.all&select=id", &[], "")
        .await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(3));
    let r = api
        .send(
            "POST",
            "/items?select=id&order=id.desc",
            &[("prefer", "return=representation")],
            r#"[{"id": 1704, "name": "o"}, {"id": 1705, "name": "o"}]"#,
        )
        .await;
    assert_eq!(r.json(), json!([{"id": 1705}, {"id": 1704}]), "{}", r.body);
    let r = api
        .send(
            "DELETE",
            "/items?name=eq.o&order=id&limit=1&select=id",
            &[("prefer", "return=representation")],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1701}, {"id": 1702}, {"id": 1703}, {"id": 1704}, {"id": 1705}])
    );
    let r = api.send("GET", "/items?name=eq.o", &[], "").await;
    assert_eq!(r.json(), json!([]));
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
    // A rollback asked for still runs the deferred checks: the write is tried for real.
    for tx in ["tx=rollback", "tx=commit"] {
        let r = api
            .send(
                "POST",
                "/slots",
                &[("prefer", tx)],
                r#"{"id": 2, "code": "a"}"#,
            )
            .await;
        assert_eq!(r.status, 409, "{tx}: {}", r.body);
        assert_eq!(r.json()["code"], "23505", "{tx}");
    }
    // Reads and read-only calls name the end they were given too.
    for (method, path) in [
        ("GET", "/items?id=eq.1701"),
        ("HEAD", "/items"),
        ("GET", "/rpc/add?a=1"),
        ("POST", "/rpc/add"),
    ] {
        let r = api
            .send(method, path, &[("prefer", "tx=commit")], r#"{"a": 1}"#)
            .await;
        assert_eq!(
            r.header("preference-applied"),
            Some("tx=commit"),
            "{method} {path}: {}",
            r.body
        );
    }
}

/// `db-tx-end`: what a write's transaction does when the request says nothing, and whether
/// `Prefer: tx=…` may say otherwise.
#[tokio::test]
async fn db_tx_end_decides_commit_or_rollback_and_whether_prefer_may_override() {
    use madbase_rest::DbTxEnd;
    let cases = [
        // (setting, Prefer, id, kept, echoed)
        (DbTxEnd::Commit, "tx=rollback", 1711, true, None),
        (DbTxEnd::Rollback, "", 1712, false, None),
        (DbTxEnd::Rollback, "tx=commit", 1713, false, None),
        (DbTxEnd::RollbackAllowOverride, "", 1714, false, None),
        (
            DbTxEnd::RollbackAllowOverride,
            "tx=commit",
            1715,
            true,
            Some("tx=commit"),
        ),
        (DbTxEnd::CommitAllowOverride, "", 1716, true, None),
    ];
    for (tx_end, prefer, id, kept, echoed) in cases {
        let api = Api::with(madbase_rest::RestSettings {
            tx_end,
            ..settings()
        })
        .await;
        let r = api
            .send(
                "POST",
                "/items",
                &[("prefer", prefer)],
                &format!(r#"{{"id": {id}, "name": "tx end"}}"#),
            )
            .await;
        assert_eq!(r.status, 201, "{tx_end:?} {prefer}: {}", r.body);
        assert_eq!(
            r.header("preference-applied"),
            echoed,
            "{tx_end:?} {prefer}"
        );
        let r = api
            .send("GET", &format!("/items?id=eq.{id}"), &[], "")
            .await;
        assert_eq!(
            r.json().as_array().map(Vec::len),
            Some(usize::from(kept)),
            "{tx_end:?} {prefer}"
        );
    }
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

/// PUT's body is compared with the URL's key by the statement, as PostgREST's: the rows with
/// the key's values (as the column's type compares them) are offered, and PostgreSQL refuses
/// several; a body without the key's columns is PostgreSQL's error on PostgREST's statement.
#[tokio::test]
async fn put_offers_the_rows_with_the_urls_key() {
    let api = Api::new().await;
    let put = |path: &'static str, body: &'static str| {
        api.send("PUT", path, &[("prefer", "return=representation")], body)
    };
    // Two rows with the URL's key: both offered, and the statement fails whole.
    for body in [
        r#"[{"id": 1811, "name": "a"}, {"id": 1811, "name": "b"}]"#,
        r#"[{"id": 1811, "name": "a"}, {"id": 1812, "name": "c"}, {"id": 1811, "name": "b"}]"#,
    ] {
        let r = put("/items?id=eq.1811", body).await;
        assert_eq!(r.status, 500, "{}", r.body);
        assert_eq!(
            r.json(),
            json!({
                "code": "21000",
                "message": "ON CONFLICT DO UPDATE command cannot affect row a second time",
                "details": null,
                "hint": "Ensure that no rows proposed for insertion within the same command have duplicate constrained values."
            })
        );
    }
    let r = api.get("/items?id=in.(1811,1812)").await;
    assert_eq!(r.json(), json!([]));
    // The key compared as an integer: "01" is 1811's key written otherwise.
    let r = put(
        "/items?id=eq.01811&select=id,name",
        r#"{"id": 1811, "name": "typed"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 1811, "name": "typed"}]));
    let r = put("/items?id=eq.x", r#"{"id": 1811, "name": "x"}"#).await;
    r.expect_error(400, "22P02");
    // No row, an empty one, or rows without the key: the key column is missing.
    for body in ["[]", "{}", "[{}]", "7", r#"{"name": "x"}"#] {
        let r = put("/items?id=eq.1811", body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(
            r.json(),
            json!({"code": "42703", "message": "column pgrst_body.id does not exist", "details": null, "hint": null}),
            "{body}"
        );
    }
    // The first key column missing in the URL's order, as PostgreSQL reads the conditions.
    for (path, missing) in [
        ("/regions?code=eq.x&country=eq.y", "code"),
        ("/regions?country=eq.y&code=eq.x", "country"),
    ] {
        let r = api.send("PUT", path, &[], r#"{"name": "n"}"#).await;
        assert_eq!(
            r.json()["message"],
            format!("column pgrst_body.{missing} does not exist")
        );
    }
    // `columns=` is for POST and PATCH: PUT writes every key of its body.
    let r = put(
        "/items?id=eq.1811&columns=id,name&select=qty",
        r#"{"id": 1811, "name": "all", "qty": 7}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"qty": 7}]));
}

/// A view's key as PostgREST derives it: each whole primary key the view shows, in the key's
/// order, as the first view column showing each key column, the tables by name; part of a key
/// is none. It names the row in `Location`, is the filter PUT takes and OpenAPI's note.
#[tokio::test]
async fn view_keys_as_postgrest_derives_them() {
    let api = Api::new().await;
    let post = |path: &'static str, body: &'static str| {
        api.send(
            "POST",
            path,
            &[("prefer", "return=headers-only, tx=rollback")],
            body,
        )
    };
    let put = |path: &'static str, body: &'static str| {
        api.send("PUT", path, &[("prefer", "tx=rollback")], body)
    };
    // The whole key, in the key's order (country, code) and not the view's (code, country).
    let r = post(
        "/region_names",
        r#"{"country": "DE", "code": "BE", "name": "Berlin"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/region_names?country=eq.DE&code=eq.BE")
    );
    let r = put(
        "/region_names?code=eq.BE&country=eq.DE",
        r#"{"country": "DE", "code": "BE", "name": "Berlin"}"#,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Part of a key: no key.
    let r = put("/region_codes?code=eq.BE", r#"{"code": "BE", "name": "x"}"#).await;
    assert_eq!((r.status, &r.json()["code"]), (405, &json!("PGRST105")));
    // A key column shown twice: the first.
    let r = post("/team_ids", r#"{"team_id": 60, "name": "x"}"#).await;
    assert_eq!(r.header("location"), Some("/team_ids?team_id=eq.60"));
    let r = put(
        "/team_ids?team_ref=eq.60",
        r#"{"team_id": 60, "name": "x"}"#,
    )
    .await;
    assert_eq!((r.status, &r.json()["code"]), (405, &json!("PGRST105")));
    // A join: both keys, crews' before sites', whatever the view's column order.
    let r = post("/crew_sites", r#"{"site": 1, "crew": 2}"#).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/crew_sites?crew=eq.2&site=eq.1")
    );
    let doc = api.get("/").await.json();
    let pk = |view: &str| -> Vec<String> {
        let props = doc["definitions"][view]["properties"]
            .as_object()
            .expect("properties");
        props
            .iter()
            .filter(|(_, p)| {
                p["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("<pk/>"))
            })
            .map(|(c, _)| c.clone())
            .collect()
    };
    assert_eq!(pk("region_names"), ["code", "country"]);
    assert!(pk("region_codes").is_empty());
    assert_eq!(pk("team_ids"), ["team_id"]);
    assert_eq!(pk("crew_sites"), ["crew", "site"]);
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
    // As in PostgREST, the table or function is found first: a missing one is a 404, a call
    // whose arguments no overload takes too; a call that resolves is refused.
    let strict = [("prefer", "handling=strict, bogus=1")];
    let r = api.send("PATCH", "/userz?id=eq.1", &strict, "{}").await;
    r.expect_error(404, "PGRST205");
    let r = api.send("POST", "/rpc/add", &strict, r#"{"x": 1}"#).await;
    r.expect_error(404, "PGRST202");
    let r = api.send("POST", "/rpc/add", &strict, r#"{"a": 1}"#).await;
    r.expect_error(400, "PGRST122");
    assert_eq!(r.json()["details"], "Invalid preferences: bogus=1");
}

/// The body reaches PostgreSQL as it came, as with PostgREST, so a number keeps every digit (a
/// float in between would round it). Runs rolled back: the fixture stays as it was.
#[tokio::test]
async fn insert_keeps_every_digit_of_a_number() {
    let api = Api::new().await;
    let digits = "12345678901234567890.123456789012345678901234567890";
    let r = api
        .send(
            "POST",
            "/projects?select=budget::text",
            &[("prefer", "return=representation, tx=rollback")],
            &format!(r#"{{"id": 901, "name": "exact", "budget": {digits}}}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{ "budget": digits }]));
    let r = api
        .send(
            "PUT",
            "/projects?id=eq.902&select=budget::text",
            &[("prefer", "return=representation, tx=rollback")],
            r#"[{"id": 902, "name": "one row in an array", "budget": 1e-30}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "a new row: {}", r.body);
    assert_eq!(
        r.json(),
        json!([{ "budget": "0.000000000000000000000000000001" }])
    );
}

/// Tables for writes by roles that may not read back what they write.
const WRITE_ONLY: &str = "
CREATE TABLE public.wo_feedback (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, msg text);
ALTER TABLE public.wo_feedback ENABLE ROW LEVEL SECURITY;
CREATE POLICY anon_sends ON public.wo_feedback FOR INSERT TO anon WITH CHECK (true);
GRANT INSERT ON public.wo_feedback TO anon;
GRANT SELECT ON public.wo_feedback TO service_role;
CREATE TABLE public.wo_accounts (id int PRIMARY KEY, email text, password text);
INSERT INTO public.wo_accounts VALUES (1, 'a@x', 'p1'), (2, 'b@x', 'p2'), (3, 'c@x', 'p3');
GRANT SELECT (id, email), INSERT (id, email, password), UPDATE (email, password), DELETE
  ON public.wo_accounts TO anon;
GRANT SELECT ON public.wo_accounts TO service_role;
CREATE TABLE public.wo_nokey (a text, b text);
CREATE TABLE public.wo_stock (id int PRIMARY KEY, name text, qty int DEFAULT 5);
INSERT INTO public.wo_stock VALUES (1, 'one', 1), (2, 'two', 2);
CREATE VIEW public.wo_stock_v AS SELECT * FROM public.wo_stock;
GRANT ALL ON public.wo_nokey, public.wo_stock, public.wo_stock_v TO anon, service_role;
";

async fn write_only_api() -> Api {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    with_schema(&DONE, WRITE_ONLY, settings()).await
}

#[tokio::test]
async fn roles_that_may_not_read_back_still_write() {
    let api = write_only_api().await;
    let anon =
        |method: &'static str, url: &'static str, prefer: &'static str, body: &'static str| {
            let api = &api;
            async move {
                api.req(
                    method,
                    url,
                    &[("prefer", prefer)],
                    body,
                    "anon",
                    json!({"role": "anon"}),
                )
                .await
            }
        };
    // An insert-only table (a contact form): anon may insert, not read.
    let r = anon("POST", "/wo_feedback", "return=minimal", r#"{"msg": "hi"}"#).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = anon(
        "POST",
        "/wo_feedback",
        "",
        r#"[{"msg": "a"}, {"msg": "b"}]"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Reading it back is what it may not do, as in PostgREST.
    let r = anon(
        "POST",
        "/wo_feedback",
        "return=representation",
        r#"{"msg": "no"}"#,
    )
    .await;
    r.expect_error(401, "42501");
    let r = api
        .send("GET", "/wo_feedback?select=msg&order=id", &[], "")
        .await;
    assert_eq!(r.json(), json!([{"msg": "hi"}, {"msg": "a"}, {"msg": "b"}]));

    // Column grants: the password may be written, never read.
    let r = anon(
        "PATCH",
        "/wo_accounts?id=eq.1",
        "return=minimal",
        r#"{"password": "new"}"#,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = anon("DELETE", "/wo_accounts?id=eq.2", "", "").await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = anon(
        "DELETE",
        "/wo_accounts?id=eq.3&select=id,email",
        "return=representation",
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 3, "email": "c@x"}]));
    let r = anon(
        "POST",
        "/wo_accounts?select=id,email",
        "return=representation",
        r#"{"id": 4, "email": "d@x", "password": "p4"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 4, "email": "d@x"}]));
    let r = anon(
        "POST",
        "/wo_accounts?select=password",
        "return=representation",
        r#"{"id": 5, "email": "e@x", "password": "p5"}"#,
    )
    .await;
    assert_eq!(r.status, 401, "a column it may not read: {}", r.body);
    let r = api
        .send("GET", "/wo_accounts?select=id,password&order=id", &[], "")
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 1, "password": "new"}, {"id": 4, "password": "p4"}]),
        "the refused insert left nothing"
    );
}

#[tokio::test]
async fn updates_and_deletes_without_a_filter_are_refused_as_on_supabase() {
    let api = write_only_api().await;
    for (method, body, verb) in [
        ("PATCH", r#"{"name": "all"}"#, "UPDATE"),
        ("DELETE", "", "DELETE"),
    ] {
        let r = api.send(method, "/wo_stock", &[], body).await;
        assert_eq!(r.status, 400, "{method}: {}", r.body);
        assert_eq!(r.json()["code"], "21000");
        assert_eq!(
            r.json()["message"],
            format!("{verb} requires a WHERE clause")
        );
    }
    let r = api.send("PATCH", "/wo_stock", &[], "{}").await;
    assert_eq!(r.status, 204, "no column set, no UPDATE: {}", r.body);
    let r = api
        .send("GET", "/wo_stock?select=id&id=eq.1", &[], "")
        .await;
    assert_eq!(r.json(), json!([{"id": 1}]), "nothing deleted");
}

#[tokio::test]
async fn bodies_are_read_as_postgrest_reads_them() {
    let api = write_only_api().await;
    // Objects with other keys need columns= (supabase-js sends it); without, PGRST102.
    let mixed = r#"[{"id": 30, "name": "a"}, {"id": 31, "name": "b", "qty": 2}]"#;
    let r = api.send("POST", "/wo_stock", &[], mixed).await;
    r.expect_error(400, "PGRST102");
    assert_eq!(r.json()["message"], "All object keys must match");
    let r = api
        .send(
            "POST",
            "/wo_stock?columns=id,name,qty&select=id,qty",
            &[("prefer", "return=representation, missing=default")],
            mixed,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 30, "qty": 5}, {"id": 31, "qty": 2}])
    );
    // A scalar or null body is no rows.
    for body in ["1", "null"] {
        let r = api
            .send(
                "POST",
                "/wo_stock",
                &[("prefer", "return=representation")],
                body,
            )
            .await;
        assert_eq!((r.status, r.json()), (201, json!([])), "{body}");
        let r = api.send("PATCH", "/wo_stock?id=eq.30", &[], body).await;
        assert_eq!(r.status, 204, "{body}: {}", r.body);
    }
    // With columns= too: a body without a row sets nothing.
    for body in ["[]", "null"] {
        let r = api
            .send("PATCH", "/wo_stock?id=eq.30&columns=name", &[], body)
            .await;
        assert_eq!(r.status, 204, "{body}: {}", r.body);
    }
    let r = api
        .send("GET", "/wo_stock?select=name&id=eq.30", &[], "")
        .await;
    assert_eq!(r.json(), json!([{"name": "a"}]));
    // A key repeated within an object counts once: still not the first object's keys.
    let r = api
        .send(
            "POST",
            "/wo_stock",
            &[],
            r#"[{"id": 40, "name": "a"}, {"id": 41, "id": 42}]"#,
        )
        .await;
    assert_eq!(r.json()["code"], "PGRST102", "{}", r.body);
    // A representation reading no column, of a table without a key.
    let r = api
        .send(
            "POST",
            "/wo_nokey?select=count()",
            &[("prefer", "return=representation")],
            r#"[{"a": "x", "b": "y"}, {"a": "z", "b": "w"}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{"count": 2}]));
}

#[tokio::test]
async fn upserts_count_insertions_without_reading_rows() {
    let api = write_only_api().await;
    // No key and no on_conflict: a plain insert, the resolution not applied.
    let r = api
        .send(
            "POST",
            "/wo_nokey",
            &[(
                "prefer",
                "resolution=merge-duplicates, return=representation",
            )],
            r#"{"a": "1", "b": "2"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!([{"a": "1", "b": "2"}]));
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation")
    );
    // Through a view: rows that all existed are 200, one new row makes it 201.
    for (body, status) in [
        (
            r#"[{"id": 1, "name": "uno"}, {"id": 2, "name": "dos"}]"#,
            200,
        ),
        (
            r#"[{"id": 2, "name": "dos"}, {"id": 3, "name": "tres"}]"#,
            201,
        ),
    ] {
        let r = api
            .send(
                "POST",
                "/wo_stock_v",
                &[(
                    "prefer",
                    "resolution=merge-duplicates, return=representation",
                )],
                body,
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // The same on the table with return=minimal, which reads nothing back.
    for (body, status) in [
        (r#"{"id": 1, "name": "one"}"#, 200),
        (r#"{"id": 4, "name": "four"}"#, 201),
    ] {
        let r = api
            .send(
                "POST",
                "/wo_stock",
                &[("prefer", "resolution=merge-duplicates")],
                body,
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // PATCH with columns= and missing=default: a key left out takes the column's default.
    let r = api
        .send(
            "PATCH",
            "/wo_stock?id=eq.1&columns=name,qty&select=name,qty",
            &[("prefer", "return=representation, missing=default")],
            r#"{"name": "reset"}"#,
        )
        .await;
    assert_eq!(r.json(), json!([{"name": "reset", "qty": 5}]), "{}", r.body);
    // Location names a single inserted row only; DELETE's range is */n; PUT has none.
    let r = api
        .send(
            "POST",
            "/wo_stock",
            &[("prefer", "return=headers-only")],
            r#"[{"id": 10, "name": "a"}, {"id": 11, "name": "b"}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location"), None);
    let r = api
        .send(
            "POST",
            "/wo_stock",
            &[("prefer", "return=headers-only")],
            r#"{"id": 12, "name": "c"}"#,
        )
        .await;
    assert_eq!(r.header("location"), Some("/wo_stock?id=eq.12"));
    let r = api
        .send(
            "DELETE",
            "/wo_stock?id=in.(10,11)",
            &[("prefer", "count=exact")],
            "",
        )
        .await;
    assert_eq!(r.header("content-range"), Some("*/2"));
    let r = api
        .send(
            "PUT",
            "/wo_stock?id=eq.20",
            &[],
            r#"{"id": 20, "name": "put"}"#,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("content-range"), None);
    // Of several rows, PUT puts the one whose key the URL names, as PostgREST.
    let r = api
        .send(
            "PUT",
            "/wo_stock?id=eq.20",
            &[("prefer", "return=representation")],
            r#"[{"id": 21, "name": "other"}, {"id": 20, "name": "named"}]"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 20, "name": "named", "qty": 5}]));
    let r = api
        .send("GET", "/wo_stock?select=id&id=eq.21", &[], "")
        .await;
    assert_eq!(r.json(), json!([]));
    let r = api
        .send(
            "PUT",
            "/wo_stock?id=eq.20",
            &[],
            r#"[{"id": 21, "name": "x"}, {"id": 22, "name": "y"}]"#,
        )
        .await;
    assert_eq!(r.json()["code"], "PGRST115", "{}", r.body);
}
