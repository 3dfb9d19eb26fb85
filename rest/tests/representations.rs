//! Domain representations, as PostgREST has them: a domain's implicit function casts to `json`
//! and from `text` and `json` decide how its columns are shown in responses, read from filter
//! values and read from request bodies. Here a uuid domain travels as base64, and a text domain
//! is shown upper-cased with no parsers, so its filters and bodies stay plain.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::json;
use tokio::sync::OnceCell;

const SCHEMA: &str = r#"
CREATE SCHEMA reps;
GRANT USAGE ON SCHEMA reps TO anon, service_role;
CREATE DOMAIN reps.app_uuid AS uuid;
CREATE DOMAIN reps.shout AS text;

CREATE FUNCTION reps.json(reps.app_uuid) RETURNS json LANGUAGE sql IMMUTABLE
  AS $$ SELECT to_json(encode(uuid_send($1), 'base64')) $$;
CREATE CAST (reps.app_uuid AS json) WITH FUNCTION reps.json(reps.app_uuid) AS IMPLICIT;
-- The two parsers share a name, as in PostgREST's documentation: calls must pick by type.
CREATE FUNCTION reps.app_uuid(text) RETURNS reps.app_uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT encode(decode($1, 'base64'), 'hex')::uuid $$;
CREATE CAST (text AS reps.app_uuid) WITH FUNCTION reps.app_uuid(text) AS IMPLICIT;
CREATE FUNCTION reps.app_uuid(json) RETURNS reps.app_uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT reps.app_uuid($1 #>> '{}') $$;
CREATE CAST (json AS reps.app_uuid) WITH FUNCTION reps.app_uuid(json) AS IMPLICIT;

CREATE FUNCTION reps.json(reps.shout) RETURNS json LANGUAGE sql IMMUTABLE
  AS $$ SELECT to_json(upper($1)) $$;
CREATE CAST (reps.shout AS json) WITH FUNCTION reps.json(reps.shout) AS IMPLICIT;
-- Explicit casts are not representations.
CREATE FUNCTION reps.shout(text) RETURNS reps.shout LANGUAGE sql IMMUTABLE
  AS $$ SELECT reverse($1) $$;
CREATE CAST (text AS reps.shout) WITH FUNCTION reps.shout(text);

-- A body parser that would misread a JSON null were it given one.
CREATE DOMAIN reps.tag AS text;
CREATE FUNCTION reps.tag(json) RETURNS reps.tag LANGUAGE sql IMMUTABLE
  AS $$ SELECT upper(trim(both '"' from $1::text)) $$;
CREATE CAST (json AS reps.tag) WITH FUNCTION reps.tag(json) AS IMPLICIT;
CREATE TABLE reps.labels (id int PRIMARY KEY, tag reps.tag);
GRANT SELECT, INSERT ON reps.labels TO service_role;

-- A text domain read from the query string through a normalizing parser.
CREATE DOMAIN reps.handle AS text;
CREATE FUNCTION reps.handle(text) RETURNS reps.handle LANGUAGE sql IMMUTABLE
  AS $$ SELECT regexp_replace(lower($1), '[^a-z]', '', 'g') $$;
CREATE CAST (text AS reps.handle) WITH FUNCTION reps.handle(text) AS IMPLICIT;
CREATE TABLE reps.handles (id int PRIMARY KEY, handle reps.handle);
GRANT SELECT ON reps.handles TO anon;
INSERT INTO reps.handles VALUES (1, 'john'), (2, 'jane');

CREATE TABLE reps.profiles (
  id reps.app_uuid PRIMARY KEY,
  name text NOT NULL,
  motto reps.shout
);
CREATE TABLE reps.badges (
  id int PRIMARY KEY,
  profile_id reps.app_uuid NOT NULL REFERENCES reps.profiles (id),
  label text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON reps.profiles, reps.badges TO anon, service_role;
INSERT INTO reps.profiles VALUES
  ('846c4ffd-92ce-4de7-8d11-8e29929f4ec4', 'John', 'hello'),
  ('cc7ec76c-5254-4dfc-bf19-9a70ba2ae9b9', 'Jane', NULL);
INSERT INTO reps.badges VALUES
  (1, '846c4ffd-92ce-4de7-8d11-8e29929f4ec4', 'gold'),
  (2, 'cc7ec76c-5254-4dfc-bf19-9a70ba2ae9b9', 'silver');
"#;

/// John's and Jane's ids in base64, as the API shows them.
const JOHN: &str = "hGxP/ZLOTeeNEY4pkp9OxA==";
const JANE: &str = "zH7HbFJUTfy/GZpwuirpuQ==";

async fn api() -> Api {
    static DONE: OnceCell<()> = OnceCell::const_new();
    let settings = madbase_rest::RestSettings {
        schemas: vec!["reps".into()],
        ..settings()
    };
    with_schema(&DONE, SCHEMA, settings).await
}

/// `s` percent-encoded for a query string.
fn enc(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test]
async fn responses_show_columns_through_their_representation() {
    let api = api().await;
    let r = api.get("/profiles?name=in.(John,Jane)&order=name").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            {"id": JANE, "name": "Jane", "motto": null},
            {"id": JOHN, "name": "John", "motto": "HELLO"},
        ])
    );
    // Named columns, aliases, and embeds both ways keep the representation.
    let r = api
        .get("/badges?select=label,pid:profile_id,profiles(id,motto)&id=lt.10&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            {"label": "gold", "pid": JOHN, "profiles": {"id": JOHN, "motto": "HELLO"}},
            {"label": "silver", "pid": JANE, "profiles": {"id": JANE, "motto": null}},
        ])
    );
    let r = api
        .get("/profiles?select=name,badges(*)&name=eq.John&badges.id=lt.10")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "John", "badges": [{"id": 1, "profile_id": JOHN, "label": "gold"}]}])
    );
    // Aggregates group by the represented value.
    let r = api
        .get("/badges?select=profile_id,count()&id=lt.10&order=profile_id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{}", r.body);
    // CSV shows the representation too.
    let r = api
        .get_h(
            "/profiles?select=id&name=eq.John",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(r.body, format!("id\n\"\"\"{JOHN}\"\"\""));
}

