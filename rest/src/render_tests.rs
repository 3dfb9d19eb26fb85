use super::*;
use crate::plan::tests::{plan, sample_cache};

fn read(name: &str, query: &str) -> Sql {
    let c = sample_cache();
    let node = plan(&c, name, query).expect("plans");
    render_read(&node, &Media::Json { strip_nulls: false }, false, None)
}

#[test]
fn simple_read_binds_every_value() {
    let sql = read(
        "users",
        "select=id,name&id=eq.1&name=like.A*&order=name.desc.nullslast&limit=10&offset=5",
    );
    insta::assert_snapshot!(sql.text, @r#"WITH pgrst_source AS (SELECT "users"."id" AS "id", "users"."name" AS "name" FROM "public"."users" AS "users" WHERE ("users"."id" = $1) AND ("users"."name" LIKE $2) ORDER BY "users"."name" DESC NULLS LAST LIMIT $3 OFFSET $4) SELECT NULL::int8 AS total_result_set, count(*)::int8 AS page_total, coalesce(json_agg(_postgrest_t), '[]')::text AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t"#);
    assert_eq!(
        sql.params,
        vec![
            Some("1".into()),
            Some("A%".into()),
            Some("10".into()),
            Some("5".into())
        ]
    );
}

#[test]
fn star_expands_to_known_columns() {
    let sql = read("teams", "");
    assert!(
        sql.text
            .starts_with(r#"WITH pgrst_source AS (SELECT "teams"."id", "teams"."name" FROM"#)
    );
}

#[test]
fn embeds_render_as_lateral_joins() {
    let sql = read(
        "projects",
        "select=id,owner:users(name),tasks!inner(title)&tasks.order=id",
    );
    insta::assert_snapshot!(sql.text, @r#"WITH pgrst_source AS (SELECT "projects"."id" AS "id", "users_1_j"."pgrst_body" AS "owner", COALESCE("tasks_2_j"."pgrst_body", '[]') AS "tasks" FROM "public"."projects" AS "projects" LEFT JOIN LATERAL (SELECT row_to_json("pgrst_e") AS "pgrst_body" FROM (SELECT "users_1"."name" AS "name" FROM "public"."users" AS "users_1" WHERE "users_1"."id" = "projects"."owner_id") AS "pgrst_e") AS "users_1_j" ON TRUE INNER JOIN LATERAL (SELECT json_agg("pgrst_e") AS "pgrst_body" FROM (SELECT "tasks_2"."title" AS "title" FROM "public"."tasks" AS "tasks_2" WHERE "tasks_2"."project_id" = "projects"."id" ORDER BY "tasks_2"."id") AS "pgrst_e") AS "tasks_2_j" ON "tasks_2_j"."pgrst_body" IS NOT NULL) SELECT NULL::int8 AS total_result_set, count(*)::int8 AS page_total, coalesce(json_agg(_postgrest_t), '[]')::text AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t"#);
}

#[test]
fn many_to_many_goes_through_the_junction() {
    let sql = read("users", "select=teams(name)");
    assert!(sql.text.contains(r#"FROM "public"."teams" AS "teams_1" INNER JOIN "public"."members" AS "teams_1_jt" ON "teams_1_jt"."team_id" = "teams_1"."id" WHERE "teams_1_jt"."user_id" = "users"."id""#), "{}", sql.text);
}

#[test]
fn operators_render_as_sql() {
    let cases = [
        ("id=in.(1,2)", r#""users"."id" = ANY($1)"#, "{\"1\",\"2\"}"),
        ("id=not.eq.1", r#"NOT ("users"."id" = $1)"#, "1"),
        ("id=eq(any).{1,2}", r#""users"."id" = ANY($1)"#, "{1,2}"),
        (
            "name=ilike(all).{a*,*b}",
            r#""users"."name" ILIKE ALL($1)"#,
            "{a%,%b}",
        ),
        ("data->a->>b=eq.x", r#""users"."data"->'a'->>'b' = $1"#, "x"),
        (
            "name=isdistinct.x",
            r#""users"."name" IS DISTINCT FROM $1"#,
            "x",
        ),
        (
            "name=fts(english).cat",
            r#"to_tsvector($1::regconfig, "users"."name") @@ to_tsquery($2::regconfig, $3)"#,
            "english",
        ),
    ];
    for (q, expected, first) in cases {
        let sql = read("users", &format!("select=id&{q}"));
        assert!(sql.text.contains(expected), "{q}: {}", sql.text);
        assert_eq!(sql.params[0].as_deref(), Some(first), "{q}");
    }
    let sql = read("tasks", "select=id&tsv=wfts.a b");
    assert!(
        sql.text
            .contains(r#""tasks"."tsv" @@ websearch_to_tsquery($1)"#),
        "{}",
        sql.text
    );
    let sql = read(
        "users",
        "select=id&name=is.null&or=(id.eq.1,and(id.gt.2,name.not.eq.x))",
    );
    assert!(sql.text.contains(r#"("users"."name" IS NULL) AND (("users"."id" = $1) OR (("users"."id" > $2) AND NOT ("users"."name" = $3)))"#), "{}", sql.text);
}

#[test]
fn injection_in_values_and_json_keys_stays_inert() {
    let sql = read("users", "select=id&name=eq.x'; drop table users; --");
    assert!(!sql.text.contains("drop table"));
    assert_eq!(sql.params[0].as_deref(), Some("x'; drop table users; --"));
    let sql = read("users", "select=data->>\"a'b\\\\c\"&order=data->>\"x'y\"");
    assert!(
        sql.text.contains(r#""users"."data"->>E'a''b\\c'"#),
        "{}",
        sql.text
    );
    assert!(sql.text.contains(r#"->>'x''y'"#), "{}", sql.text);
    let sql = read("users", "select=\"a\\\"b\":id");
    assert!(sql.text.contains(r#"AS "a""b""#), "{}", sql.text);
}

#[test]
fn exact_count_and_csv() {
    let c = sample_cache();
    let node = plan(&c, "users", "select=id&id=gt.1").expect("plans");
    let sql = render_read(&node, &Media::Csv, true, None);
    assert!(sql.text.contains(r#"(SELECT count(*) FROM (SELECT 1 FROM "public"."users" AS "users" WHERE ("users"."id" > $2)) AS pgrst_c)::int8"#), "{}", sql.text);
    assert!(sql.text.contains("string_agg"));
}

#[test]
fn aggregates_group_by_plain_columns() {
    let sql = read(
        "projects",
        "select=owner_id,id.count(),total:id.sum()::text",
    );
    assert!(sql.text.contains(r#"SELECT "projects"."owner_id" AS "owner_id", count("projects"."id") AS "count", CAST(sum("projects"."id") AS text) AS "total" FROM "public"."projects" AS "projects" GROUP BY "projects"."owner_id""#), "{}", sql.text);
}

#[test]
fn computed_fields_and_relationships_call_their_function_with_the_row() {
    let sql = read(
        "users",
        "select=id,display,d:display->>x&display=eq.a&order=display.desc",
    );
    assert!(
        sql.text
            .contains(r#""public"."display"("users") AS "display""#),
        "{}",
        sql.text
    );
    assert!(
        sql.text
            .contains(r#"to_jsonb("public"."display"("users"))->>'x' AS "d""#),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(
            r#"WHERE ("public"."display"("users") = $1) ORDER BY "public"."display"("users") DESC"#
        ),
        "{}",
        sql.text
    );
    let sql = read(
        "projects",
        "select=id,latest_task(title)&order=latest_task(title)",
    );
    assert!(
        sql.text
            .contains(r#"FROM "public"."latest_task"("projects") AS "tasks_1""#),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(r#"ORDER BY (SELECT "projects_o0"."title" FROM "public"."latest_task"("projects") AS "projects_o0" LIMIT 1)"#),
        "{}",
        sql.text
    );
}

#[test]
fn a_row_read_from_a_cte_is_rebuilt_for_computed_fields() {
    let c = sample_cache();
    let mut node = plan(&c, "users", "select=display").expect("plans");
    node.from = Ident::new("pgrst_call");
    assert_eq!(
        crate::render::row_expr(&node, "users"),
        r#"ROW("users"."id", "users"."name", "users"."manager_id", "users"."data")::"public"."users""#
    );
}
