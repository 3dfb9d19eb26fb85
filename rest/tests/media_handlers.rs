//! Media type handlers, as PostgREST 12 has them: domains named like a media type, returned
//! by functions (whose value is the body) or by aggregates over a relation's rows or over
//! `anyelement`, serve the requests that accept that media type.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::json;
use tokio::sync::OnceCell;

const SCHEMA: &str = r#"
CREATE SCHEMA mh;
GRANT USAGE ON SCHEMA mh TO anon, service_role;

CREATE DOMAIN mh."application/vnd.bin" AS bytea;
CREATE DOMAIN mh."text/html" AS text;
CREATE DOMAIN mh."text/csv" AS text;
CREATE DOMAIN mh."text/plain" AS text;
CREATE DOMAIN mh."*/*" AS bytea;
CREATE DOMAIN mh."text/xml" AS xml;

CREATE TABLE mh.lines (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE mh.others (id int PRIMARY KEY, label text NOT NULL);
CREATE VIEW mh.lines_xml AS SELECT * FROM mh.lines;
INSERT INTO mh.lines VALUES (1, 'one'), (2, 'two');
INSERT INTO mh.others VALUES (7, 'seven');
GRANT SELECT ON mh.lines, mh.others, mh.lines_xml TO anon;
GRANT SELECT, INSERT ON mh.lines TO service_role;

-- Functions returning a media type: their value is the body.
CREATE FUNCTION mh.line_bytes(id int) RETURNS mh."application/vnd.bin" LANGUAGE sql STABLE
  AS $$ SELECT convert_to(name, 'UTF8') || '\x00ff'::bytea FROM mh.lines WHERE lines.id = line_bytes.id $$;
CREATE FUNCTION mh.page() RETURNS mh."text/html" LANGUAGE sql STABLE
  AS $$ SELECT '<h1>hi</h1>' $$;
-- An xml document starting on a new line.
CREATE FUNCTION mh.welcome() RETURNS mh."text/xml" LANGUAGE sql STABLE
  AS $$ SELECT E'\n<html>\n  <h1>hi</h1>\n</html>'::mh."text/xml" $$;
-- An overload that returns rows: the handler of its namesake is not its own.
CREATE FUNCTION mh.page(n int) RETURNS SETOF mh.others LANGUAGE sql STABLE
  AS $$ SELECT * FROM mh.others WHERE id >= n $$;
CREATE FUNCTION mh.all_lines() RETURNS SETOF mh.lines LANGUAGE sql STABLE
  AS $$ SELECT * FROM mh.lines $$;

-- An aggregate over a table's rows: binary ids.
CREATE FUNCTION mh.bin_trans(state mh."application/vnd.bin", next mh.lines)
  RETURNS mh."application/vnd.bin" LANGUAGE sql IMMUTABLE AS $$ SELECT state || int4send(next.id) $$;
CREATE AGGREGATE mh.bin_agg(mh.lines) (
  initcond = '', stype = mh."application/vnd.bin", sfunc = mh.bin_trans);

-- A table's own text/csv, overriding the built-in one, with a header set by its final function.
CREATE FUNCTION mh.csv_trans(state text, next mh.lines) RETURNS mh."text/csv" LANGUAGE sql IMMUTABLE
  AS $$ SELECT state || next.id || ';' || next.name || E'\n' $$;
CREATE FUNCTION mh.csv_final(data mh."text/csv") RETURNS mh."text/csv" LANGUAGE sql AS $$
  SELECT set_config('response.headers', '[{"Content-Disposition": "attachment; filename=\"lines.csv\""}]', true);
  SELECT E'id;name\n' || data $$;
CREATE AGGREGATE mh.csv_agg(mh.lines) (
  initcond = '', stype = mh."text/csv", sfunc = mh.csv_trans, finalfunc = mh.csv_final);

-- The any handler on a view: it answers every request, whatever it accepts.
CREATE FUNCTION mh.xml_trans(state mh."*/*", next mh.lines_xml) RETURNS mh."*/*" LANGUAGE sql IMMUTABLE
  AS $$ SELECT state || convert_to('<line id="' || next.id || '"/>', 'UTF8') $$;
CREATE FUNCTION mh.xml_final(data mh."*/*") RETURNS mh."*/*" LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('response.headers', '[{"Content-Type": "text/xml"}]', true);
  RETURN data;
END $$;
CREATE AGGREGATE mh.xml_agg(mh.lines_xml) (
  initcond = '', stype = mh."*/*", sfunc = mh.xml_trans, finalfunc = mh.xml_final);

-- An aggregate over anyelement: text/plain for every relation.
CREATE FUNCTION mh.plain_trans(state mh."text/plain", next anyelement) RETURNS mh."text/plain"
  LANGUAGE sql IMMUTABLE AS $$ SELECT state || next::text || E'\n' $$;
CREATE AGGREGATE mh.plain_agg(anyelement) (
  initcond = '', stype = mh."text/plain", sfunc = mh.plain_trans);
"#;

async fn api() -> Api {
    static DONE: OnceCell<()> = OnceCell::const_new();
    let settings = madbase_rest::RestSettings {
        schemas: vec!["mh".into()],
        ..settings()
    };
    with_schema(&DONE, SCHEMA, settings).await
}

#[tokio::test]
async fn a_function_returning_a_media_type_answers_with_its_value() {
    let api = api().await;
    let bin = [("accept", "application/vnd.bin")];
    let r = api.get_h("/rpc/line_bytes?id=1", &bin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/vnd.bin"));
    assert_eq!(&r.raw[..], b"one\x00\xff");
    // By POST too.
    let r = api
        .req(
            "POST",
            "/rpc/line_bytes",
            &bin,
            r#"{"id": 2}"#,
            "anon",
            json!({"role": "anon"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(&r.raw[..], b"two\x00\xff");
    // No row: an empty body.
    let r = api.get_h("/rpc/line_bytes?id=9", &bin).await;
    assert_eq!((r.status, r.raw.len()), (200, 0), "{}", r.body);

    let r = api.get_h("/rpc/page", &[("accept", "text/html")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.body, "<h1>hi</h1>");
    // An xml value is sent as xml's output function writes it, without its first newline.
    let r = api.get_h("/rpc/welcome", &[("accept", "text/xml")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(r.body, "<html>\n  <h1>hi</h1>\n</html>");
    // A plan for it explains that statement, not the JSON one.
    let r = api
        .get_h(
            "/rpc/welcome",
            &[(
                "accept",
                "application/vnd.pgrst.plan+text; for=\"text/xml\"; options=verbose",
            )],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("xml_out"), "{}", r.body);
    assert!(!r.body.contains("json_agg"), "{}", r.body);
    // Other media types get the built-in answers, as in PostgREST.
    let r = api.get("/rpc/page").await;
    assert_eq!(r.json(), json!("<h1>hi</h1>"));
    // A media type no handler serves is 406.
    let r = api.get_h("/rpc/page", &bin).await;
    assert_eq!(r.status, 406, "{}", r.body);
    assert_eq!(r.json()["code"], "PGRST107");
    // So is the handler of an overload that returns something else, while JSON still works.
    let r = api.get_h("/rpc/page?n=1", &[("accept", "text/html")]).await;
    assert_eq!(r.status, 406, "{}", r.body);
    assert_eq!(r.json()["code"], "PGRST107");
    let r = api.get("/rpc/page?n=1").await;
    assert_eq!(r.json(), json!([{"id": 7, "label": "seven"}]), "{}", r.body);
}

#[tokio::test]
async fn an_aggregate_serves_its_table_and_functions_returning_it() {
    let api = api().await;
    let bin = [("accept", "application/vnd.bin")];
    let r = api.get_h("/lines?order=id", &bin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/vnd.bin"));
    assert_eq!(&r.raw[..], &[0, 0, 0, 1, 0, 0, 0, 2]);
    // Filters and order shape the rows it aggregates.
    let r = api.get_h("/lines?order=id.desc&id=gte.1", &bin).await;
    assert_eq!(&r.raw[..], &[0, 0, 0, 2, 0, 0, 0, 1]);
    // Its statement is the one a plan `for` it explains, as PostgREST.
    let r = api
        .get_h(
            "/lines",
            &[(
                "accept",
                "application/vnd.pgrst.plan+text; for=\"application/vnd.bin\"; options=verbose",
            )],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some(
            "application/vnd.pgrst.plan+text; for=\"application/vnd.bin\"; options=verbose; charset=utf-8"
        )
    );
    assert!(r.body.contains("bin_agg"), "{}", r.body);
    let r = api.get_h("/rpc/all_lines?id=eq.2", &bin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(&r.raw[..], &[0, 0, 0, 2]);
    // Its input is the whole row, so a select of its own turns it off; other tables lack it.
    let r = api.get_h("/lines?select=id", &bin).await;
    assert_eq!(r.status, 406, "{}", r.body);
    let r = api.get_h("/others", &bin).await;
    assert_eq!(r.status, 406, "{}", r.body);

    // text/csv of its own, with the header its final function sets; other tables keep the
    // built-in CSV.
    let csv = [("accept", "text/csv")];
    let r = api.get_h("/lines?order=id", &csv).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "id;name\n1;one\n2;two\n");
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"lines.csv\"")
    );
    let r = api.get_h("/others", &csv).await;
    assert_eq!(r.body, "id,label\n7,seven");

    // A write's representation goes through the handler too (rolled back).
    let r = api
        .send(
            "POST",
            "/lines",
            &[
                ("accept", "application/vnd.bin"),
                ("prefer", "return=representation, tx=rollback"),
            ],
            r#"[{"id": 3, "name": "three"}, {"id": 4, "name": "four"}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/vnd.bin"));
    assert_eq!(&r.raw[..], &[0, 0, 0, 3, 0, 0, 0, 4]);
}

#[tokio::test]
async fn the_any_handler_answers_everything_but_the_vendor_types() {
    let api = api().await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("text/csv"),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let r = api.get_h("/lines_xml?order=id", &headers).await;
        assert_eq!(r.status, 200, "{accept:?}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("text/xml"), "{accept:?}");
        assert_eq!(r.body, r#"<line id="1"/><line id="2"/>"#, "{accept:?}");
    }
    // PostgREST's own media types cannot be overridden.
    let r = api
        .get_h(
            "/lines_xml?id=eq.1",
            &[("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"id": 1, "name": "one"}));
}

#[tokio::test]
async fn an_anyelement_aggregate_serves_every_relation() {
    let api = api().await;
    let plain = [("accept", "text/plain")];
    let r = api.get_h("/lines?select=id&order=id", &plain).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, "(1)\n(2)\n");
    let r = api.get_h("/others", &plain).await;
    assert_eq!(r.body, "(7,seven)\n");
    // Without a handler the type stays unacceptable, and JSON is untouched.
    let r = api.get_h("/others", &[("accept", "text/html")]).await;
    assert_eq!(r.status, 406, "{}", r.body);
    let r = api.get("/others").await;
    assert_eq!(r.json(), json!([{"id": 7, "label": "seven"}]));
}