#[tokio::test]
async fn filter_values_are_read_through_the_text_representation() {
    let api = api().await;
    let both = json!([{"name": "Jane"}, {"name": "John"}]);
    for (query, want) in [
        ("id=eq.{john}", json!([{"name": "John"}])),
        (
            "id=not.eq.{john}&name=in.(John,Jane)",
            json!([{"name": "Jane"}]),
        ),
        ("id=in.({john},{jane})&order=name", both.clone()),
        ("id=eq(any).{{john},{jane}}&order=name", both),
        (
            "or=(id.eq.{jane},name.eq.Nobody)",
            json!([{"name": "Jane"}]),
        ),
        // On an embedded resource.
        (
            "select=name,badges!inner(label)&badges.profile_id=eq.{jane}&badges.id=lt.10",
            json!([{"name": "Jane", "badges": [{"label": "silver"}]}]),
        ),
    ] {
        let query = query
            .replace("{john}", &enc(JOHN))
            .replace("{jane}", &enc(JANE));
        let select = if query.starts_with("select=") {
            ""
        } else {
            "select=name&"
        };
        let r = api.get(&format!("/profiles?{select}{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        assert_eq!(r.json(), want, "{query}");
    }
    // A domain without a text representation is filtered by its own value: the explicit cast
    // (`reverse`) is not used.
    let r = api.get("/profiles?select=name&motto=eq.hello").await;
    assert_eq!(r.json(), json!([{"name": "John"}]));
    // Patterns and isdistinct take the text as it is, as PostgREST (an untyped literal);
    // the other operators read it through the parser.
    for (query, want) in [
        ("handle=eq.@John", json!([1])),
        ("handle=like.jo*", json!([1])),
        ("handle=ilike.*A*", json!([2])),
        ("handle=like(any).{jo*,x*}", json!([1])),
        ("handle=isdistinct.@john", json!([1, 2])),
    ] {
        let r = api
            .get(&format!("/handles?select=id&{query}&order=id"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        let ids: Vec<_> = r
            .json()
            .as_array()
            .expect("rows")
            .iter()
            .map(|v| v["id"].clone())
            .collect();
        assert_eq!(json!(ids), want, "{query}");
    }
    // The parser's own error is the client's: base64 that is not a uuid.
    let r = api.get("/profiles?select=name&id=eq.AAAA").await;
    r.expect_error(400, "22P02");
}

#[tokio::test]
async fn bodies_are_read_through_the_json_representation() {
    let api = api().await;
    let new_id = "AAECAwQFBgcICQoLDA0ODw==";
    let r = api
        .send(
            "POST",
            "/profiles",
            &[("prefer", "return=representation")],
            &json!({"id": new_id, "name": "Ada", "motto": "hi"}).to_string(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": new_id, "name": "Ada", "motto": "HI"}])
    );
    // Stored as the uuid itself.
    let row = postgres::admin()
        .await
        .query_one(
            "SELECT id::text, motto::text FROM reps.profiles WHERE name = 'Ada'",
            &[],
        )
        .await
        .expect("row");
    assert_eq!(
        row.get::<_, String>(0),
        "00010203-0405-0607-0809-0a0b0c0d0e0f"
    );
    assert_eq!(row.get::<_, String>(1), "hi");

    // A bulk insert where one object lacks the column gets NULL, parsed by the function.
    let r = api
        .send(
            "POST",
            "/badges",
            &[("prefer", "return=representation")],
            &json!([
                {"id": 10, "profile_id": new_id, "label": "new"},
                {"id": 11, "profile_id": JOHN, "label": "again"},
            ])
            .to_string(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            {"id": 10, "profile_id": new_id, "label": "new"},
            {"id": 11, "profile_id": JOHN, "label": "again"},
        ])
    );

    // PATCH reads the body's value and the filter's the same way.
    let r = api
        .send(
            "PATCH",
            "/badges?id=eq.11",
            &[("prefer", "return=representation")],
            &json!({"profile_id": JANE}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 11, "profile_id": JANE, "label": "again"}])
    );

    // Upsert on the represented key.
    let r = api
        .send(
            "POST",
            "/profiles",
            &[(
                "prefer",
                "return=representation,resolution=merge-duplicates",
            )],
            &json!({"id": new_id, "name": "Ada L."}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": new_id, "name": "Ada L.", "motto": "HI"}])
    );

    let r = api
        .send(
            "DELETE",
            &format!("/badges?profile_id=eq.{}&id=gte.10", enc(new_id)),
            &[("prefer", "return=representation")],
            "",
        )
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 10, "profile_id": new_id, "label": "new"}])
    );

    // A value the parser refuses is a 4xx and writes nothing.
    let r = api
        .send(
            "POST",
            "/profiles",
            &[],
            &json!({"id": "AAAA", "name": "Bad"}).to_string(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let bad = postgres::admin()
        .await
        .query_one("SELECT count(*) FROM reps.profiles WHERE name = 'Bad'", &[])
        .await
        .expect("count");
    assert_eq!(bad.get::<_, i64>(0), 0);
}

/// PUT matches the body's key, read through the JSON parser, with the URL's, read through the
/// text parser: the same base64 in both is the same row.
#[tokio::test]
async fn put_matches_a_represented_key_in_the_body_and_the_url() {
    let api = api().await;
    let id = "EBESExQVFhcYGRobHB0eHw==";
    let url = format!("/profiles?id=eq.{}", enc(id));
    for (name, status) in [("Grace", 201), ("Grace H.", 200)] {
        let r = api
            .send(
                "PUT",
                &url,
                &[("prefer", "return=representation")],
                &json!({"id": id, "name": name, "motto": "ok"}).to_string(),
            )
            .await;
        assert_eq!(r.status, status, "{name}: {}", r.body);
        assert_eq!(r.json(), json!([{"id": id, "name": name, "motto": "OK"}]));
    }
    let row = postgres::admin()
        .await
        .query_one(
            "SELECT id::text, name FROM reps.profiles WHERE name LIKE 'Grace%'",
            &[],
        )
        .await
        .expect("one row");
    assert_eq!(
        row.get::<_, String>(0),
        "10111213-1415-1617-1819-1a1b1c1d1e1f"
    );
    assert_eq!(row.get::<_, String>(1), "Grace H.");

    // Another key in the body is PostgREST's mismatch, and writes nothing.
    let r = api
        .send(
            "PUT",
            &url,
            &[],
            &json!({"id": JANE, "name": "Nobody"}).to_string(),
        )
        .await;
    r.expect_error(400, "PGRST115");
    let n = postgres::admin()
        .await
        .query_one(
            "SELECT count(*) FROM reps.profiles WHERE name = 'Nobody'",
            &[],
        )
        .await
        .expect("count");
    assert_eq!(n.get::<_, i64>(0), 0);
}

#[tokio::test]
async fn a_json_null_reaches_the_body_parser_as_sql_null() {
    let api = api().await;
    let r = api
        .send(
            "POST",
            "/labels?columns=id,tag",
            &[("prefer", "return=representation")],
            r#"[{"id": 1, "tag": null}, {"id": 2, "tag": "x"}, {"id": 3}]"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "tag": null}, {"id": 2, "tag": "X"}, {"id": 3, "tag": null}])
    );
}
