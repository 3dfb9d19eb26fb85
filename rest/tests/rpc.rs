//! Function calls through /rpc.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::{Value, json};

#[tokio::test]
async fn rpc_scalar_named_defaults_and_get() {
    let api = Api::new().await;
    let r = api
        .send("POST", "/rpc/add", &[], r#"{"a": 2, "b": 3}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "5");
    assert_eq!(r.header("content-range"), Some("0-0/*"));
    let r = api.send("POST", "/rpc/add", &[], r#"{"a": 2}"#).await;
    assert_eq!(r.body, "2");
    let r = api.send("POST", "/rpc/noop", &[], "").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("content-range"), Some("0-0/*"));
    let r = api
        .send(
            "POST",
            "/rpc/project_by_id",
            &[("prefer", "count=exact")],
            r#"{"pid": 1}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-range"), Some("0-0/1"));
    let r = api.get("/rpc/add?a=4&b=5").await;
    assert_eq!(r.body, "9");
    let r = api.send("POST", "/rpc/add", &[], r#"{"x": 1}"#).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "PGRST202");
    assert_eq!(
        r.json()["details"],
        "Searched for the function public.add with parameter x or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
    );
    // The name exists: the hint names the overload whose parameters come close, and "(x)"
    // shares no letters with "(a, b)".
    assert_eq!(r.json()["hint"], Value::Null);
    let r = api
        .send("POST", "/rpc/add", &[], r#"{"a": 1, "c": 2}"#)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant to call the function public.add(a, b)"
    );
    let r = api.send("POST", "/rpc/plus_on", &[], r#"{}"#).await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant to call the function public.plus_one"
    );
    // A function name must come closer than that (a score of 0.75, as PostgREST 14.6) to be
    // suggested: "ad" is one edit from "add" in three (0.67), and no name is revealed.
    let r = api.send("POST", "/rpc/ad", &[], r#"{}"#).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["hint"], Value::Null, "{}", r.body);
    // The function is looked up before the media type is negotiated, as in PostgREST: no
    // function for these arguments is a 404 whatever is accepted, and a found one a 406.
    let octets = [("accept", "application/octet-stream")];
    for (path, body, status, code) in [
        ("/rpc/add", r#"{"x": 1}"#, 404, "PGRST202"),
        ("/rpc/ad", r#"{"a": 1}"#, 404, "PGRST202"),
        ("/rpc/add", r#"{"a": 1}"#, 406, "PGRST107"),
    ] {
        let r = api.send("POST", path, &octets, body).await;
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        assert_eq!(r.json()["code"], code, "{path} {body}");
    }
    let r = api.get_h("/rpc/add?x=1", &octets).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Could not find the function public.add(x) in the schema cache"
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
    // Without it, a single named json parameter is called by its name only (PostgREST 14.2):
    // other keys are PGRST202, not the body passed whole.
    let r = api
        .send("POST", "/rpc/echo", &[], r#"{"whole": true}"#)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "PGRST202",
            "message": "Could not find the function public.echo(whole) in the schema cache",
            "details": "Searched for the function public.echo with parameter whole or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
            "hint": null,
        })
    );
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
async fn rpc_setof_scalar_results_filter_and_order_on_pgrst_scalar() {
    let api = Api::new().await;
    let r = api
        .get("/rpc/numbers?n=5&pgrst_scalar=gt.2&order=pgrst_scalar.desc")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([5, 4, 3]));
    let r = api
        .get_h(
            "/rpc/numbers?n=6&order=pgrst_scalar.desc&limit=2&offset=1&pgrst_scalar=not.eq.5",
            &[("prefer", "count=exact")],
        )
        .await;
    assert_eq!(r.json(), json!([4, 3]));
    assert_eq!(r.header("content-range"), Some("1-2/5"));
    // `select` does not apply to scalars.
    let r = api.get("/rpc/numbers?n=3&select=anything").await;
    assert_eq!(r.json(), json!([1, 2, 3]));
    // A filter or order on another name is an unknown column.
    let r = api.get("/rpc/numbers?n=3&order=n.desc").await;
    assert_eq!(r.status, 400, "{}", r.body);
    // JSON paths into a SETOF json result, as clients page through such functions.
    let r = api
        .get("/rpc/people?order=pgrst_scalar->>name.asc&pgrst_scalar->age=gt.10")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "age": 36}, {"name": "Ben", "age": 41}])
    );
    let r = api
        .send(
            "POST",
            "/rpc/numbers?order=pgrst_scalar.desc&limit=1",
            &[("accept", "application/vnd.pgrst.object+json")],
            r#"{"n": 4}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "4");
    let r = api
        .get_h("/rpc/numbers?n=2", &[("accept", "text/csv")])
        .await;
    assert_eq!(r.body, "pgrst_scalar\n1\n2");
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
    // Trigger functions and functions with an unnamed argument that is not a body are no
    // endpoints, as in PostgREST (a trigger function was run and failed with 42804).
    for f in ["touch", "twice"] {
        let r = api.send("POST", &format!("/rpc/{f}"), &[], "{}").await;
        assert_eq!(r.status, 404, "{f}: {}", r.body);
        assert_eq!(r.json()["code"], "PGRST202", "{f}");
    }
    // columns= names the arguments a body gives; its other keys are not arguments.
    let r = api
        .send(
            "POST",
            "/rpc/add?columns=a,b",
            &[],
            r#"{"a": 1, "b": 2, "c": 3}"#,
        )
        .await;
    assert_eq!(r.json(), json!(3), "{}", r.body);
    // A set of a domain over a row type is read as rows of that table: select, embeds.
    let r = api
        .get("/rpc/projects_as_domain?select=id,owner:users(name)&id=eq.3")
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 3, "owner": {"name": "Bob"}}]),
        "{}",
        r.body
    );
    // By GET, a value that reads as a filter is one, any other an argument, as PostgREST: a
    // filter may name a column named like an argument, a misspelt argument is no function.
    let r = api.get("/rpc/projects_above?id=1&id=lt.3&select=id").await;
    assert_eq!(r.json(), json!([{"id": 2}]), "{}", r.body);
    let r = api.get("/rpc/projects_above?idd=1").await;
    r.expect_error(404, "PGRST202");
    // `character` and `bit` arguments take values of any length, as PostgREST reads them.
    let r = api.get("/rpc/pad?c=abcdefg&b=10110&cs={abc,abcdefg}").await;
    assert_eq!(r.json(), json!("abcdefg:10110:abc|abcdefg"), "{}", r.body);
    let r = api
        .send(
            "POST",
            "/rpc/pad",
            &[],
            r#"{"c": "xyz", "b": "11", "cs": ["ab"]}"#,
        )
        .await;
    assert_eq!(r.json(), json!("xyz:11:ab"), "{}", r.body);
    // One OUT, INOUT or TABLE column still makes objects named by it, as PostgREST.
    let r = api.get("/rpc/project_names?pname=neq.Loom").await;
    assert_eq!(
        r.json(),
        json!([{"pname": "Engine"}, {"pname": "Mill"}]),
        "{}",
        r.body
    );
    let r = api.get("/rpc/plus_one?num=5").await;
    assert_eq!(r.json(), json!({"num_plus_one": 6}), "{}", r.body);
    let r = api.get("/rpc/bump?num=2").await;
    assert_eq!(r.json(), json!({"num": 3}), "{}", r.body);
    let r = api.get("/rpc/doc_of?a=1&b=two").await;
    assert_eq!(r.json(), json!({"doc": {"a": 1, "b": "two"}}), "{}", r.body);
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
    r.expect_error(405, "25006");
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
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
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

#[tokio::test]
async fn rpc_raw_bodies_go_to_the_single_parameter_of_their_type() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/rpc/shout_text",
            &[("content-type", "text/plain; charset=utf-8")],
            "plain, \"unparsed\" {text}",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!("PLAIN, \"UNPARSED\" {TEXT}"));
    let r = api
        .send(
            "POST",
            "/rpc/xml_root",
            &[("content-type", "text/xml")],
            "<note><to>Jane</to></note>",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!("note"));
    let r = api
        .send(
            "POST",
            "/rpc/bytes_hex",
            &[("content-type", "application/octet-stream")],
            "ab\u{0}\u{ff}",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!("616200c3bf"));
    // Invalid XML is PostgreSQL's own error.
    let r = api
        .send(
            "POST",
            "/rpc/xml_root",
            &[("content-type", "text/xml")],
            "<",
        )
        .await;
    r.expect_error(400, "2200N");
}

#[tokio::test]
async fn rpc_overloads_are_chosen_by_content_type() {
    let api = Api::new().await;
    let cases = [
        ("application/json", "{}", "none"),
        ("application/json", r#"{"x": 1, "y": 2}"#, "sum 3"),
        ("application/json", r#"{"A": 1}"#, "json {\"A\": 1}"),
        ("text/plain", "words", "text words"),
        ("application/octet-stream", "four", "bytes 4"),
        ("application/x-www-form-urlencoded", "x=2&y=5", "sum 7"),
        ("application/x-www-form-urlencoded", "", "none"),
    ];
    for (ct, body, want) in cases {
        let r = api
            .send("POST", "/rpc/multi", &[("content-type", ct)], body)
            .await;
        assert_eq!(r.status, 200, "{ct} {body}: {}", r.body);
        assert_eq!(r.json(), json!(want), "{ct} {body}");
    }
    // GET ignores a request content type: arguments come from the query.
    let r = api
        .get_h("/rpc/multi", &[("content-type", "text/plain")])
        .await;
    assert_eq!(r.json(), json!("none"));
}

#[tokio::test]
async fn rpc_form_bodies_name_arguments() {
    let api = Api::new().await;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = api
        .send("POST", "/rpc/greet", &form, "name=Ada+L%2E&punct=%3F")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!("hi Ada L.?"));
    // Repeated values feed a variadic parameter; otherwise the last one wins.
    let r = api
        .send("POST", "/rpc/total", &form, "nums=1&nums=2&nums=4")
        .await;
    assert_eq!(r.json(), json!(7));
    let r = api
        .send("POST", "/rpc/greet", &form, "name=first&name=last")
        .await;
    assert_eq!(r.json(), json!("hi last!"));
    let r = api.get("/rpc/greet?name=first&name=last").await;
    assert_eq!(r.json(), json!("hi last!"));
    // A form never reaches a single json parameter.
    let r = api.send("POST", "/rpc/echo_raw", &form, "a=1").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["details"],
        "Searched for the function public.echo_raw with parameter a, but no matches were found in the schema cache."
    );
}

#[tokio::test]
async fn rpc_csv_bodies_name_arguments_in_their_header() {
    let api = Api::new().await;
    let r = api
        .send(
            "POST",
            "/rpc/greet",
            &[("content-type", "text/csv")],
            "name\nAda\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!("hi Ada!"));
    let r = api
        .send(
            "POST",
            "/rpc/multi",
            &[("content-type", "text/csv")],
            "a,b\n1,2\n",
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Could not find the function public.multi(a, b) in the schema cache"
    );
    assert_eq!(
        r.json()["details"],
        "Searched for the function public.multi with parameters a, b, but no matches were found in the schema cache."
    );
}

#[tokio::test]
async fn rpc_body_errors_are_postgrest_errors() {
    let api = Api::new().await;
    for (ct, kind) in [
        ("text/plain", "text"),
        ("text/xml", "xml"),
        ("application/octet-stream", "bytea"),
    ] {
        let r = api
            .send("POST", "/rpc/only_int", &[("content-type", ct)], "1")
            .await;
        assert_eq!(r.status, 404, "{ct}: {}", r.body);
        assert_eq!(
            r.json(),
            json!({
                "code": "PGRST202",
                "message": "Could not find the function public.only_int in the schema cache",
                "details": format!("Searched for the function public.only_int with a single unnamed {kind} parameter, but no matches were found in the schema cache."),
                "hint": null
            }),
            "{ct}"
        );
    }
    // A function without parameters takes no raw body.
    let r = api
        .send("POST", "/rpc/noop", &[("content-type", "text/plain")], "x")
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // No arguments at all reads "without parameters".
    let r = api.get("/rpc/only_int").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Could not find the function public.only_int without parameters in the schema cache"
    );
    assert_eq!(
        r.json()["details"],
        "Searched for the function public.only_int without parameters, but no matches were found in the schema cache."
    );
    // Any other content type is refused before anything runs.
    for ct in [
        "text/html",
        "application/xml; charset=utf-8",
        "multipart/form-data",
    ] {
        let r = api
            .send("POST", "/rpc/shout_text", &[("content-type", ct)], "x")
            .await;
        assert_eq!(r.status, 400, "{ct}: {}", r.body);
        assert_eq!(
            r.json(),
            json!({
                "code": "PGRST102",
                "message": format!("Content-Type not acceptable: {ct}"),
                "details": null,
                "hint": null
            })
        );
    }
    // Invalid JSON stays PGRST102 with PostgREST's generic message.
    let r = api
        .send(
            "POST",
            "/rpc/add",
            &[("content-type", "application/json")],
            "{a",
        )
        .await;
    assert_eq!(r.json()["message"], "Empty or invalid json");
}

#[tokio::test]
async fn functions_returning_a_bare_record_are_called_as_postgrest_calls_them() {
    let api = Api::new().await;
    let r = api.send("POST", "/rpc/one_record", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"id": 1, "name": "a"}));
    let r = api.send("GET", "/rpc/some_records", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    );
}
